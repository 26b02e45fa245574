"""Reference element: quadrature exactness, shape functions, isoparametric geometry,
single-element stiffness and mass."""
from math import factorial

import numpy as np
import pytest

from fem.assembly import mass_matrices, stiffness_matrices
from fem.geometry import InvertedElementError, locate_points, map_cells, reference_coordinates
from fem.quadrature import stroud_tetrahedron, stroud_triangle, tetrahedron_rule, triangle_rule
from fem.shape import tet_reference_nodes, tet_shape, tri_reference_nodes, tri_shape

RNG = np.random.default_rng(20240611)


def tet_monomial(i, j, k):
    """Exact integral of x^i y^j z^k over the reference tetrahedron."""
    return factorial(i) * factorial(j) * factorial(k) / factorial(i + j + k + 3)


def tri_monomial(i, j):
    return factorial(i) * factorial(j) / factorial(i + j + 2)


@pytest.mark.parametrize("degree", range(0, 10))
def test_tetrahedron_rule_is_exact_on_all_monomials(degree):
    for rule in (tetrahedron_rule(degree), stroud_tetrahedron(degree)):
        assert rule.degree >= degree
        assert np.all(rule.weights > 0)
        assert abs(rule.weights.sum() - 1 / 6) < 1e-15
        x, y, z = rule.points.T
        for i in range(degree + 1):
            for j in range(degree + 1 - i):
                for k in range(degree + 1 - i - j):
                    q = np.sum(rule.weights * x**i * y**j * z**k)
                    assert q == pytest.approx(tet_monomial(i, j, k), rel=1e-13)


@pytest.mark.parametrize("degree", range(0, 10))
def test_triangle_rule_is_exact_on_all_monomials(degree):
    for rule in (triangle_rule(degree), stroud_triangle(degree)):
        assert rule.degree >= degree
        assert np.all(rule.weights > 0)
        assert abs(rule.weights.sum() - 1 / 2) < 1e-15
        x, y = rule.points.T
        for i in range(degree + 1):
            for j in range(degree + 1 - i):
                assert np.sum(rule.weights * x**i * y**j) == pytest.approx(tri_monomial(i, j), rel=1e-13)


def test_rule_is_not_exact_beyond_its_degree():
    """Guards the exactness test itself: the 4-point rule misses a cubic."""
    rule = tetrahedron_rule(2)
    assert abs(np.sum(rule.weights * rule.points[:, 0] ** 3) - tet_monomial(3, 0, 0)) > 1e-4


SHAPES = [(tet_shape, tet_reference_nodes, 3, o) for o in (1, 2)] + \
         [(tri_shape, tri_reference_nodes, 2, o) for o in (1, 2)]


@pytest.mark.parametrize("shape, nodes, dim, order", SHAPES)
def test_shape_functions_partition_unity_and_kronecker(shape, nodes, dim, order):
    xi = RNG.dirichlet(np.ones(dim + 1), size=50)[:, 1:]
    N, dN = shape(order, xi)
    np.testing.assert_allclose(N.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(dN.sum(axis=1), 0.0, atol=1e-13)
    Nn, _ = shape(order, nodes(order))
    np.testing.assert_allclose(Nn, np.eye(len(Nn)), atol=1e-14)


@pytest.mark.parametrize("shape, nodes, dim, order", SHAPES)
def test_shape_gradients_match_finite_differences(shape, nodes, dim, order):
    xi = RNG.dirichlet(np.ones(dim + 1), size=20)[:, 1:]
    _, dN = shape(order, xi)
    h = 1e-6
    for d in range(dim):
        e = np.zeros(dim)
        e[d] = h
        fd = (shape(order, xi + e)[0] - shape(order, xi - e)[0]) / (2 * h)
        np.testing.assert_allclose(dN[:, :, d], fd, atol=1e-8)


@pytest.mark.parametrize("shape, nodes, dim, order", SHAPES)
def test_shape_functions_reproduce_linear_fields(shape, nodes, dim, order):
    """sum_a N_a(xi) X_a = xi: the isoparametric map of the reference cell is the identity."""
    xi = RNG.dirichlet(np.ones(dim + 1), size=30)[:, 1:]
    N, dN = shape(order, xi)
    np.testing.assert_allclose(N @ nodes(order), xi, atol=1e-14)
    np.testing.assert_allclose(np.einsum("qad,ae->qed", dN, nodes(order)),
                               np.broadcast_to(np.eye(dim), (len(xi), dim, dim)), atol=1e-13)


def random_tet(order, curved=0.0):
    """A well-shaped random tetrahedron; mid-edge nodes displaced by `curved` (relative)."""
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]]) + 0.2 * RNG.standard_normal((4, 3))
    if np.linalg.det(v[1:] - v[0]) < 0:
        v = v[[0, 2, 1, 3]]
    pts = tet_reference_nodes(order) @ (v[1:] - v[0]) + v[0]
    if order == 2:
        pts[4:] += curved * RNG.standard_normal((6, 3))
    return pts, np.arange(len(pts))[None, :]


@pytest.mark.parametrize("order", [1, 2])
def test_affine_jacobian_is_six_times_volume(order):
    pts, cells = random_tet(order)
    g = map_cells(pts, cells, tetrahedron_rule(4).points)
    vol = abs(np.linalg.det(pts[1:4] - pts[0])) / 6
    np.testing.assert_allclose(g.det_j, 6 * vol, rtol=1e-12)
    np.testing.assert_allclose(np.sum(g.det_j * tetrahedron_rule(4).weights), vol, rtol=1e-12)


def test_inverted_element_is_named():
    pts, cells = random_tet(1)
    good = np.vstack([cells, cells])
    bad = good.copy()
    bad[1] = bad[1, [0, 2, 1, 3]]
    map_cells(pts, good, tetrahedron_rule(1).points)
    with pytest.raises(InvertedElementError, match="cell 1 "):
        map_cells(pts, bad, tetrahedron_rule(1).points)


@pytest.mark.parametrize("order, curved", [(1, 0.0), (2, 0.0), (2, 0.05)])
def test_inverse_map_recovers_reference_coordinates(order, curved):
    pts, cells = random_tet(order, curved)
    xi = RNG.dirichlet(np.ones(4), size=40)[:, 1:]
    x = map_cells(pts, cells, xi).x[0]
    back = reference_coordinates(pts, np.repeat(cells, len(xi), axis=0), x)
    np.testing.assert_allclose(back, xi, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_locate_points_in_a_box_mesh(order):
    from fem.box_mesh import box_mesh
    m = box_mesh(((0, 2), (0, 1), (-1, 0)), (4, 3, 3), order)
    x = RNG.uniform([0, 0, -1], [2, 1, 0], size=(200, 3))
    cell, xi = locate_points(m.points, m.cells, x)
    N, _ = tet_shape(order, xi)
    np.testing.assert_allclose(np.einsum("pa,pai->pi", N, m.points[m.cells[cell]]), x, atol=1e-12)
    assert np.all(xi >= -1e-8) and np.all(xi.sum(axis=1) <= 1 + 1e-8)
    with pytest.raises(ValueError, match="lie in no cell"):
        locate_points(m.points, m.cells, np.array([[3.0, 0.5, -0.5]]))
    # stations just above the surface (as on curved topography over straight faces)
    # are moved onto it: the interpolation point is on the top face, same x, y to O(gap)
    above = np.column_stack([RNG.uniform(0, 2, 20), RNG.uniform(0, 1, 20), np.full(20, 0.004)])
    cell, xi = locate_points(m.points, m.cells, above)
    N, _ = tet_shape(order, xi)
    onto = np.einsum("pa,pai->pi", N, m.points[m.cells[cell]])
    np.testing.assert_allclose(onto[:, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(onto[:, :2], above[:, :2], atol=0.02)


def null_space_size(K):
    w = np.linalg.eigvalsh(K)
    assert w[0] > -1e-12 * w[-1], "not positive semi-definite"
    return int(np.sum(w < 1e-10 * w[-1]))


@pytest.mark.parametrize("order, curved", [(1, 0.0), (2, 0.0), (2, 0.05)])
def test_element_stiffness_symmetric_psd_with_six_rigid_modes(order, curved):
    pts, cells = random_tet(order, curved)
    K = stiffness_matrices(pts, cells, lam=2.5e9, mu=1.2e9)[0]
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-12 * np.abs(K).max())
    assert null_space_size(K) == 6
    # the six rigid motions: translations and infinitesimal rotations u = w x X
    rigid = [np.tile(e, len(pts)) for e in np.eye(3)] + [np.cross(w, pts).ravel() for w in np.eye(3)]
    for u in rigid:
        assert np.abs(K @ u).max() < 1e-9 * np.abs(K).max()


@pytest.mark.parametrize("order", [1, 2])
def test_element_stiffness_is_rotation_invariant(order):
    """Isotropy: K(R X) = Q K(X) Q^T with Q = blockdiag(R)."""
    pts, cells = random_tet(order, 0.03 * (order == 2))
    R, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    if np.linalg.det(R) < 0:
        R[:, 0] *= -1
    K = stiffness_matrices(pts, cells, 3.0, 1.5)[0]
    Kr = stiffness_matrices(pts @ R.T, cells, 3.0, 1.5)[0]
    Q = np.kron(np.eye(len(pts)), R)
    np.testing.assert_allclose(Kr, Q @ K @ Q.T, atol=1e-12 * np.abs(K).max())


def test_order1_stiffness_against_closed_form():
    """Constant-strain tetrahedron: K = V B^T D B with the Voigt-notation B and D."""
    pts, cells = random_tet(1)
    lam, mu = 2.0, 0.7
    K = stiffness_matrices(pts, cells, lam, mu)[0]
    g = map_cells(pts, cells, tetrahedron_rule(0).points).grad[0, 0]    # (4, 3)
    B = np.zeros((6, 12))
    for a in range(4):
        gx, gy, gz = g[a]
        B[:, 3 * a:3 * a + 3] = [[gx, 0, 0], [0, gy, 0], [0, 0, gz], [gy, gx, 0], [0, gz, gy], [gz, 0, gx]]
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D[np.arange(3), np.arange(3)] += 2 * mu
    D[np.arange(3, 6), np.arange(3, 6)] = mu
    vol = abs(np.linalg.det(pts[1:] - pts[0])) / 6
    np.testing.assert_allclose(K, vol * B.T @ D @ B, atol=1e-12 * np.abs(K).max())


@pytest.mark.parametrize("order", [1, 2])
def test_element_mass_sums_to_rho_v_per_component(order):
    pts, cells = random_tet(order)
    rho = 1800.0
    M = mass_matrices(pts, cells, rho)[0]
    vol = abs(np.linalg.det(pts[1:4] - pts[0])) / 6
    for i in range(3):
        assert M[i::3, i::3].sum() == pytest.approx(rho * vol, rel=1e-12)
    assert np.abs(M[0::3, 1::3]).max() == 0.0
    assert np.linalg.eigvalsh(M)[0] > 0
    # exact consistent mass of the 4-node element: rho V (1 + delta_ab) / 20
    if order == 1:
        np.testing.assert_allclose(M[0::3, 0::3], rho * vol * (np.ones((4, 4)) + np.eye(4)) / 20, rtol=1e-12)
