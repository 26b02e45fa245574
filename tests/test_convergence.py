"""Measured convergence of static elasticity K u = f on the unit cube.

Manufactured solution: a sum of two plane sine modes u = sum v sin(k.x + c), for
which -div sigma = sum (mu |k|^2 v + (lam + mu)(v.k) k) sin(k.x + c) with uniform
Lame moduli. Dirichlet values of u on every boundary node are eliminated; the
errors are integrated with a rule well above the element order. Theory: L2 error
O(h^(p+1)), H1 seminorm O(h^p) for order p.

Measured pairwise rates: order 1, n = 4/8/16: L2 1.97, 1.99, H1 1.00, 1.00;
order 2, n = 2/4/8: L2 3.00, 3.00, H1 2.00, 2.00; order 2 under a curved top
(isoparametric): L2 2.86, 3.08, H1 1.88, 1.97 (fitted 2.97 and 1.92).
"""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

from fem.assembly import assemble, body_force, stiffness_matrices
from fem.boundary import boundary_faces
from fem.box_mesh import box_mesh
from fem.geometry import map_cells
from fem.quadrature import tetrahedron_rule
from fem.shape import tet_shape

LAM, MU = 2.0, 1.0   # Pa; units cancel in the rates
MODES = [(np.array([1.0, -0.5, 0.3]), np.array([1.1, 0.7, -0.9]), 0.2),   # (amplitude v, wavenumber k, phase)
         (np.array([0.2, 0.8, -0.6]), np.array([-0.6, 1.3, 0.8]), -0.4)]


def exact(x):
    """Displacement (..., 3) and its gradient du_i/dx_j (..., 3, 3) at points x (..., 3)."""
    u, grad = 0.0, 0.0
    for v, k, c in MODES:
        phase = x @ k + c
        u = u + np.sin(phase)[..., None] * v
        grad = grad + np.cos(phase)[..., None, None] * np.outer(v, k)
    return u, grad


def force(x):
    """Body force density -div sigma(u) for uniform LAM, MU."""
    f = 0.0
    for v, k, c in MODES:
        f = f + np.sin(x @ k + c)[..., None] * (MU * (k @ k) * v + (LAM + MU) * (v @ k) * k)
    return f


def curve_top(points):
    """Map the unit cube's top to z = 1 + 0.25 sin(pi x) sin(pi y), every node (mid-edge ones too)."""
    x, y, z = points.T
    return np.column_stack([x, y, z * (1 + 0.25 * np.sin(np.pi * x) * np.sin(np.pi * y))])


def solve_errors(n, order, curved=False):
    """L2 and H1-seminorm errors of the FE solution on an n^3-hexahedra mesh."""
    m = box_mesh(((0, 1), (0, 1), (0, 1)), (n, n, n), order)
    if curved:
        m = type(m)(curve_top(m.points), m.cells, m.layer)
    K = assemble(m.cells, stiffness_matrices(m.points, m.cells, LAM, MU), m.n_nodes)
    f = body_force(m.points, m.cells, force)
    fixed_nodes = np.unique(boundary_faces(m.points, m.cells).faces)
    fixed = np.zeros(3 * m.n_nodes, dtype=bool)
    fixed[(3 * fixed_nodes[:, None] + np.arange(3)).ravel()] = True
    u = np.zeros(3 * m.n_nodes)
    u[fixed] = exact(m.points[fixed_nodes])[0].ravel()
    rhs = f[~fixed] - K[~fixed][:, fixed] @ u[fixed]
    u[~fixed] = spla.spsolve(K[~fixed][:, ~fixed].tocsc(), rhs)

    rule = tetrahedron_rule(2 * order + 3)
    g = map_cells(m.points, m.cells, rule.points)
    N, _ = tet_shape(order, rule.points)
    U = u.reshape(-1, 3)[m.cells]
    u_h = np.einsum("qa,eai->eqi", N, U)
    grad_h = np.einsum("eqaj,eai->eqij", g.grad, U)
    u_ex, grad_ex = exact(g.x)
    w = g.det_j * rule.weights
    l2 = np.sqrt(np.sum(w * ((u_h - u_ex) ** 2).sum(axis=-1)))
    h1 = np.sqrt(np.sum(w * ((grad_h - grad_ex) ** 2).sum(axis=(-1, -2))))
    return l2, h1


def fitted_rate(ns, errors):
    """Least-squares slope of log(error) against log(h), h = 1/n."""
    return np.polyfit(np.log(1.0 / np.asarray(ns)), np.log(errors), 1)[0]


@pytest.mark.parametrize("order, ns, curved", [(1, (4, 8, 16), False), (2, (2, 4, 8), False),
                                               (2, (2, 4, 8), True)])
def test_static_elasticity_converges_at_theoretical_rates(order, ns, curved):
    """curved: the body under a curved top; isoparametric 10-node cells keep the rates."""
    l2, h1 = np.array([solve_errors(n, order, curved) for n in ns]).T
    assert np.all(np.diff(l2) < 0) and np.all(np.diff(h1) < 0)
    assert abs(fitted_rate(ns, l2) - (order + 1)) < 0.25, (l2, fitted_rate(ns, l2))
    assert abs(fitted_rate(ns, h1) - order) < 0.25, (h1, fitted_rate(ns, h1))
    # the quadratic element is far more accurate on the same vertex grid
    if order == 2:
        assert l2[-1] < 1e-4
