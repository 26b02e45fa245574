"""One rank's view of a partitioned mesh: its cells, its owned nodes, its ghosts.

Every rank holds the global cell array and the partition (both small next to
the matrices), so each rank derives its own layout without communication.

Ownership rule: a node is owned by the lowest rank among the parts of the cells
that touch it. Every rank that touches a node it does not own keeps a ghost
copy of it. Local numbering: owned nodes first (ascending global id), then
ghosts (ascending global id), so owned values are the slice ``[:n_owned]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: owner of a node that no cell touches (it belongs to no rank)
NO_OWNER = -1


@dataclass(frozen=True)
class LocalLayout:
    cells: np.ndarray        #: (n_local_cells,) int64 indices of this rank's cells in the global cell array
    nodes: np.ndarray        #: (n_local_nodes,) int64 global node ids, owned (ascending) then ghosts (ascending)
    n_owned: int             #: number of owned nodes: nodes[:n_owned] are owned here
    owner: np.ndarray        #: (n_local_nodes,) int32 rank that owns each local node
    local_cells: np.ndarray  #: (n_local_cells, k) int64 this rank's cells in local node numbering
    n_global_nodes: int      #: number of nodes of the whole mesh

    @property
    def n_local(self) -> int:
        """Owned plus ghost nodes on this rank."""
        return int(self.nodes.size)

    @property
    def n_ghost(self) -> int:
        """Ghost nodes on this rank (owned by another rank)."""
        return self.n_local - self.n_owned


def node_owner(cells: np.ndarray, part: np.ndarray, n_nodes: int) -> np.ndarray:
    """(n_nodes,) int32 owning rank of every global node, NO_OWNER where no cell touches it.

    The owner is the lowest part among the cells that touch the node.
    """
    cells = np.asarray(cells)
    part = np.asarray(part)
    owner = np.full(n_nodes, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(owner, cells.ravel(), np.repeat(part.astype(np.int32), cells.shape[1]))
    owner[owner == np.iinfo(np.int32).max] = NO_OWNER
    return owner


def local_layout(cells: np.ndarray, part: np.ndarray, rank: int,
                 n_nodes: int | None = None) -> LocalLayout:
    """The layout of `rank` for the global cells and their partition.

    cells: (n_cells, k) int global node ids; part: (n_cells,) int rank of each
    cell (from partition_cells or any other rule); n_nodes: number of global
    nodes (default: largest id in cells + 1). A rank without cells gets an
    empty layout, which the halo and solvers accept.
    """
    cells = np.asarray(cells, dtype=np.int64)
    part = np.asarray(part)
    if cells.ndim != 2 or part.shape != (cells.shape[0],):
        raise ValueError(f"cells {cells.shape} and part {part.shape} do not match")
    if n_nodes is None:
        n_nodes = int(cells.max()) + 1 if cells.size else 0
    if cells.size and (cells.min() < 0 or cells.max() >= n_nodes):
        raise ValueError(f"cells refer to nodes outside 0..{n_nodes - 1}")
    mine = np.flatnonzero(part == rank).astype(np.int64)
    my_cells = cells[mine]
    touched = np.unique(my_cells)
    touched_owner = node_owner(cells, part, n_nodes)[touched]
    is_owned = touched_owner == rank
    # touched is ascending, so both groups stay ascending
    order = np.concatenate([np.flatnonzero(is_owned), np.flatnonzero(~is_owned)])
    local_of_touched = np.empty(touched.size, dtype=np.int64)
    local_of_touched[order] = np.arange(touched.size, dtype=np.int64)
    local_cells = local_of_touched[np.searchsorted(touched, my_cells)]
    return LocalLayout(cells=mine, nodes=touched[order], n_owned=int(is_owned.sum()),
                       owner=touched_owner[order].astype(np.int32),
                       local_cells=local_cells.reshape(my_cells.shape),
                       n_global_nodes=int(n_nodes))
