"""Lagrange shape functions of the 4/10-node tetrahedron and the 3/6-node triangle.

Node order follows gmsh: vertices first, then one mid-edge node per edge in the
order of TET_EDGES (tetrahedron) or TRI_EDGES (triangle). Both are written in
barycentric coordinates L: vertex nodes N_i = L_i (order 1) or L_i (2 L_i - 1)
(order 2), edge nodes N = 4 L_a L_b.
"""
from __future__ import annotations

import numpy as np

from fem.mesh import TET_EDGES

#: gmsh's edge order of the 6-node triangle: node 3 + k sits on TRI_EDGES[k]
TRI_EDGES = np.array([[0, 1], [1, 2], [2, 0]], dtype=np.int64)


def tet_order(n_nodes: int) -> int:
    """Element order from the node count of a tetrahedron (4 or 10)."""
    if n_nodes not in (4, 10):
        raise ValueError(f"tetrahedra have 4 or 10 nodes, got {n_nodes}")
    return 1 if n_nodes == 4 else 2


def tri_order(n_nodes: int) -> int:
    """Element order from the node count of a triangle (3 or 6)."""
    if n_nodes not in (3, 6):
        raise ValueError(f"triangles have 3 or 6 nodes, got {n_nodes}")
    return 1 if n_nodes == 3 else 2


def _barycentric(xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., d) reference coordinates -> L (..., d+1) and constant dL/dxi (d+1, d)."""
    L = np.concatenate([1.0 - xi.sum(axis=-1, keepdims=True), xi], axis=-1)
    d = xi.shape[-1]
    dL = np.vstack([-np.ones((1, d)), np.eye(d)])
    return L, dL


def _lagrange(order: int, xi: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xi = np.asarray(xi, dtype=float)
    L, dL = _barycentric(xi)
    if order == 1:
        return L, np.broadcast_to(dL, L.shape + dL.shape[1:]).copy()
    if order != 2:
        raise ValueError(f"element order must be 1 or 2, got {order}")
    La, Lb = L[..., edges[:, 0]], L[..., edges[:, 1]]
    N = np.concatenate([L * (2 * L - 1), 4 * La * Lb], axis=-1)
    dvert = (4 * L - 1)[..., None] * dL
    dedge = 4 * (La[..., None] * dL[edges[:, 1]] + Lb[..., None] * dL[edges[:, 0]])
    return N, np.concatenate([dvert, dedge], axis=-2)


def tet_shape(order: int, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape functions of the tetrahedron at reference points.

    xi: (..., 3) reference coordinates. Returns N (..., n) and the reference
    gradients dN/dxi (..., n, 3), n = 4 (order 1) or 10 (order 2).
    """
    return _lagrange(order, xi, TET_EDGES)


def tri_shape(order: int, xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape functions of the triangle: xi (..., 2) -> N (..., n), dN/dxi (..., n, 2), n = 3 or 6."""
    return _lagrange(order, xi, TRI_EDGES)


def _nodes(order: int, vertices: np.ndarray, edges: np.ndarray) -> np.ndarray:
    if order == 1:
        return vertices.copy()
    return np.vstack([vertices, 0.5 * (vertices[edges[:, 0]] + vertices[edges[:, 1]])])


def tet_reference_nodes(order: int) -> np.ndarray:
    """(n, 3) reference coordinates of the tetrahedron's nodes, gmsh order."""
    return _nodes(order, np.vstack([np.zeros(3), np.eye(3)]), TET_EDGES)


def tri_reference_nodes(order: int) -> np.ndarray:
    """(n, 2) reference coordinates of the triangle's nodes, gmsh order."""
    return _nodes(order, np.vstack([np.zeros(2), np.eye(2)]), TRI_EDGES)
