"""The tetrahedral mesh that every solver stage consumes.

Node order inside a cell follows gmsh: for a 10-node tetrahedron the vertices
0-3 come first, then the mid-edge nodes of the edges (0,1), (1,2), (2,0),
(3,0), (3,2), (3,1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: gmsh's edge order of the 10-node tetrahedron: node 4 + k sits on TET_EDGES[k]
TET_EDGES = np.array([[0, 1], [1, 2], [2, 0], [3, 0], [3, 2], [3, 1]], dtype=np.int64)


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  #: (n_nodes, 3) float64, metres, z up
    cells: np.ndarray   #: (n_cells, 4 or 10) int64, gmsh node order
    layer: np.ndarray   #: (n_cells,) int8, index into GroundModel.layers

    @property
    def order(self) -> int:
        """Polynomial order of the elements: 1 (4-node) or 2 (10-node)."""
        return {4: 1, 10: 2}[self.cells.shape[1]]

    @property
    def n_nodes(self) -> int:
        return self.points.shape[0]

    @property
    def n_cells(self) -> int:
        return self.cells.shape[0]

    def cell_volumes(self) -> np.ndarray:
        """(n_cells,) volumes of the straight-sided tetrahedra on the vertices, m^3."""
        p = self.points[self.cells[:, :4]]
        d = p[:, 1:] - p[:, :1]
        return np.abs(np.linalg.det(d)) / 6.0
