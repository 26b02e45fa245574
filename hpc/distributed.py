"""Distributed vectors and the distributed sparse matrix of a partitioned mesh.

Each rank assembles a LOCAL square CSR matrix over its owned and ghost dofs
from its own cells only. The global matrix is the sum of these local matrices
(each scattered to global numbering), so a global product is: local product,
reverse_add (owners collect the partial sums of shared rows), forward (ghosts
get the complete values).

A vector is *complete* when its owned entries hold the global values and its
ghost entries equal their owners' values. matvec takes and returns complete
vectors; dot products read only the owned entries, so shared nodes count once.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from mpi4py import MPI

from .halo import Halo
from .layout import LocalLayout

try:  # y += A x into a preallocated y; the public A @ x allocates every call
    from scipy.sparse._sparsetools import bsr_matvec as _bsr_matvec, csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - older or newer scipy layouts
    _bsr_matvec = _csr_matvec = None


class DistributedMatrix:
    """Global matrix held as per-rank local CSR matrices plus the halo that sums them.

    local: (n_local_dofs, n_local_dofs) sparse matrix assembled from this
    rank's cells only, in the local dof numbering of halo (dof = block*node +
    component). Stored as two float64 blocks of rows (owned, ghost) with int32
    indices when they fit, in BSR format with the halo's (block, block) node
    blocks: one column index per block instead of one per value cuts the bytes
    a matvec moves from 12 to 8.4 per value (for 3x3), and the product is
    memory bound (benchmarks/fem_throughput.py: 1.1-1.5x faster than CSR, median
    about 1.2x, on a 324k-dof order-2 matrix; timings on a shared box are noisy).
    """

    def __init__(self, local: sp.spmatrix, halo: Halo):
        n = halo.n_local_dofs
        if local.shape != (n, n):
            raise ValueError(f"local matrix is {local.shape}, the halo has {n} local dofs")
        csr = sp.csr_matrix(local, dtype=np.float64, copy=True)
        csr.sum_duplicates()
        csr.sort_indices()
        # ghost rows are the tail of the local numbering: computing them first lets
        # their messages travel while the owned rows are computed
        self._owned_rows = _compact(csr[:halo.n_owned_dofs], halo.block)
        self._ghost_rows = _compact(csr[halo.n_owned_dofs:], halo.block)
        self.halo = halo

    @property
    def comm(self) -> MPI.Comm:
        return self.halo.comm

    @property
    def n_owned_dofs(self) -> int:
        return self.halo.n_owned_dofs

    @property
    def n_local_dofs(self) -> int:
        return self.halo.n_local_dofs

    @property
    def nbytes(self) -> int:
        """Bytes of the stored matrix (values, indices, row pointers) that one matvec reads."""
        return sum(a.data.nbytes + a.indices.nbytes + a.indptr.nbytes for a in (self._owned_rows, self._ghost_rows))

    @property
    def local(self) -> sp.csr_matrix:
        """(n_local_dofs, n_local_dofs) the local matrix as given (a copy, rebuilt on each call)."""
        return sp.vstack([self._owned_rows, self._ghost_rows], format="csr")

    def matvec(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """y = A x for a complete x (owned and ghost entries valid); y is complete.

        out: optional preallocated (n_local_dofs,) float64 result (must not be x).
        """
        if out is None:
            out = np.empty(self.n_local_dofs)
        if np.may_share_memory(out, x):
            raise ValueError("matvec cannot work in place")
        x = np.ascontiguousarray(x, dtype=np.float64)
        n = self.n_owned_dofs
        _product(self._ghost_rows, x, out[n:])
        self.halo.reverse_add_begin(out)
        _product(self._owned_rows, x, out[:n])
        self.halo.reverse_add_end(out)
        self.halo.forward(out)
        return out

    __call__ = matvec

    def diagonal(self) -> np.ndarray:
        """(n_local_dofs,) complete diagonal of the global matrix."""
        d = np.concatenate([self._owned_rows.diagonal(), self._ghost_rows.diagonal(k=self.n_owned_dofs)])
        self.halo.reverse_add(d)
        self.halo.forward(d)
        return d

    def block_diagonal(self) -> np.ndarray:
        """(n_local, block, block) complete diagonal blocks of the global matrix (one per node)."""
        b, n = self.halo.block, self.halo.n_local
        entries = self.local.tocoo()  # duplicates were summed in __init__: one entry per (row, col)
        in_block = entries.row // b == entries.col // b
        row, col = entries.row[in_block], entries.col[in_block]
        blocks = np.zeros((n, b, b))
        blocks[row // b, row % b, col % b] = entries.data[in_block]
        for c in range(b):  # the halo moves block values per node: one column at a time
            column = np.ascontiguousarray(blocks[:, :, c])
            self.halo.reverse_add(column)
            self.halo.forward(column)
            blocks[:, :, c] = column
        return blocks


def _compact(a: sp.csr_matrix, block: int) -> sp.csr_matrix | sp.bsr_matrix:
    """a as BSR with (block, block) blocks (CSR for block 1), int32 index arrays when they fit."""
    a = sp.csr_matrix(a)
    if block > 1 and _bsr_matvec is not None:
        a = a.tobsr(blocksize=(block, block))
        a.data = np.ascontiguousarray(a.data)  # matvec passes a flat view of it
    if a.nnz < np.iinfo(np.int32).max and a.shape[1] < np.iinfo(np.int32).max:
        a.indices = a.indices.astype(np.int32)
        a.indptr = a.indptr.astype(np.int32)
    return a


def _product(a: sp.csr_matrix | sp.bsr_matrix, x: np.ndarray, y: np.ndarray) -> None:
    """y = a @ x written into the preallocated view y."""
    if isinstance(a, sp.bsr_matrix):
        r, c = a.blocksize
        y.fill(0.0)
        _bsr_matvec(a.shape[0] // r, a.shape[1] // c, r, c, a.indptr, a.indices, a.data.reshape(-1), x, y)
    elif _csr_matvec is not None:
        y.fill(0.0)
        _csr_matvec(a.shape[0], a.shape[1], a.indptr, a.indices, a.data, x, y)
    else:
        y[:] = a @ x


def dot(comm: MPI.Comm, n_owned_dofs: int, a: np.ndarray, b: np.ndarray) -> float:
    """Global dot product of two distributed vectors: sum over owned entries, allreduced.

    Collective over comm. Every rank gets the same value.
    """
    local = np.array([np.dot(a[:n_owned_dofs], b[:n_owned_dofs])])
    comm.Allreduce(MPI.IN_PLACE, local, op=MPI.SUM)
    return float(local[0])


def gather_global(comm: MPI.Comm, layout: LocalLayout, values: np.ndarray,
                  root: int = 0) -> np.ndarray | None:
    """Owned node values of every rank, in global node order, on `root`.

    values: node-major array (n_owned or n_local, ...) (e.g. (n_local, 3)
    displacements); only the first n_owned rows are read. The trailing shape
    must be the same on every rank. Returns (n_global_nodes, ...) float64 on
    root (zeros at nodes no cell touches) and None elsewhere. Collective.
    """
    values = np.asarray(values, dtype=np.float64)
    owned = np.ascontiguousarray(values[:layout.n_owned])
    per_node = int(np.prod(owned.shape[1:], dtype=np.int64))
    counts = np.zeros(comm.Get_size(), dtype=np.int64)
    comm.Gather(np.array([layout.n_owned], dtype=np.int64), counts, root=root)
    is_root = comm.Get_rank() == root
    ids = np.empty(int(counts.sum()) if is_root else 0, dtype=np.int64)
    vals = np.empty((ids.size, per_node) if is_root else (0, per_node))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    comm.Gatherv(np.ascontiguousarray(layout.nodes[:layout.n_owned]),
                 [ids, (counts, offsets), MPI.INT64_T], root=root)
    comm.Gatherv(owned.reshape(-1),
                 [vals, (counts * per_node, offsets * per_node), MPI.DOUBLE], root=root)
    if not is_root:
        return None
    result = np.zeros((layout.n_global_nodes, per_node))
    result[ids] = vals
    return result.reshape((layout.n_global_nodes,) + owned.shape[1:])
