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


#: most candidate cells tried per point in locate_points on curved cells: a point
#: outside the mesh must not turn into a search of every cell
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
    if order == 1:
        # Straight cells map affinely: one solve is exact, and Newton would only repeat it
        # (its clipping makes far-away points a fixed point, not a converged one).
        J = np.swapaxes(X[:, 1:] - X[:, :1], 1, 2)              # (P, 3, 3), dx/dxi
        return np.clip(np.linalg.solve(J, (x - X[:, 0])[..., None])[..., 0], -2.0, 3.0)
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

    A point is inside a cell when its smallest barycentric coordinate is >= -tol;
    of several such cells (a point on a shared face) the one it is deepest in. A
    point in no cell but within `snap` of one (smallest barycentric >= -snap, i.e.
    outside by under ~snap of the cell's height: a station on curved topography
    just above the meshed surface) is moved onto the best such cell: its
    barycentric coordinates are clipped to >= 0 and renormalised. Raises
    ValueError naming the points farther out.

    Candidates are first the 8 cells with the nearest vertex centroids, which
    hold nearly every point inside the mesh. For the rest (mostly the snapped
    stations), straight cells are searched among those whose centroid is close
    enough for the point to be within snap of them; curved cells by doubling
    the nearest candidates up to MAX_CANDIDATES.
    """
    x = np.asarray(x, dtype=float).reshape(-1, 3)
    centroid = points[cells[:, :4]].mean(axis=1)
    tree = cKDTree(centroid, balanced_tree=False)     # faster to build, as fast to query here
    cell = np.full(len(x), -1, dtype=np.int64)
    xi = np.zeros((len(x), 3))
    k = min(8, len(cells))
    _, cand = tree.query(x, k=k)
    cand = cand.reshape(len(x), k)
    best, score, ref = _best_of(points, cells, x, cand)
    found = score >= -tol
    cell[found], xi[found] = best[found], _onto_reference(ref[found])
    rest = np.flatnonzero(~found)
    if rest.size == 0:
        return cell, xi
    if tet_order(cells.shape[1]) == 1:
        cell[rest], xi[rest] = _locate_near(points, cells, centroid, x[rest], tol, snap)
    else:
        cell[rest], xi[rest] = _locate_doubling(points, cells, tree, x[rest], 2 * k, tol, snap)
    return cell, xi


def _best_of(points, cells, x, cand):
    """(best cell (P,), its smallest barycentric coordinate (P,), reference coordinates (P, 3)) of x
    (P, 3) among candidate cells cand (P, k): the cell the point is deepest in."""
    n, k = cand.shape
    ref = reference_coordinates(points, cells[cand.ravel()], np.repeat(x, k, axis=0)).reshape(n, k, 3)
    score = barycentric_min(ref)
    best = score.argmax(axis=1)
    rows = np.arange(n)
    return cand[rows, best], score[rows, best], ref[rows, best]


def _locate_near(points, cells, centroid, x, tol, snap):
    """locate_points among every straight cell the points x (P, 3) could be within snap of.

    A point with barycentric coordinates >= -s lies within (1 + 6 s) R of the cell's
    centroid, R the centroid's largest distance to a vertex (|x - g| = |sum l_i (X_i - g)|
    <= R sum |l_i| <= R (1 + 6 s)): ball queries with that reach, filtered by each
    cell's own, find every candidate, and far-away points find none.
    """
    vertices = points[cells[:, :4]]
    reach = (1.0 + 6.0 * max(snap, tol)) * np.linalg.norm(vertices - centroid[:, None], axis=2).max(axis=1)
    reach *= 1.0 + 1e-9                                             # round-off in the bound itself
    # Ball queries per class of cells of similar reach (within a factor 2), so that
    # small cells are not searched with the radius of the largest.
    level = np.floor(np.log2(reach / reach.min())).astype(int)
    owner, cand = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for members in (np.flatnonzero(level == lv) for lv in np.unique(level)):
        near = cKDTree(centroid[members], balanced_tree=False).query_ball_point(x, r=reach[members].max())
        owner.append(np.repeat(np.arange(len(x)), [len(c) for c in near]))
        cand.append(members[np.concatenate([np.asarray(c, dtype=np.int64) for c in near] + [owner[0]])])
    owner, cand = np.concatenate(owner), np.concatenate(cand)
    keep = np.linalg.norm(x[owner] - centroid[cand], axis=1) <= reach[cand]
    owner, cand = owner[keep], cand[keep]
    ref = reference_coordinates(points, cells[cand], x[owner])
    score = barycentric_min(ref)
    # best per point: sort by (point, -score) and take each point's first pair
    order = np.lexsort((-score, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if order.size else order
    best_score = np.full(len(x), -np.inf)
    best_score[owner[first]] = score[first]
    missing = np.flatnonzero(best_score < -snap)
    if missing.size:
        raise ValueError(f"{missing.size} points lie in no cell (nor within snap = {snap} of one), "
                         f"e.g. {x[missing[:4]].tolist()}")
    cell = np.empty(len(x), dtype=np.int64)
    cell[owner[first]] = cand[first]
    xi = np.empty((len(x), 3))
    xi[owner[first]] = _onto_reference(ref[first])
    return cell, xi


def _locate_doubling(points, cells, tree, x, k, tol, snap):
    """locate_points among the k nearest cells, k doubled until every point is found.

    A point is accepted within snap only once MAX_CANDIDATES cells were tried: a
    point outside the mesh must not turn into a search of every cell.
    """
    cell = np.full(len(x), -1, dtype=np.int64)
    xi = np.zeros((len(x), 3))
    todo = np.arange(len(x))
    k = min(k, len(cells), MAX_CANDIDATES)
    while todo.size:
        _, cand = tree.query(x[todo], k=k)
        best, score, ref = _best_of(points, cells, x[todo], cand.reshape(len(todo), k))
        last = k >= min(len(cells), MAX_CANDIDATES)
        found = score >= (-snap if last else -tol)
        cell[todo[found]] = best[found]
        xi[todo[found]] = _onto_reference(ref[found])
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
