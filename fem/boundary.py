"""Boundary triangles of a tetrahedral mesh and the sides of a box-shaped domain.

Side codes (int8), index into SIDE_NAMES:
    0 top     the free surface: every boundary face not on one of the planes below
    1 x0      x = x0          2 x1      x = x1
    3 y0      y = y0          4 y1      y = y1
    5 bottom  z = z_bottom
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fem.mesh import TET_EDGES
from fem.shape import tet_order

SIDE_NAMES = ("top", "x0", "x1", "y0", "y1", "bottom")
TOP, X0, X1, Y0, Y1, BOTTOM = range(6)

#: local vertices of face k (opposite vertex k), ordered so that the right-hand
#: normal points out of a positively oriented cell
TET_FACES = np.array([[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]], dtype=np.int64)


def _face_nodes() -> np.ndarray:
    """(4, 6) local nodes of each face as a 6-node gmsh triangle: vertices, then edges (0,1), (1,2), (2,0)."""
    edge_node = np.full((4, 4), -1, dtype=np.int64)
    edge_node[TET_EDGES[:, 0], TET_EDGES[:, 1]] = 4 + np.arange(6)
    edge_node[TET_EDGES[:, 1], TET_EDGES[:, 0]] = 4 + np.arange(6)
    f = TET_FACES
    mids = edge_node[f, np.roll(f, -1, axis=1)]
    return np.hstack([f, mids])


TET_FACE_NODES = _face_nodes()

#: reverses a triangle's orientation: swap vertices 1 and 2 (and the edges with them)
_FLIP = {3: np.array([0, 2, 1]), 6: np.array([0, 2, 1, 5, 4, 3])}


@dataclass(frozen=True)
class BoundaryFaces:
    faces: np.ndarray  #: (F, 3|6) int64, gmsh triangle order, right-hand normal points outward
    cell: np.ndarray   #: (F,) int64, index of the cell that owns each face


def boundary_faces(points: np.ndarray, cells: np.ndarray) -> BoundaryFaces:
    """Faces that belong to one cell only, outward oriented, with their cells.

    points (N, 3), cells (E, 4|10) in any local numbering. Cells may have either
    orientation (the sign of their vertex volume decides). Raises ValueError if a
    face is shared by more than two cells.
    """
    E, n = cells.shape
    nodes_per_face = 3 if tet_order(n) == 1 else 6
    local = TET_FACE_NODES[:, :nodes_per_face]
    all_faces = cells[:, local].reshape(-1, nodes_per_face)          # (4E, m)
    key = np.sort(all_faces[:, :3], axis=1)
    _, first, inverse, count = np.unique(key, axis=0, return_index=True,
                                         return_inverse=True, return_counts=True)
    if count.max(initial=0) > 2:
        raise ValueError(f"{int((count > 2).sum())} faces are shared by more than two cells")
    once = np.sort(first[count == 1])
    faces, cell = all_faces[once], once // 4

    v = points[cells[cell, :4]]
    negative = np.linalg.det(v[:, 1:] - v[:, :1]) < 0
    faces[negative] = faces[negative][:, _FLIP[nodes_per_face]]
    return BoundaryFaces(faces=faces.astype(np.int64), cell=cell.astype(np.int64))


def classify_box_sides(points: np.ndarray, faces: np.ndarray,
                       x: Sequence[float] | None = None, y: Sequence[float] | None = None,
                       z_bottom: float | None = None, rtol: float = 1e-6) -> np.ndarray:
    """Side code (F,) int8 of each boundary face of a box-shaped domain (table above).

    x = (x0, x1), y = (y0, y1), z_bottom in m; each defaults to the extent of
    `points` (pass them explicitly for a rank's part of a distributed mesh). A face
    is on a plane when all its nodes are within rtol * (domain diagonal) of it.
    """
    lo, hi = points.min(axis=0), points.max(axis=0)
    x0, x1 = (lo[0], hi[0]) if x is None else x
    y0, y1 = (lo[1], hi[1]) if y is None else y
    zb = lo[2] if z_bottom is None else z_bottom
    tol = rtol * np.linalg.norm([x1 - x0, y1 - y0, hi[2] - zb])
    p = points[faces]                                                  # (F, m, 3)

    def on(axis: int, value: float) -> np.ndarray:
        return (np.abs(p[:, :, axis] - value) <= tol).all(axis=1)

    side = np.full(len(faces), TOP, dtype=np.int8)
    for code, axis, value in ((X0, 0, x0), (X1, 0, x1), (Y0, 1, y0), (Y1, 1, y1), (BOTTOM, 2, zb)):
        side[on(axis, value)] = code  # five planes, each a vectorised test over all faces
    return side
