"""Element matrices of isotropic linear elasticity and their sparse assembly.

Degrees of freedom are interleaved: dof = 3 * node + component (x, y, z).
Element arrays are (E, 3n, 3n) with row 3a + i for node a, component i, so
Rayleigh damping is one more call on the same arrays:
``assemble(cells, alpha[:, None, None] * Me + beta[:, None, None] * Ke, n_nodes)``.

Quadrature degrees (why): order 1 gradients are constant and mass integrands
quadratic, so degrees 0 and 2 are exact. Order 2 stiffness uses degree 3, not
the 2 that affine cells need, because for curved cells cof(J)^T grad_xi N is a
cubic in xi: degree 3 keeps the patch test exact on curved cells too. Order 2
mass is exact (degree 4) on affine cells.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from fem.geometry import map_cells, map_faces
from fem.quadrature import tetrahedron_rule, triangle_rule
from fem.shape import tet_order, tet_shape, tri_order, tri_shape

STIFFNESS_DEGREE = {1: 0, 2: 3}
MASS_DEGREE = {1: 2, 2: 4}
FACE_DEGREE = {1: 2, 2: 4}

#: cells per batch: bounds temporaries to ~100 MB for 10-node cells
CHUNK = 4096


def _per_cell(value, n: int) -> np.ndarray:
    """A scalar or (n,) array -> (n,) float64."""
    return np.broadcast_to(np.asarray(value, dtype=float), (n,))


def _chunks(n: int):
    for start in range(0, n, CHUNK):
        yield slice(start, min(start + CHUNK, n))


def _expand_components(scalar: np.ndarray) -> np.ndarray:
    """(E, n, n) scalar matrices -> (E, 3n, 3n) block matrices, identity in components."""
    E, n, _ = scalar.shape
    out = np.zeros((E, n, 3, n, 3))
    for i in range(3):  # three components, not a loop over elements
        out[:, :, i, :, i] = scalar
    return out.reshape(E, 3 * n, 3 * n)


def element_dofs(cells: np.ndarray) -> np.ndarray:
    """(E, 3n) int64 global dofs of each element, row order of the element matrices."""
    return (3 * np.asarray(cells, dtype=np.int64)[:, :, None] + np.arange(3)).reshape(len(cells), -1)


def stiffness_matrices(points: np.ndarray, cells: np.ndarray, lam, mu) -> np.ndarray:
    """Element stiffness matrices (E, 3n, 3n), N/m.

    points (N, 3) m; cells (E, 4|10); lam, mu: Lame moduli in Pa, scalars or (E,).
    K[a i, b j] = int lam d_i N_a d_j N_b + mu d_j N_a d_i N_b + mu delta_ij grad N_a . grad N_b.
    """
    E, n = cells.shape
    rule = tetrahedron_rule(STIFFNESS_DEGREE[tet_order(n)])
    lam, mu = _per_cell(lam, E), _per_cell(mu, E)
    K = np.empty((E, 3 * n, 3 * n))
    for s in _chunks(E):
        g = map_cells(points, cells[s], rule.points)
        G = g.grad.reshape(len(g.det_j), len(rule.weights), 3 * n)
        # A[e, 3a+i, 3b+j] = int d_i N_a d_j N_b
        A = np.matmul(np.swapaxes(G * (g.det_j * rule.weights)[..., None], 1, 2), G)
        A5 = A.reshape(-1, n, 3, n, 3)
        trace = np.einsum("eakbk->eab", A5)
        Ks = lam[s, None, None, None, None] * A5 + mu[s, None, None, None, None] * A5.transpose(0, 1, 4, 3, 2)
        Ks += _expand_components(mu[s, None, None] * trace).reshape(Ks.shape)
        K[s] = Ks.reshape(-1, 3 * n, 3 * n)
    return K


def scalar_mass_matrices(points: np.ndarray, cells: np.ndarray, rho) -> np.ndarray:
    """(E, n, n) int rho N_a N_b dV, kg; rho in kg/m^3, scalar or (E,)."""
    E, n = cells.shape
    rule = tetrahedron_rule(MASS_DEGREE[tet_order(n)])
    N, _ = tet_shape(tet_order(n), rule.points)
    rho = _per_cell(rho, E)
    m = np.empty((E, n, n))
    for s in _chunks(E):
        g = map_cells(points, cells[s], rule.points, gradients=False)
        m[s] = np.einsum("eq,qa,qb->eab", g.det_j * rule.weights * rho[s, None], N, N, optimize=True)
    return m


def mass_matrices(points: np.ndarray, cells: np.ndarray, rho) -> np.ndarray:
    """Consistent element mass matrices (E, 3n, 3n), kg; rho in kg/m^3, scalar or (E,)."""
    return _expand_components(scalar_mass_matrices(points, cells, rho))


def lumped_mass(points: np.ndarray, cells: np.ndarray, rho, n_nodes: int | None = None) -> np.ndarray:
    """Diagonal mass (3 * n_nodes,), kg: row sums (order 1) or HRZ (order 2).

    HRZ scales each element's consistent diagonal so that it sums to the element
    mass: positive where row sums of 10-node elements are not (vertex rows sum < 0).
    """
    n_nodes = len(points) if n_nodes is None else n_nodes
    m = scalar_mass_matrices(points, cells, rho)
    if tet_order(cells.shape[1]) == 1:
        nodal = m.sum(axis=2)
    else:
        diag = np.einsum("eaa->ea", m)
        nodal = diag * (m.sum(axis=(1, 2)) / diag.sum(axis=1))[:, None]
    node_mass = np.bincount(cells.ravel(), nodal.ravel(), minlength=n_nodes)
    return np.repeat(node_mass, 3)


def assemble(cells: np.ndarray, element_matrices: np.ndarray, n_nodes: int) -> sp.csr_matrix:
    """Sum element matrices (E, 3n, 3n) into a (3 n_nodes)^2 CSR matrix (duplicates summed).

    Summation happens on 3x3 node blocks (n^2 keys per element instead of 9 n^2),
    which is what keeps ~1e5 10-node cells at a few seconds.
    """
    cells = np.asarray(cells, dtype=np.int64)
    E, n = cells.shape
    key = (np.repeat(cells, n, axis=1) * np.int64(n_nodes) + np.tile(cells, (1, n))).ravel()
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.empty(len(key), dtype=bool)
    starts[:1] = True
    starts[1:] = sorted_key[1:] != sorted_key[:-1]
    block_key = sorted_key[starts]
    slot = np.empty(len(key), dtype=np.int64)
    slot[order] = np.cumsum(starts) - 1
    per_node = element_matrices.reshape(E, n, 3, n, 3)
    data = np.empty((len(block_key), 9))
    for k in range(9):  # one (component i, component j) entry of the 3x3 blocks at a time: a copy
        # of 1/9 of the element arrays instead of a transposed copy of all of them (peak memory)
        data[:, k] = np.bincount(slot, per_node[:, :, k // 3, :, k % 3].ravel(), minlength=len(block_key))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(block_key // n_nodes, minlength=n_nodes))])
    index = np.int32 if 3 * n_nodes < 2**31 - 1 else np.int64
    bsr = sp.bsr_matrix((data.reshape(-1, 3, 3), (block_key % n_nodes).astype(index), indptr),
                        shape=(3 * n_nodes, 3 * n_nodes))
    return bsr.tocsr()


def face_matrices(points: np.ndarray, faces: np.ndarray, coeff) -> np.ndarray:
    """Face element matrices (F, 3m, 3m): C[a i, b j] = delta_ij int c_i N_a N_b dA.

    faces: (F, 3|6) gmsh triangles, possibly curved; coeff: (F, 3) or broadcastable,
    per face and component (x, y, z), e.g. rho*Vp for the normal component of a
    Lysmer dashpot (kg/(m^2 s)): C @ velocity is then the consistent nodal force, N.
    """
    F, m = faces.shape
    rule = triangle_rule(FACE_DEGREE[tri_order(m)])
    N, _ = tri_shape(tri_order(m), rule.points)
    g = map_faces(points, faces, rule.points)
    s = np.einsum("fq,qa,qb->fab", g.area * rule.weights, N, N, optimize=True)
    c = np.broadcast_to(np.asarray(coeff, dtype=float), (F, 3))
    out = np.zeros((F, m, 3, m, 3))
    for i in range(3):  # three components, not a loop over faces
        out[:, :, i, :, i] = s * c[:, i, None, None]
    return out.reshape(F, 3 * m, 3 * m)


def face_matrix(points: np.ndarray, faces: np.ndarray, coeff, n_nodes: int | None = None) -> sp.csr_matrix:
    """Assembled face matrix (3 n_nodes square, CSR); see face_matrices."""
    n_nodes = len(points) if n_nodes is None else n_nodes
    return assemble(faces, face_matrices(points, faces, coeff), n_nodes)


def body_force(points: np.ndarray, cells: np.ndarray, force: Callable[[np.ndarray], np.ndarray],
               degree: int | None = None, n_nodes: int | None = None) -> np.ndarray:
    """Load vector (3 n_nodes,) int N_a f(x) dV, N, for a force density f in N/m^3.

    force maps points (..., 3) in m to (..., 3); degree defaults to 2 * order + 2,
    enough for smooth f at the element orders' convergence rates.
    """
    E, n = cells.shape
    order = tet_order(n)
    n_nodes = len(points) if n_nodes is None else n_nodes
    rule = tetrahedron_rule(2 * order + 2 if degree is None else degree)
    N, _ = tet_shape(order, rule.points)
    load = np.zeros(3 * n_nodes)
    for s in _chunks(E):
        g = map_cells(points, cells[s], rule.points, gradients=False)
        f = np.asarray(force(g.x), dtype=float)
        fe = np.einsum("eq,qa,eqi->eai", g.det_j * rule.weights, N, f, optimize=True)
        load += np.bincount(element_dofs(cells[s]).ravel(), fe.ravel(), minlength=3 * n_nodes)
    return load
