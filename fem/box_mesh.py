"""Structured tetrahedral meshes of a box, for tests and benchmarks.

Each hexahedron is split into the 6 Kuhn (Freudenthal) tetrahedra around its
main diagonal. The same split in every hexahedron is conforming: on a shared
face both neighbours draw the same diagonal. 10-node meshes get one shared
node at the midpoint of every edge.
"""
from __future__ import annotations

from itertools import permutations
from typing import Sequence

import numpy as np

from fem.mesh import TET_EDGES, Mesh


def _kuhn_offsets() -> np.ndarray:
    """(6, 4, 3) corner offsets (0/1) of the 6 positively oriented Kuhn tetrahedra."""
    tets = []
    for perm in permutations(range(3)):  # the 6 tetrahedra of one cube, not mesh cells
        e = np.eye(3, dtype=np.int64)[list(perm)]
        v = np.array([[0, 0, 0], e[0], e[0] + e[1], [1, 1, 1]])
        if np.linalg.det((v[1:] - v[0]).astype(float)) < 0:
            v = v[[0, 2, 1, 3]]
        tets.append(v)
    return np.array(tets)


KUHN = _kuhn_offsets()


def add_midedge_nodes(points: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4-node mesh -> 10-node mesh (gmsh order) with one node at the midpoint of each edge."""
    edges = np.sort(cells[:, TET_EDGES], axis=2).reshape(-1, 2)
    unique, inverse = np.unique(edges, axis=0, return_inverse=True)
    mid = 0.5 * (points[unique[:, 0]] + points[unique[:, 1]])
    cells10 = np.hstack([cells, len(points) + inverse.reshape(len(cells), 6)])
    return np.vstack([points, mid]), cells10


def box_mesh(bounds: Sequence[Sequence[float]], divisions: Sequence[int], order: int = 1,
             interfaces: Sequence[float] = ()) -> Mesh:
    """Tetrahedral mesh of [x0,x1] x [y0,y1] x [z0,z1], metres, z up.

    divisions: (nx, ny, nz) hexahedra per axis, each split into 6 tetrahedra.
    interfaces: horizontal layer boundaries (elevations, m) on grid planes strictly
    inside (z0, z1); layer 0 is the top layer, layer k lies below k interfaces.
    """
    (x0, x1), (y0, y1), (z0, z1) = bounds
    nx, ny, nz = (int(n) for n in divisions)
    if min(nx, ny, nz) < 1 or not (x1 > x0 and y1 > y0 and z1 > z0):
        raise ValueError(f"need positive divisions and x0 < x1 etc., got {bounds}, {divisions}")
    if order not in (1, 2):
        raise ValueError(f"element order must be 1 or 2, got {order}")
    axes = [np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1), np.linspace(z0, z1, nz + 1)]
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    points = np.stack([X, Y, Z], axis=-1).reshape(-1, 3)

    # node (i, j, k) -> (i * (ny+1) + j) * (nz+1) + k, matching the meshgrid ravel
    ii, jj, kk = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    corner = np.stack([ii, jj, kk], axis=-1).reshape(-1, 1, 1, 3) + KUHN  # (H, 6, 4, 3)
    node = (corner[..., 0] * (ny + 1) + corner[..., 1]) * (nz + 1) + corner[..., 2]
    cells = node.reshape(-1, 4).astype(np.int64)

    layer = _layers(points[cells].mean(axis=1)[:, 2], axes[2], interfaces)
    if order == 2:
        points, cells = add_midedge_nodes(points, cells)
    return Mesh(points=points, cells=cells, layer=layer)


def _layers(z_centroid: np.ndarray, z_planes: np.ndarray, interfaces: Sequence[float]) -> np.ndarray:
    """(E,) int8 layer index: number of interfaces above each cell's centroid."""
    z_if = np.asarray(interfaces, dtype=float).reshape(-1)
    tol = 1e-9 * (z_planes[-1] - z_planes[0])
    on_plane = np.abs(z_if[:, None] - z_planes[1:-1][None, :]).min(axis=1, initial=np.inf) <= tol
    if not on_plane.all():
        raise ValueError(f"interfaces {z_if[~on_plane].tolist()} are not interior grid planes "
                         f"of z = {z_planes.tolist()}")
    return (z_centroid[:, None] < z_if[None, :]).sum(axis=1).astype(np.int8)
