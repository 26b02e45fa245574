"""Many cases on one partition: C local matrices over the same local layout, applied as one product.

A batch holds C ground models that share a mesh topology (fem.column_mesh) and
so a partition and a halo, each with its own matrix values. Vectors are
(C, n_local_dofs) float64, C-contiguous, one row per case, each row a complete
vector in the sense of hpc.distributed.

The C local matrices are stacked block-diagonally into one BSR matrix with the
halo's (3, 3) node blocks: case c's rows and columns are offset by c times the
local size. One call of scipy's compiled BSR kernel then multiplies every case
at once. The row pointers hold absolute offsets into the stacked block arrays,
so any contiguous run of cases is multiplied by passing the slice of row
pointers for that run: a case that has converged is skipped without copying
anything (`runs`). Each case's product is the same arithmetic, in the same
order, as a batch of that case alone, so a batch of N equals N batches of one
bit for bit.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse._sparsetools import bsr_matvec

from .halo import Halo


def runs(cases: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [c0, c1) of consecutive case indices in the ascending array `cases`."""
    cases = np.asarray(cases, dtype=np.int64)
    if cases.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cases) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [cases.size - 1]])
    return [(int(cases[s]), int(cases[e]) + 1) for s, e in zip(starts, ends)]


class StackedBlocks:
    """C square BSR matrices of one size as one block-diagonal BSR product over runs of cases."""

    def __init__(self, matrices: list[sp.bsr_matrix]):
        if not matrices:
            raise ValueError("a batch needs at least one case")
        n, b = matrices[0].shape[0], matrices[0].blocksize[0]
        if any(m.shape != (n, n) or m.blocksize != (b, b) for m in matrices):
            raise ValueError("every case of a batch needs a matrix of the same size and block size")
        self.n_cases, self.n, self.block = len(matrices), n, b
        self.n_block_rows = n // b
        nnz = np.array([m.indices.size for m in matrices], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(nnz)])
        big = max(int(offsets[-1]), self.n_cases * self.n_block_rows) >= np.iinfo(np.int32).max
        itype = np.int64 if big else np.int32
        self.indptr = np.empty(self.n_cases * self.n_block_rows + 1, dtype=itype)
        self.indices = np.empty(int(offsets[-1]), dtype=itype)
        self.data = np.empty(int(offsets[-1]) * b * b)
        nbr = self.n_block_rows
        for c, m in enumerate(matrices):
            self.indptr[c * nbr:(c + 1) * nbr] = m.indptr[:-1] + offsets[c]
            self.indices[offsets[c]:offsets[c + 1]] = m.indices + c * nbr
            self.data[offsets[c] * b * b:offsets[c + 1] * b * b] = m.data.reshape(-1)
        self.indptr[-1] = offsets[-1]

    @property
    def nbytes(self) -> int:
        """Bytes one product of every case reads: values, block column indices, row pointers."""
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    def product(self, x: np.ndarray, y: np.ndarray, cases: np.ndarray) -> None:
        """y[c] = A_c x[c] for c in cases (ascending); other rows of y are left as they are."""
        b, nbr = self.block, self.n_block_rows
        flat_x = x.reshape(-1)
        for c0, c1 in runs(cases):
            out = y[c0:c1].reshape(-1)
            out.fill(0.0)
            bsr_matvec((c1 - c0) * nbr, self.n_cases * nbr, b, b, self.indptr[c0 * nbr:c1 * nbr + 1],
                       self.indices, self.data, flat_x, out)


def _bsr(matrix: sp.spmatrix, block: int) -> sp.bsr_matrix:
    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    return m.tobsr(blocksize=(block, block))


class BatchedMatrix:
    """C global matrices, each held as this rank's local matrix (hpc.distributed), on one halo.

    locals: C (n_local_dofs, n_local_dofs) sparse matrices assembled from this
    rank's cells, in the halo's local dof numbering. matvec takes and returns
    complete (C, n_local_dofs) vectors, computing only the given cases.
    """

    def __init__(self, locals: list[sp.spmatrix], halo: Halo):
        n = halo.n_local_dofs
        if any(m.shape != (n, n) for m in locals):
            raise ValueError(f"every local matrix must be ({n}, {n}), the halo's local dofs")
        self.halo = halo
        self.stack = StackedBlocks([_bsr(m, halo.block) for m in locals])
        self._exchange = halo.comm.Get_size() > 1

    @property
    def n_cases(self) -> int:
        return self.stack.n_cases

    @property
    def n_local_dofs(self) -> int:
        return self.halo.n_local_dofs

    @property
    def n_owned_dofs(self) -> int:
        return self.halo.n_owned_dofs

    @property
    def comm(self):
        return self.halo.comm

    @property
    def nbytes(self) -> int:
        return self.stack.nbytes

    def all_cases(self) -> np.ndarray:
        return np.arange(self.n_cases)

    def matvec(self, x: np.ndarray, out: np.ndarray | None = None, cases: np.ndarray | None = None) -> np.ndarray:
        """out[c] = A_c x[c] for c in cases (default: all), complete; x's rows must be complete."""
        cases = self.all_cases() if cases is None else cases
        if out is None:
            out = np.zeros_like(x)
        if np.may_share_memory(out, x):
            raise ValueError("matvec cannot work in place")
        self.stack.product(x, out, cases)
        if self._exchange:
            for c in cases:
                self.halo.reverse_add(out[c])
                self.halo.forward(out[c])
        return out

    __call__ = matvec

    def block_diagonal(self) -> np.ndarray:
        """(C, n_local, b, b) complete diagonal node blocks of every case's global matrix."""
        s, b, n = self.stack, self.halo.block, self.halo.n_local
        blocks = np.zeros((self.n_cases, n, b, b))
        data = s.data.reshape(-1, b, b)
        row = np.repeat(np.arange(s.n_cases * n), np.diff(s.indptr))
        diagonal = s.indices == row
        blocks.reshape(-1, b, b)[row[diagonal]] = data[diagonal]
        if self._exchange:
            for c in range(self.n_cases):
                for k in range(b):  # the halo moves block values per node: one column at a time
                    column = np.ascontiguousarray(blocks[c, :, :, k])
                    self.halo.reverse_add(column)
                    self.halo.forward(column)
                    blocks[c, :, :, k] = column
        return blocks


class BlockJacobi:
    """Batched block-Jacobi: the inverse of each node's (b, b) diagonal block, per case, as one product."""

    def __init__(self, matrix: BatchedMatrix):
        inverse = np.linalg.inv(matrix.block_diagonal())
        b, n = matrix.halo.block, matrix.halo.n_local
        diagonal = sp.bsr_matrix((inverse[0], np.arange(n), np.arange(n + 1)), shape=(n * b, n * b))
        self.stack = StackedBlocks([diagonal] * matrix.n_cases)
        self.stack.data[:] = inverse.reshape(-1)

    def apply(self, r: np.ndarray, z: np.ndarray, cases: np.ndarray) -> None:
        """z[c] = M_c r[c] for c in cases."""
        self.stack.product(r, z, cases)
