"""A physics-free tetrahedral box for the hpc/ tests (hpc/ imports nothing from fem/, nor do its tests)."""
from itertools import permutations

import numpy as np


def kuhn_tets(nx: int, ny: int, nz: int) -> np.ndarray:
    """(6*nx*ny*nz, 4) int64 cells of a unit-spaced box grid, 6 Kuhn tets per hexahedron.

    Every tet runs from the hex's corner (0,0,0) to (1,1,1) along one ordering
    of the axes, which makes neighbouring hexes' triangulations conform. Node
    (i, j, k) is number i + (nx+1) j + (nx+1)(ny+1) k.
    """
    i, j, k = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"))
    stride = np.array([1, nx + 1, (nx + 1) * (ny + 1)])
    origin = i * stride[0] + j * stride[1] + k * stride[2]
    tets = []
    for axes in permutations(range(3)):
        steps = np.cumsum([np.zeros(3, int)] + [np.eye(3, dtype=int)[a] for a in axes], axis=0)
        tets.append(origin[:, None] + steps @ stride)
    return np.concatenate(tets).astype(np.int64)
