"""Isoparametric geometry: Jacobians, physical gradients and the inverse map.

The map of a cell is x(xi) = sum_a N_a(xi) X_a over all its nodes, so 10-node
cells whose mid-edge nodes sit on a curved surface are curved. Everything is
batched over cells (and quadrature points) with einsum; nothing loops over cells.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from fem.shape import tet_order, tet_shape, tri_order, tri_shape


#: most candidate cells tried per point in locate_points: a point outside the mesh
#: must not turn into a search of every cell
MAX_CANDIDATES = 512


class InvertedElementError(ValueError):
    """A cell whose Jacobian determinant is not positive somewhere."""


@dataclass(frozen=True)
class CellMap:
    x: np.ndarray      #: (E, q, 3) float64, physical quadrature points, m
    det_j: np.ndarray  #: (E, q) float64, det(dx/dxi) > 0, m^3 per unit reference volume
    grad: np.ndarray   #: (E, q, n, 3) float64, physical shape-function gradients, 1/m


@dataclass(frozen=True)
class FaceMap:
    x: np.ndarray       #: (F, q, 3) float64, physical quadrature points, m
    area: np.ndarray    #: (F, q) float64, |dx/dxi1 x dx/dxi2|, m^2 per unit reference area
    normal: np.ndarray  #: (F, q, 3) float64, unit normal by the right-hand rule of the node order


def check_positive(det_j: np.ndarray) -> None:
    """Raise InvertedElementError naming the first cell with det J <= 0 (cell = row of det_j)."""
    bad = np.flatnonzero((det_j <= 0).any(axis=1))
    if bad.size:
        c = bad[0]
        raise InvertedElementError(
            f"cell {c} is inverted or degenerate: det J = {det_j[c].min():.3e} <= 0 at a quadrature "
            f"point ({bad.size} such cells in total, e.g. {bad[:8].tolist()})")


def map_cells(points: np.ndarray, cells: np.ndarray, xi: np.ndarray,
              gradients: bool = True) -> CellMap:
    """Geometry of all cells at the reference points xi (q, 3).

    points: (N, 3) node coordinates in m; cells: (E, 4|10) node indices in any
    local numbering. Raises InvertedElementError if any det J <= 0. With
    gradients=False, `grad` is an empty (E, q, 0, 3) array (mass, loads).
    """
    N, dN = tet_shape(tet_order(cells.shape[1]), xi)
    X = points[cells]
    x = np.einsum("qa,eai->eqi", N, X, optimize=True)
    J = np.einsum("eai,qaj->eqij", X, dN, optimize=True)
    det_j = np.linalg.det(J)
    check_positive(det_j)
    if not gradients:
        return CellMap(x, det_j, np.empty(det_j.shape + (0, 3)))
    # dN/dx_i = dN/dxi_j (J^-1)_ji
    grad = np.einsum("qaj,eqji->eqai", dN, np.linalg.inv(J), optimize=True)
    return CellMap(x, det_j, grad)


def map_faces(points: np.ndarray, faces: np.ndarray, xi: np.ndarray) -> FaceMap:
    """Geometry of boundary triangles (F, 3|6) at reference points xi (q, 2)."""
    N, dN = tri_shape(tri_order(faces.shape[1]), xi)
    X = points[faces]
    x = np.einsum("qa,fai->fqi", N, X, optimize=True)
    t = np.einsum("fai,qaj->fqji", X, dN, optimize=True)  # (F, q, 2, 3) tangents
    n = np.cross(t[:, :, 0], t[:, :, 1])
    area = np.linalg.norm(n, axis=-1)
    return FaceMap(x, area, n / area[..., None])


def reference_coordinates(points: np.ndarray, cells: np.ndarray, x: np.ndarray,
                          tol: float = 1e-12, max_iter: int = 25) -> np.ndarray:
    """Reference coordinates xi (P, 3) of physical points x (P, 3), each in its cell.

    cells: (P, 4|10), the nodes of the cell of each point. Newton's method on the
    isoparametric map (one step for straight 4-node cells), vectorised over points;
    tol is relative to the cell size. Points outside their cell get coordinates
    outside the reference tetrahedron (see barycentric_min).
    """
    order = tet_order(cells.shape[1])
    X = points[cells]
    x = np.asarray(x, dtype=float).reshape(-1, 3)
    size = np.ptp(X, axis=1).max(axis=1)
    xi = np.full((len(x), 3), 0.25)
    active = np.ones(len(x), dtype=bool)
    for _ in range(max_iter):
        N, dN = tet_shape(order, xi[active])
        Xa = X[active]
        residual = np.einsum("pa,pai->pi", N, Xa) - x[active]
        J = np.einsum("pai,paj->pij", Xa, dN)
        step = np.linalg.solve(J, residual[..., None])[..., 0]
        # clipping keeps Newton on a curved cell's map away from where it folds over,
        # for points far outside the cell (candidates in locate_points)
        xi[active] = np.clip(xi[active] - step, -2.0, 3.0)
        done = np.abs(residual).max(axis=1) <= tol * size[active]
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    return xi


def barycentric_min(xi: np.ndarray) -> np.ndarray:
    """(P,) smallest barycentric coordinate of reference points: >= 0 inside the tetrahedron."""
    return np.minimum(xi.min(axis=-1), 1.0 - xi.sum(axis=-1))


def locate_points(points: np.ndarray, cells: np.ndarray, x: np.ndarray,
                  tol: float = 1e-8, snap: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Cell index (P,) and reference coordinates (P, 3) of the cell containing each point.

    Candidate cells are the nearest by vertex centroid (k doubled until every point
    is found, up to MAX_CANDIDATES); a point is inside a cell when its smallest
    barycentric coordinate is >= -tol. A point in no cell but within `snap` of one
    (smallest barycentric >= -snap, i.e. outside by under ~snap of the cell's height:
    a station on curved topography just above the meshed surface) is moved onto
    that cell: its barycentric coordinates are clipped to >= 0 and renormalised.
    Raises ValueError naming the points farther out.
    """
    x = np.asarray(x, dtype=float).reshape(-1, 3)
    tree = cKDTree(points[cells[:, :4]].mean(axis=1))
    cell = np.full(len(x), -1, dtype=np.int64)
    xi = np.zeros((len(x), 3))
    todo = np.arange(len(x))
    k = min(8, len(cells))
    while todo.size:
        _, cand = tree.query(x[todo], k=k)
        cand = cand.reshape(len(todo), k)
        ref = reference_coordinates(points, cells[cand.ravel()], np.repeat(x[todo], k, axis=0))
        score = barycentric_min(ref).reshape(len(todo), k)
        best = score.argmax(axis=1)
        best_score = score[np.arange(len(todo)), best]
        last = k >= min(len(cells), MAX_CANDIDATES)
        found = best_score >= (-snap if last else -tol)
        cell[todo[found]] = cand[found, best[found]]
        xi[todo[found]] = _onto_reference(ref.reshape(len(todo), k, 3)[found, best[found]])
        todo = todo[~found]
        if todo.size and last:
            raise ValueError(f"{todo.size} points lie in no cell (searched the {k} nearest), "
                             f"e.g. {x[todo[:4]].tolist()}")
        k = min(2 * k, len(cells), MAX_CANDIDATES)
    return cell, xi


def _onto_reference(xi: np.ndarray) -> np.ndarray:
    """Reference points moved into the reference tetrahedron (unchanged if inside)."""
    bary = np.clip(np.concatenate([1.0 - xi.sum(axis=1, keepdims=True), xi], axis=1), 0.0, None)
    inside = barycentric_min(xi) >= 0
    return np.where(inside[:, None], xi, (bary / bary.sum(axis=1, keepdims=True))[:, 1:])
