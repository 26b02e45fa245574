"""Assembled operators: rigid modes, mass conservation, lumping, the patch test,
face matrices, body forces and the volume of curved (isoparametric) cells."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

from fem.assembly import (assemble, body_force, element_dofs, face_matrix, lumped_mass,
                          mass_matrices, stiffness_matrices)
from fem.boundary import boundary_faces
from fem.box_mesh import add_midedge_nodes, box_mesh
from fem.geometry import map_cells
from fem.quadrature import tetrahedron_rule

RNG = np.random.default_rng(7)
BOX = ((0.0, 2.0), (-1.0, 1.0), (-1.5, 0.0))


def on_box_surface(points, bounds=BOX):
    lo, hi = np.array(bounds).T
    return (np.isclose(points, lo) | np.isclose(points, hi)).any(axis=1)


def distorted_mesh(order, divisions=(3, 3, 3), jitter=0.2, curve=0.08):
    """Box mesh with interior vertices moved randomly; for order 2 the interior
    mid-edge nodes move too, so those cells are curved."""
    m = box_mesh(BOX, divisions, 1)
    h = min((b - a) / n for (a, b), n in zip(BOX, divisions))
    pts = m.points.copy()
    inner = ~on_box_surface(pts)
    pts[inner] += jitter * h * RNG.uniform(-1, 1, (inner.sum(), 3))
    cells = m.cells
    if order == 2:
        pts, cells = add_midedge_nodes(pts, cells)
        inner = ~on_box_surface(pts)
        inner[:m.n_nodes] = False
        pts[inner] += curve * h * RNG.uniform(-1, 1, (inner.sum(), 3))
    return pts, cells


def exact_volume(pts, cells):
    rule = tetrahedron_rule(6)  # det J of a quadratic map is a degree-6 polynomial
    return np.sum(map_cells(pts, cells, rule.points, gradients=False).det_j * rule.weights)


@pytest.mark.parametrize("order", [1, 2])
def test_assembled_free_mesh_has_exactly_six_rigid_modes(order):
    pts, cells = distorted_mesh(order, (2, 2, 1))
    K = assemble(cells, stiffness_matrices(pts, cells, 2.0, 1.0), len(pts)).toarray()
    np.testing.assert_allclose(K, K.T, atol=1e-13 * np.abs(K).max())
    w = np.linalg.eigvalsh(K)
    assert w[0] > -1e-12 * w[-1]
    assert np.sum(w < 1e-10 * w[-1]) == 6


def test_assemble_equals_dense_scatter_add():
    pts, cells = distorted_mesh(2, (2, 1, 1))
    Ke = stiffness_matrices(pts, cells, 1.0, 1.0)
    dense = np.zeros((3 * len(pts),) * 2)
    dofs = element_dofs(cells)
    np.add.at(dense, (dofs[:, :, None], dofs[:, None, :]), Ke)
    np.testing.assert_allclose(assemble(cells, Ke, len(pts)).toarray(), dense, atol=1e-14)


@pytest.mark.parametrize("order", [1, 2])
def test_mass_sums_to_rho_v_consistent_and_lumped(order):
    pts, cells = distorted_mesh(order, curve=0.0)    # affine cells: the mass rules are exact
    rho = RNG.uniform(1500, 2500, len(cells))
    V = np.abs(np.linalg.det(pts[cells[:, 1:4]] - pts[cells[:, :1]])) / 6
    M = assemble(cells, mass_matrices(pts, cells, rho), len(pts))
    ml = lumped_mass(pts, cells, rho)
    for i in range(3):
        assert M[i::3, i::3].sum() == pytest.approx(np.sum(rho * V), rel=1e-12)
        assert ml[i::3].sum() == pytest.approx(np.sum(rho * V), rel=1e-12)
    assert np.all(ml > 0), "lumped mass must be positive (HRZ for order 2)"
    # the consistent mass is symmetric positive definite
    Md = M.toarray()
    np.testing.assert_allclose(Md, Md.T, atol=1e-13 * np.abs(Md).max())
    assert np.linalg.eigvalsh(Md)[0] > 0


def test_hrz_lumping_matches_known_ten_node_ratio():
    """Affine 10-node tetrahedron: the consistent diagonal is V/420 (6 vertex, 32 edge),
    so HRZ gives vertex and edge masses 6 V/216 and 32 V/216."""
    m = box_mesh(((0, 1),) * 3, (1, 1, 1), 2)
    cells = m.cells[:1]
    V = 1 / 6
    ml = lumped_mass(m.points, cells, 1.0)[0::3][cells[0]]
    np.testing.assert_allclose(ml[:4], 6 * V / 216, rtol=1e-12)
    np.testing.assert_allclose(ml[4:], 32 * V / 216, rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_patch_test_reproduces_linear_field(order):
    """Linear displacement on the boundary nodes, no load: the interior solution is
    the same linear field to round-off, on distorted (and, for order 2, curved) cells."""
    pts, cells = distorted_mesh(order)
    # one material: a linear field is in equilibrium only if the stress is uniform
    K = assemble(cells, stiffness_matrices(pts, cells, 2.1e9, 0.8e9), len(pts))
    A, b = RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    u_exact = (pts @ A.T + b).ravel()
    fixed = np.zeros(len(pts), dtype=bool)
    fixed[np.unique(boundary_faces(pts, cells).faces)] = True
    assert fixed.sum() < len(pts), "the patch must have interior nodes"
    fixed_dofs = np.repeat(fixed, 3)
    Kff = K[~fixed_dofs][:, ~fixed_dofs].tocsc()
    u = u_exact.copy()
    u[~fixed_dofs] = spla.spsolve(Kff, -K[~fixed_dofs][:, fixed_dofs] @ u_exact[fixed_dofs])
    assert np.abs(u - u_exact).max() < 1e-10 * np.abs(u_exact).max()
    # and the linear field is in equilibrium: K u_exact vanishes at interior dofs
    r = K @ u_exact
    assert np.abs(r[~fixed_dofs]).max() < 1e-12 * np.abs(K).max() * np.abs(u_exact).max()


def test_rayleigh_damping_from_the_same_element_arrays():
    pts, cells = distorted_mesh(2, (2, 2, 1))
    alpha, beta = RNG.uniform(0.1, 1, len(cells)), RNG.uniform(1e-4, 1e-3, len(cells))
    Me, Ke = mass_matrices(pts, cells, 2000.0), stiffness_matrices(pts, cells, 1e9, 1e9)
    C = assemble(cells, alpha[:, None, None] * Me + beta[:, None, None] * Ke, len(pts))
    u = RNG.standard_normal(3 * len(pts))
    per_cell = np.einsum("eij,ej->ei", alpha[:, None, None] * Me + beta[:, None, None] * Ke,
                         u[element_dofs(cells)])
    expected = np.bincount(element_dofs(cells).ravel(), per_cell.ravel(), minlength=len(u))
    np.testing.assert_allclose(C @ u, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("order", [1, 2])
def test_body_force_integrates_polynomial_densities(order):
    pts, cells = distorted_mesh(order, curve=0.0)
    # a linear density: sum of the loads is its integral; its moment about 0 too
    f = body_force(pts, cells, lambda x: np.stack([np.ones(x.shape[:-1]), x[..., 0], 3 * x[..., 2]], -1))
    V = np.abs(np.linalg.det(pts[cells[:, 1:4]] - pts[cells[:, :1]])).sum() / 6
    assert f[0::3].sum() == pytest.approx(V, rel=1e-12)
    centroid = np.array([1.0, 0.0, -0.75])          # the box's centroid (volume unchanged by the jitter)
    assert f[1::3].sum() == pytest.approx(V * centroid[0], rel=1e-12)
    assert f[2::3].sum() == pytest.approx(3 * V * centroid[2], rel=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_face_matrix_integrates_constants_to_c_times_area(order):
    m = box_mesh(BOX, (3, 2, 2), order)
    bf = boundary_faces(m.points, m.cells)
    c = RNG.uniform(1, 5, (len(bf.faces), 3))
    C = face_matrix(m.points, bf.faces, c)
    ones = np.ones(3 * m.n_nodes)
    area_each = face_matrix(m.points, bf.faces, np.ones(3))
    areas = np.asarray(area_each[0::3, 0::3].sum(axis=1)).ravel()
    assert areas.sum() == pytest.approx(2 * (2 * 2 + 2 * 1.5 + 2 * 1.5), rel=1e-13)
    # per component: 1^T C_i 1 = sum_f c_fi A_f, with A_f from the vertex triangle
    tri = m.points[bf.faces[:, :3]]
    A_f = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    for i in range(3):
        assert (C @ ones)[i::3].sum() == pytest.approx(np.sum(c[:, i] * A_f), rel=1e-13)
    assert abs(C[0::3, 1::3]).max() == 0.0
    np.testing.assert_allclose((C - C.T).toarray(), 0.0, atol=1e-15)


def curved_top_box(order, n):
    """Unit square x [0, 1] box with its top mapped to z = 1 + 0.2 sin(pi x) sin(pi y)."""
    m = box_mesh(((0, 1), (0, 1), (0, 1)), (n, n, n), order)
    x, y, z = m.points.T
    pts = np.column_stack([x, y, z * (1 + 0.2 * np.sin(np.pi * x) * np.sin(np.pi * y))])
    return pts, m.cells


def test_curved_order2_cells_give_the_volume_under_a_curved_surface():
    exact = 1 + 0.2 * (2 / np.pi) ** 2
    err = {o: [abs(exact_volume(*curved_top_box(o, n)) - exact) / exact for n in (2, 4, 8)] for o in (1, 2)}
    rate = {o: np.log2(np.array(e[:-1]) / np.array(e[1:])) for o, e in err.items()}
    assert np.all(rate[1] > 1.75), rate        # straight-sided: O(h^2)
    assert np.all(rate[2] > 3.75), rate        # isoparametric quadratic: O(h^4) for the volume
    assert err[2][-1] < 1e-5 and err[2][-1] < 1e-2 * err[1][-1], err
    # the consistent mass carries the same curved volume
    pts, cells = curved_top_box(2, 4)
    M = assemble(cells, mass_matrices(pts, cells, 1.0), len(pts))
    assert M[0::3, 0::3].sum() == pytest.approx(exact_volume(pts, cells), rel=1e-6)
