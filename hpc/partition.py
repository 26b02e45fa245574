"""Split the cells of a tetrahedral mesh into parts, one per MPI rank.

The graph handed to METIS is the dual graph of the mesh: one vertex per cell,
one edge between two cells that share a triangular face. Only the four vertex
columns of a cell define it, so 4-node and 10-node tetrahedra on the same
vertices get the same partition.
"""
from __future__ import annotations

import numpy as np
import pymetis
import scipy.sparse as sp

#: METIS' random seed, fixed so that every rank computes the same partition
METIS_SEED = 42

#: the four faces of a tetrahedron as triples of its vertex slots
TET_FACES = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]], dtype=np.int64)


def dual_graph(cells: np.ndarray) -> sp.csr_matrix:
    """Face adjacency of the cells as an (n_cells, n_cells) symmetric CSR pattern.

    cells: (n_cells, k >= 4) int node ids; columns 0-3 are the tet vertices.
    Entry (i, j) is 1 when cells i and j share a face (never on the diagonal).
    """
    n_cells = cells.shape[0]
    faces = np.sort(cells[:, :4][:, TET_FACES], axis=2).reshape(-1, 3)
    face_cell = np.repeat(np.arange(n_cells, dtype=np.int64), 4)
    order = np.lexsort((faces[:, 2], faces[:, 1], faces[:, 0]))
    faces, face_cell = faces[order], face_cell[order]
    # a face shared by two cells shows up as two equal consecutive rows once sorted
    same = np.all(faces[1:] == faces[:-1], axis=1)
    a, b = face_cell[:-1][same], face_cell[1:][same]
    keep = a != b
    a, b = a[keep], b[keep]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    graph = sp.coo_matrix((np.ones(rows.size, dtype=np.int32), (rows, cols)),
                          shape=(n_cells, n_cells)).tocsr()
    graph.data[:] = 1  # duplicates (degenerate input) collapse to one edge
    graph.sort_indices()
    return graph


def partition_cells(cells: np.ndarray, n_parts: int) -> np.ndarray:
    """(n_cells,) int32 part in [0, n_parts) of each cell.

    cells: (n_cells, k >= 4) int node ids (only the 4 tet vertices are read).
    METIS (k-way for more than 8 parts, recursive bisection otherwise, as
    pymetis chooses) on the dual graph, with a fixed seed so that the same
    input gives the same partition on every rank and every run.
    n_parts == 1 gives all zeros without calling METIS. On very small meshes
    METIS may leave a part empty; the rest of hpc/ accepts ranks without cells.
    """
    cells = np.asarray(cells)
    if cells.ndim != 2 or cells.shape[1] < 4:
        raise ValueError(f"cells must be (n_cells, k>=4) node ids, got shape {cells.shape}")
    if not np.issubdtype(cells.dtype, np.integer):
        raise ValueError(f"cells must hold integer node ids, got dtype {cells.dtype}")
    n_cells = cells.shape[0]
    if int(n_parts) != n_parts or n_parts < 1:
        raise ValueError(f"n_parts must be a positive integer, got {n_parts}")
    if n_parts > n_cells:
        raise ValueError(f"cannot split {n_cells} cells into {n_parts} parts: "
                         f"use at most as many MPI ranks as cells")
    if n_cells and cells[:, :4].min() < 0:
        raise ValueError("cells hold negative node ids")
    if n_parts == 1:
        return np.zeros(n_cells, dtype=np.int32)
    graph = dual_graph(cells)
    options = pymetis.Options(seed=METIS_SEED)
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2 deprecates bare xadj/adjncy
        adjacency = pymetis.CSRAdjacency(graph.indptr, graph.indices)
        _, part = pymetis.part_graph(int(n_parts), adjacency, options=options)
    else:
        _, part = pymetis.part_graph(int(n_parts), xadj=graph.indptr, adjncy=graph.indices,
                                     options=options)
    return np.asarray(part, dtype=np.int32)
