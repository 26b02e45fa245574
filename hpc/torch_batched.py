"""The batched solve (hpc.batched, hpc.batched_cg, hpc.projection) on torch tensors, on CPU or CUDA.

Same objects, same semantics, other arrays: vectors are (C, n_local_dofs)
torch tensors on one device (float64 by default), one row per case, each row
a complete vector in the sense of hpc.distributed. Only this module imports
torch; fem.batch imports it when a scenario or the command line asks for the
torch backend, so the rest of the project runs without torch's GPU build (or
without a GPU).

Matrix storage. Cases of one batch share the mesh topology, so their local
matrices have one sparsity pattern (the common case: fem.column_mesh). The C
matrices are held, as in hpc.batched, block-diagonally stacked in one BSR
tensor with the halo's (3, 3) node blocks; the values are one contiguous
(C * nnzb, 3, 3) tensor, case-major, i.e. a (C, nnzb, 3, 3) tensor when the
pattern is shared. With a shared pattern the stacked row pointers and block
columns are generated on the device from the one pattern (one scipy->BSR
conversion per case on the host, one pattern upload). The stacked layout
repeats the block column index per case: 4 bytes next to the 72 bytes of a
float64 3x3 block, 5 % of what a product reads, and buys one vendor kernel for
the whole batch (cuSPARSE bsrmv on CUDA, MKL on CPU). Kernels (`kernel=`):

* ``bsr``    the stacked BSR tensor, torch.mv (cuSPARSE bsrmv / MKL). Default
             wherever the device runs it (probed at construction).
* ``csr``    the same matrices as one stacked scalar CSR tensor (cuSPARSE
             SpMV / MKL): 4 bytes of index per 8-byte value, 50 % more traffic;
             the fallback where BSR products are not available.
* ``gather`` the shared pattern only, held once: x gathered at the block
             columns, (C, nnzb) batched 3x3 matmuls, index_add_ into the block
             rows. Four passes over (C, nnzb, 3) temporaries and atomics on
             CUDA (so not bitwise reproducible there); 7x slower than ``bsr``
             on CPU. Kept as the pure-torch reference for benchmarks/gpu_check.py.

When the patterns differ, the per-case block arrays are stacked one after the
other as hpc.batched.StackedBlocks does (``gather`` is then refused).

Skipping converged cases (`skip=`). The rows of a run of consecutive cases
are a contiguous slice of the stacked matrix and of every (C, n) tensor, so a
run costs one product with no copy (hpc.batched does the same with scipy):

* ``runs`` one product (and one vector operation) per run of consecutive
           listed cases: converged cases cost nothing. Default on CPU, where
           the work is proportional to the rows and a call costs ~10 us.
* ``span`` one product over [first listed case, last listed case]: converged
           cases in between are computed too (their results ignored; PCG
           updates them with a zero step). Default on CUDA, where a launch
           costs more than the rows of a few small cases, and one launch per
           operation keeps the GPU busy. index_select of the active rows is
           not used: it would copy the active cases' matrix values (as many
           bytes as the product reads) on every call.

matvec(x, out, cases) therefore computes at least the listed cases; with
``span``, rows of unlisted cases between listed ones are overwritten with
their own products (A_c x_c), which the solver and fem.batch never read.

MPI (comm size > 1). After the local product, every listed case's row is made
complete through the existing hpc.halo.Halo on the host: the boundary entries
(the ghost dofs and the owned dofs other ranks ghost) of the computed rows are
copied to a host buffer in one transfer, Halo.reverse_add and Halo.forward
run per case on that buffer, and the changed entries come back in one
transfer. Cost per product: two device<->host copies of (cases x boundary
dofs) values, a synchronisation, and the host halo's messages; on CPU
float64 the halo works in place on the tensor's memory (no copy). Global dot
products are one batched reduction over the owned entries on the device and,
with several ranks, one MPI allreduce of (k, C) values on the host.

Round-off. The reductions sum in another order than numpy's np.dot and the
sparse kernels in another order than scipy's bsr_matvec, so results equal the
numpy backend to round-off, not bit for bit (tests/test_torch_batched.py).
The block-Jacobi inverses are computed on the host by numpy exactly as the
numpy backend does, so the preconditioners are equal bit for bit.

Measured (CPU, one thread of a shared 2-core machine, torch 2.13 with MKL;
32 drawn benchmark models, column meshes of 16,473 dofs, 527k dofs in all,
step matrices at dt = 0.02 s, rtol 1e-8, zero initial guess, medians):

    product, all cases       numpy 70 ms   torch bsr 42-47 ms  csr 48-58 ms
    product, every other     numpy 29-34   torch runs 22-29    span 40-54
    block Jacobi             numpy 2.1-7.5 torch sparse 0.5-2.5 (matmul 2-6)
    PCG (87..113 iterations) numpy 7.0-7.1 s  torch runs 5.7-6.2 s  span 7.1 s
    time loop, 8 cases x 14,739 dofs, 100 steps (fem.batch with the hook):
                             numpy 102 s   torch 59-65 s

so skipping converged cases pays on CPU (runs). On CUDA nothing is measured
yet: benchmarks/gpu_check.py measures the kernels, both skips and the PCG.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from mpi4py import MPI

from .batched import _bsr, runs
from .batched_cg import BatchCG
from .halo import Halo

KERNELS = ("auto", "bsr", "csr", "gather")
SKIPS = ("auto", "runs", "span")
_INT32_MAX = np.iinfo(np.int32).max


def _compressed(layout: str, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size) -> torch.Tensor:
    """A BSR or CSR tensor from trusted arrays, without torch's 'support is in beta' warning."""
    make = torch.sparse_bsr_tensor if layout == "bsr" else torch.sparse_csr_tensor
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse (BSR|CSR) tensor support is in beta")
        return make(crow, col, values, size=size, check_invariants=False)


def resolve_device(device: str | torch.device | None, comm: MPI.Comm | None = None) -> torch.device:
    """The torch device of this rank: 'cpu', 'cuda' (one GPU per rank: local rank modulo the GPUs of
    the node), 'cuda:K', or 'auto' (cuda where available, else cpu)."""
    name = "cpu" if device is None else str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' asked for, but torch finds no CUDA device "
                               f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
        local = 0
        if comm is not None and comm.Get_size() > 1:
            node = comm.Split_type(MPI.COMM_TYPE_SHARED)
            local = node.Get_rank()
            node.Free()
        return torch.device("cuda", local % torch.cuda.device_count())
    return torch.device(name)


def spans(cases: np.ndarray, mode: str) -> list[tuple[int, int]]:
    """Row ranges [c0, c1) that cover the ascending case indices: their runs, or one span."""
    r = runs(cases)
    if mode == "span" and len(r) > 1:
        return [(r[0][0], r[-1][1])]
    return r


def _default_skip(device: torch.device) -> str:
    return "span" if device.type == "cuda" else "runs"


def _index_dtype(*sizes: int) -> torch.dtype:
    return torch.int64 if max(sizes) >= _INT32_MAX else torch.int32


class _Stacked:
    """C square block-sparse matrices stacked block-diagonally in one compressed torch tensor.

    values: (sum of nnzb, b, b) case-major (b = 1: scalar CSR, values (sum of nnz,)).
    Products over a run [c0, c1) use the slice of the row pointers of that run
    with the absolute block columns, as hpc.batched.StackedBlocks does.
    """

    def __init__(self, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n_cases: int,
                 n_block_rows: int, block: int):
        self.crow, self.col, self.values = crow, col, values
        self.n_cases, self.nbr, self.block = n_cases, n_block_rows, block
        self.size = n_cases * n_block_rows * block
        self._crow_host = crow.cpu().numpy()   # row pointers on the host: run boundaries without a sync
        self._cache: dict[tuple[int, int], torch.Tensor] = {}

    @classmethod
    def build(cls, indptrs: list[np.ndarray], indices: list[np.ndarray], data: list[np.ndarray],
              n_block_rows: int, block: int, device: torch.device, dtype: torch.dtype) -> "_Stacked":
        """From per-case compressed arrays (host): one pattern generated on the device when all are equal."""
        n_cases = len(data)
        nnz = np.array([i.size for i in indices], dtype=np.int64)
        total = int(nnz.sum())
        itype = _index_dtype(total, n_cases * n_block_rows)
        shape = (total,) if block == 1 else (total, block, block)
        values = torch.empty(shape, dtype=dtype, device=device)
        offsets = np.concatenate([[0], np.cumsum(nnz)])
        for c, d in enumerate(data):
            values[offsets[c]:offsets[c + 1]].copy_(torch.from_numpy(d.reshape((-1,) + shape[1:])))
        shared = all(np.array_equal(indptrs[0], p) and np.array_equal(indices[0], i)
                     for p, i in zip(indptrs[1:], indices[1:]))
        if shared:
            ip = torch.from_numpy(indptrs[0].astype(np.int64)).to(device)
            ix = torch.from_numpy(indices[0].astype(np.int64)).to(device)
            case = torch.arange(n_cases, dtype=torch.int64, device=device)[:, None]
            crow = torch.cat([(ip[None, :-1] + case * int(nnz[0])).reshape(-1),
                              torch.tensor([total], dtype=torch.int64, device=device)])
            col = (ix[None, :] + case * n_block_rows).reshape(-1)
            crow, col = crow.to(itype), col.to(itype)
        else:
            itype_np = np.int64 if itype == torch.int64 else np.int32
            crow_np = np.empty(n_cases * n_block_rows + 1, dtype=itype_np)
            col_np = np.empty(total, dtype=itype_np)
            for c in range(n_cases):
                crow_np[c * n_block_rows:(c + 1) * n_block_rows] = indptrs[c][:-1] + offsets[c]
                col_np[offsets[c]:offsets[c + 1]] = indices[c] + c * n_block_rows
            crow_np[-1] = total
            crow, col = torch.from_numpy(crow_np).to(device), torch.from_numpy(col_np).to(device)
        stacked = cls(crow, col, values, n_cases, n_block_rows, block)
        stacked.shared = shared
        return stacked

    def _tensor(self, c0: int, c1: int) -> torch.Tensor:
        key = (c0, c1)
        t = self._cache.get(key)
        if t is None:
            nbr, b = self.nbr, self.block
            lo, hi = int(self._crow_host[c0 * nbr]), int(self._crow_host[c1 * nbr])
            crow = self.crow[c0 * nbr:c1 * nbr + 1]
            if lo:
                crow = crow - lo
            shape = ((c1 - c0) * nbr * b, self.size)
            t = _compressed("bsr" if b > 1 else "csr", crow, self.col[lo:hi], self.values[lo:hi], shape)
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = t
        return t

    def product(self, x: torch.Tensor, y: torch.Tensor, c0: int, c1: int) -> None:
        """y[c0:c1] = A_c x[c] (x: all C rows, contiguous)."""
        torch.mv(self._tensor(c0, c1), x.view(-1), out=y[c0:c1].view(-1))

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.values, self.col, self.crow))


def _probe(device: torch.device, dtype: torch.dtype, layout: str) -> bool:
    """Whether torch multiplies a (3, 3)-block BSR (or CSR) tensor by a vector on this device."""
    try:
        crow = torch.tensor([0, 1, 2], dtype=torch.int32, device=device)
        col = torch.tensor([0, 1], dtype=torch.int32, device=device)
        if layout == "bsr":
            a = _compressed("bsr", crow, col, torch.ones(2, 3, 3, dtype=dtype, device=device), (6, 6))
        else:
            a = _compressed("csr", crow, col, torch.ones(2, dtype=dtype, device=device), (2, 2))
        y = torch.mv(a, torch.ones(a.shape[1], dtype=dtype, device=device))
        expect = 3.0 if layout == "bsr" else 1.0
        return bool(torch.all(y == expect))
    except (RuntimeError, NotImplementedError, TypeError):
        return False


class _BoundaryExchange:
    """Halo.reverse_add + Halo.forward of rows of a (C, n) tensor, through host numpy buffers."""

    def __init__(self, halo: Halo, device: torch.device, dtype: torch.dtype):
        self.halo, self.device, self.dtype = halo, device, dtype
        self.index_np = np.union1d(halo._ghost_dofs, halo._shared_dofs).astype(np.int64)
        self.index = torch.from_numpy(self.index_np).to(device)
        self.buffer = np.zeros(halo.n_local_dofs)
        self.in_place = device.type == "cpu" and dtype == torch.float64

    def __call__(self, y: torch.Tensor, cases: np.ndarray) -> None:
        halo = self.halo
        if self.in_place:   # the tensor's memory is numpy's: no copy
            for c in cases:
                row = y[int(c)].numpy()
                halo.reverse_add(row)
                halo.forward(row)
            return
        if self.index_np.size == 0:   # a rank with no neighbours still takes part in every exchange
            for c in cases:
                halo.reverse_add(self.buffer)
                halo.forward(self.buffer)
            return
        rows = torch.as_tensor(np.asarray(cases, dtype=np.int64), device=self.device)
        values = y.index_select(0, rows).index_select(1, self.index).to("cpu", torch.float64).numpy()
        buf, idx = self.buffer, self.index_np
        for i in range(len(cases)):
            buf[idx] = values[i]
            halo.reverse_add(buf)
            halo.forward(buf)
            values[i] = buf[idx]
        back = torch.from_numpy(values).to(self.device, self.dtype)
        y[rows[:, None], self.index[None, :]] = back


class TorchBatchedMatrix:
    """C global matrices, each held as this rank's local matrix, on one halo, as torch tensors.

    The torch twin of hpc.batched.BatchedMatrix: locals are C (n_local_dofs,
    n_local_dofs) scipy sparse matrices in the halo's local dof numbering;
    matvec takes and returns complete (C, n_local_dofs) tensors on `device`.
    kernel: 'auto', 'bsr', 'csr' or 'gather'; skip: 'auto', 'runs' or 'span'
    (module docstring).
    """

    def __init__(self, locals: list[sp.spmatrix], halo: Halo, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float64, kernel: str = "auto", skip: str = "auto"):
        if not locals:
            raise ValueError("a batch needs at least one case")
        if kernel not in KERNELS or skip not in SKIPS:
            raise ValueError(f"kernel must be one of {KERNELS} and skip one of {SKIPS}, got {kernel!r}, {skip!r}")
        n, b = halo.n_local_dofs, halo.block
        if any(m.shape != (n, n) for m in locals):
            raise ValueError(f"every local matrix must be ({n}, {n}), the halo's local dofs")
        self.halo = halo
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.dtype = dtype
        self.skip = _default_skip(self.device) if skip == "auto" else skip
        if kernel == "auto":
            kernel = ("bsr" if _probe(self.device, dtype, "bsr") else
                      "csr" if _probe(self.device, dtype, "csr") else "gather")
        self.kernel = kernel
        nbr = halo.n_local
        blocks = [_bsr(m, b) for m in locals]
        self.shared = all(np.array_equal(blocks[0].indptr, m.indptr) and np.array_equal(blocks[0].indices, m.indices)
                          for m in blocks[1:])
        if kernel == "gather" and not self.shared:
            raise ValueError("kernel 'gather' needs every case to have one sparsity pattern")
        self._diagonal = None
        if kernel == "csr":   # the values are scalar rows: keep the diagonal blocks from the host now
            self._diagonal = np.zeros((len(blocks), nbr, b, b))
            for c, m in enumerate(blocks):
                r = np.repeat(np.arange(nbr), np.diff(m.indptr))
                on = m.indices == r
                self._diagonal[c, r[on]] = m.data[on]
            scalar = [m.tocsr() for m in blocks]
            del blocks
            for m in scalar:
                m.sort_indices()
            self.stack = _Stacked.build([m.indptr for m in scalar], [m.indices for m in scalar],
                                        [m.data for m in scalar], n, 1, self.device, dtype)
        else:
            self._diagonal_index(blocks, nbr)
            self.stack = _Stacked.build([m.indptr for m in blocks], [m.indices for m in blocks],
                                        [m.data for m in blocks], nbr, b, self.device, dtype)
        self.values = self.stack.values
        if kernel == "gather":
            indptr, indices = blocks[0].indptr, blocks[0].indices
            self._row = torch.from_numpy(np.repeat(np.arange(nbr), np.diff(indptr))).to(self.device)
            self._col = torch.from_numpy(indices.astype(np.int64)).to(self.device)
            self._shared_values = self.values.view(len(blocks), -1, b, b)
            self.stack.crow = self.stack.col = None   # the stacked indices are not used: free them
        self._exchange = _BoundaryExchange(halo, self.device, dtype) if halo.comm.Get_size() > 1 else None

    def _diagonal_index(self, blocks: list[sp.bsr_matrix], nbr: int) -> None:
        """Where each case's diagonal blocks sit in the stacked values (for block_diagonal)."""
        pos, row = [], []
        offset = 0
        for c, m in enumerate(blocks):
            r = np.repeat(np.arange(nbr), np.diff(m.indptr))
            diagonal = np.flatnonzero(m.indices == r)
            pos.append(diagonal + offset)
            row.append(r[diagonal] + c * nbr)
            offset += m.indices.size
        self._diag_pos = torch.from_numpy(np.concatenate(pos)).to(self.device)
        self._diag_row = torch.from_numpy(np.concatenate(row)).to(self.device)

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
        """Bytes one product of every case reads from the matrix (values and indices)."""
        if self.kernel == "gather":
            return (self.values.numel() * self.values.element_size()
                    + (self._row.numel() + self._col.numel()) * 8)
        return self.stack.nbytes

    def all_cases(self) -> np.ndarray:
        return np.arange(self.n_cases)

    def spans(self, cases: np.ndarray) -> list[tuple[int, int]]:
        """The row ranges this matrix computes for the listed (ascending) cases."""
        return spans(cases, self.skip)

    def product(self, x: torch.Tensor, y: torch.Tensor, ranges: list[tuple[int, int]]) -> None:
        """y[c0:c1] = A_c x[c] (local, no halo exchange) for each range; x, y contiguous (C, n)."""
        if self.n_local_dofs == 0:   # a rank without cells (vendor kernels refuse empty matrices)
            return
        for c0, c1 in ranges:
            if self.kernel == "gather":
                k, b = c1 - c0, self.halo.block
                xg = x[c0:c1].view(k, -1, b).index_select(1, self._col)
                blocks = torch.matmul(self._shared_values[c0:c1], xg.unsqueeze(-1)).squeeze(-1)
                out = y[c0:c1].view(k, -1, b)
                out.zero_()
                out.index_add_(1, self._row, blocks)
            else:
                self.stack.product(x, y, c0, c1)

    def exchange(self, y: torch.Tensor, cases: np.ndarray) -> None:
        """Complete the rows of the listed cases across ranks (nothing on one rank). Collective."""
        if self._exchange is not None:
            self._exchange(y, cases)

    def matvec(self, x: torch.Tensor, out: torch.Tensor | None = None,
               cases: np.ndarray | None = None) -> torch.Tensor:
        """out[c] = A_c x[c] for c in cases (default: all), complete; x's rows must be complete.

        With skip 'span', rows of unlisted cases between listed ones are
        overwritten with their own products."""
        cases = self.all_cases() if cases is None else np.asarray(cases, dtype=np.int64)
        x = self._vector(x)
        if out is None:
            out = torch.zeros_like(x)
        if x.numel() and out.data_ptr() == x.data_ptr():
            raise ValueError("matvec cannot work in place")
        self.product(x, out, self.spans(cases))
        self.exchange(out, cases)
        return out

    __call__ = matvec

    def _vector(self, x) -> torch.Tensor:
        x = torch.as_tensor(x, device=self.device, dtype=self.dtype)
        if x.shape != (self.n_cases, self.n_local_dofs):
            raise ValueError(f"expected a ({self.n_cases}, {self.n_local_dofs}) tensor, got {tuple(x.shape)}")
        return x.contiguous()

    def block_diagonal(self) -> np.ndarray:
        """(C, n_local, b, b) complete diagonal node blocks of every case's global matrix (host numpy)."""
        b, n = self.halo.block, self.halo.n_local
        if self._diagonal is not None:
            blocks = self._diagonal.copy()
        else:
            flat = self.values.view(-1, b, b)
            blocks = torch.zeros((self.n_cases * n, b, b), dtype=torch.float64, device=self.device)
            blocks[self._diag_row] = flat[self._diag_pos].to(torch.float64)
            blocks = blocks.cpu().numpy().reshape(self.n_cases, n, b, b)
        if self.halo.comm.Get_size() > 1:
            for c in range(self.n_cases):
                for k in range(b):  # the halo moves block values per node: one column at a time
                    column = np.ascontiguousarray(blocks[c, :, :, k])
                    self.halo.reverse_add(column)
                    self.halo.forward(column)
                    blocks[c, :, :, k] = column
        return blocks


class TorchBlockJacobi:
    """Batched block-Jacobi on the device: the inverse of each node's (b, b) diagonal block, per case.

    The inverses are numpy's (np.linalg.inv on the host, as hpc.batched.BlockJacobi).
    method 'matmul': one batched (b, b) @ (b, 1) matmul per range of cases;
    'sparse': the inverses as a block-diagonal BSR tensor (with MKL on CPU 2-10x
    faster than the batched matmul); 'auto': 'sparse' where the matrix's kernel is BSR.
    """

    def __init__(self, matrix: TorchBatchedMatrix, method: str = "auto"):
        if method not in ("auto", "matmul", "sparse"):
            raise ValueError(f"method must be auto, matmul or sparse, got {method!r}")
        self.matrix = matrix
        b, n, C = matrix.halo.block, matrix.halo.n_local, matrix.n_cases
        self.block, self.n = b, n
        inverse = np.linalg.inv(matrix.block_diagonal())
        self.inverse = torch.from_numpy(inverse).to(matrix.device, matrix.dtype)   # (C, n, b, b)
        self.method = ("sparse" if matrix.kernel == "bsr" else "matmul") if method == "auto" else method
        if self.method == "sparse":
            itype = _index_dtype(C * n + 1)
            self._crow = torch.arange(C * n + 1, dtype=itype, device=matrix.device)
            self._col = self._crow[:-1]
            self._cache: dict[tuple[int, int], torch.Tensor] = {}

    def apply(self, r: torch.Tensor, z: torch.Tensor, cases: np.ndarray | None = None,
              ranges: list[tuple[int, int]] | None = None) -> None:
        """z[c] = M_c r[c] for c in cases (or for the given row ranges); r, z contiguous (C, n)."""
        if ranges is None:
            cases = self.matrix.all_cases() if cases is None else cases
            ranges = self.matrix.spans(np.asarray(cases, dtype=np.int64))
        b, n = self.block, self.n
        if n == 0:
            return
        for c0, c1 in ranges:
            k = c1 - c0
            if self.method == "sparse":   # the blocks of cases c0..c1 as a square block-diagonal matrix
                a = self._cache.get((c0, c1))
                if a is None:
                    a = _compressed("bsr", self._crow[:k * n + 1], self._col[:k * n],
                                    self.inverse[c0:c1].view(-1, b, b), (k * n * b, k * n * b))
                    if len(self._cache) > 256:
                        self._cache.clear()
                    self._cache[(c0, c1)] = a
                torch.mv(a, r[c0:c1].view(-1), out=z[c0:c1].view(-1))
            else:
                torch.matmul(self.inverse[c0:c1], r[c0:c1].view(k, n, b, 1), out=z[c0:c1].view(k, n, b, 1))


class _TorchDots:
    """Global dot products over the owned entries, per case, as batched reductions; one allreduce."""

    def __init__(self, comm: MPI.Comm, n_owned: int, n_cases: int, device: torch.device, dtype: torch.dtype):
        self.comm, self.n = comm, n_owned
        self.sums = torch.zeros((3, n_cases), dtype=dtype, device=device)

    def __call__(self, ranges: list[tuple[int, int]], *pairs) -> torch.Tensor:
        """(len(pairs), C) sums; rows of cases outside the ranges are 0."""
        out = self.sums[:len(pairs)]
        out.zero_()
        n = self.n
        for i, (u, v) in enumerate(pairs):
            for c0, c1 in ranges:
                torch.linalg.vecdot(u[c0:c1, :n], v[c0:c1, :n], dim=1, out=out[i, c0:c1])
        if self.comm.Get_size() > 1:
            host = out.to("cpu", torch.float64).numpy().copy()
            self.comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
            out.copy_(torch.from_numpy(host))
        return out.clone()


def pcg_batched_torch(A: TorchBatchedMatrix, b, x0, M: TorchBlockJacobi, cases,
                      rtol: float = 1e-8, max_iter: int = 1000) -> BatchCG:
    """Solve A_c x_c = b_c for the listed cases (ascending); rows of other cases are returned as x0.

    hpc.batched_cg.pcg_batched on torch tensors: the same per-case scalars,
    stopping rules and failure reasons. b, x0: (C, n_local_dofs) complete,
    tensors or numpy arrays (x0 None: zeros). Returns a BatchCG whose x and
    residual are tensors on A.device, iterations and relative_residual numpy.
    Collective over A.comm.

    Per iteration: one product and one preconditioner application per range
    of active cases (one range on CUDA), two batched reductions, and one
    device->host copy of the (2, C) curvatures and residual norms, from which
    the host decides, case by case, exactly as the numpy loop does. A case
    that leaves (breakdown, convergence, failure) gets zero step lengths on
    the device, so within a range its rows stay as they are.
    """
    dev, dtype = A.device, A.dtype
    cases = np.asarray(cases, dtype=np.int64)
    n_cases = A.n_cases
    b = A._vector(b)
    x0 = torch.zeros_like(b) if x0 is None else A._vector(x0)
    x = x0.clone()
    r, q, z = torch.zeros_like(x), torch.zeros_like(x), torch.zeros_like(x)
    iterations = np.zeros(n_cases, dtype=np.int64)
    relres = np.zeros(n_cases)
    failed: dict[int, str] = {}
    if cases.size == 0:
        return BatchCG(x, r, iterations, relres, failed)
    dots = _TorchDots(A.comm, A.n_owned_dofs, n_cases, dev, dtype)
    ranges = A.spans(cases)
    A.product(x, q, ranges)
    A.exchange(q, cases)
    for c0, c1 in ranges:
        torch.sub(b[c0:c1], q[c0:c1], out=r[c0:c1])
    M.apply(r, z, ranges=ranges)
    sums = dots(ranges, (b, b), (r, z), (r, r))
    bb, rz_host, rr = sums.to("cpu", torch.float64).numpy()
    rz = sums[1].clone()
    b_norm = np.sqrt(bb)
    active, zero = [], []
    for c in cases:
        if not np.isfinite(bb[c] + rr[c]):
            failed[int(c)] = "non-finite right-hand side or initial guess"
        elif bb[c] == 0.0:
            zero.append(c)
        elif np.sqrt(rr[c]) <= rtol * b_norm[c]:
            relres[c] = np.sqrt(rr[c]) / b_norm[c]
        else:
            active.append(c)
    if zero:
        rows = torch.as_tensor(zero, device=dev)
        x[rows] = 0.0
        r[rows] = 0.0
    active = np.array(active, dtype=np.int64)
    p = z.clone()
    mask = np.zeros(n_cases, dtype=bool)
    mask[active] = True
    on = torch.from_numpy(mask).to(dev)     # active cases, on the device
    for _ in range(max_iter):
        if active.size == 0:
            break
        ranges = A.spans(active)
        A.product(p, q, ranges)
        A.exchange(q, active)
        (pq,) = dots(ranges, (p, q))
        good = on & torch.isfinite(pq) & (pq > 0)
        alpha = torch.where(good, rz / torch.where(good, pq, 1.0), 0.0)[:, None]
        for c0, c1 in ranges:
            x[c0:c1].addcmul_(p[c0:c1], alpha[c0:c1])
            r[c0:c1].addcmul_(q[c0:c1], alpha[c0:c1], value=-1.0)
        M.apply(r, z, ranges=ranges)
        rz_next, rr_dev = dots(ranges, (r, z), (r, r))
        pq_h, rr_h = torch.stack((pq, rr_dev)).to("cpu", torch.float64).numpy()
        keep = []
        for c in active:
            if not (np.isfinite(pq_h[c]) and pq_h[c] > 0.0):
                failed[int(c)] = (f"CG breakdown at iteration {iterations[c] + 1}: p.Ap = {pq_h[c]:g} "
                                  f"(non-finite values or an operator that is not positive definite)")
                continue
            iterations[c] += 1
            keep.append(c)
        going = []
        for c in keep:
            relres[c] = np.sqrt(rr_h[c]) / b_norm[c]
            if not np.isfinite(relres[c]):
                failed[int(c)] = f"non-finite residual at CG iteration {iterations[c]}"
            elif relres[c] > rtol:
                going.append(c)
        active = np.array(going, dtype=np.int64)
        mask[:] = False
        mask[active] = True
        on = torch.from_numpy(mask).to(dev)
        beta = torch.where(on, rz_next / torch.where(on, rz, 1.0), 0.0)[:, None]
        for c0, c1 in ranges:
            p[c0:c1].mul_(beta[c0:c1]).add_(z[c0:c1])
        rz = torch.where(on, rz_next, rz)
    for c in active:
        failed[int(c)] = f"CG did not converge in {max_iter} iterations (relative residual {relres[c]:.2e})"
    listed = np.zeros(n_cases, dtype=bool)
    listed[cases] = True
    if not listed.all():   # rows of unlisted cases inside a span were touched: give them back as they came
        rows = torch.from_numpy(np.flatnonzero(~listed)).to(dev)
        x[rows] = x0[rows]
        r[rows] = 0.0
    return BatchCG(x, r, iterations, relres, failed)


#: eigenvalues of the Gram matrix below this fraction of the largest are dropped (as hpc.projection)
CUTOFF = 1e-12


class TorchSubspacePredictor:
    """hpc.projection.SubspacePredictor with its solutions on the device: (C, size, n) per-case ring buffers.

    The Gram matrices (C, size, size) and the small eigen-solves stay on the
    host (numpy, as in hpc.projection); the products with the stored
    solutions are batched matmuls per range of cases. The images A s, which
    hpc.projection stores but never reads, are not kept (half the memory).
    """

    def __init__(self, n_cases: int, n_local: int, n_owned: int, size: int, comm: MPI.Comm,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64, skip: str = "auto"):
        if size < 1:
            raise ValueError(f"projection size must be at least 1, got {size}")
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.size, self.n_owned, self.comm, self.dtype = size, n_owned, comm, dtype
        self.skip = _default_skip(self.device) if skip == "auto" else skip
        self.s = torch.zeros((n_cases, size, n_local), dtype=dtype, device=self.device)
        self.gram = np.zeros((n_cases, size, size))
        self.count = np.zeros(n_cases, dtype=np.int64)
        self.newest = np.full(n_cases, -1, dtype=np.int64)

    def _project(self, v: torch.Tensor, cases: np.ndarray) -> np.ndarray:
        """(C, size) s_i . v over owned entries for the listed cases (all slots; allreduced)."""
        n = self.n_owned
        out = torch.zeros((self.s.shape[0], self.size), dtype=self.dtype, device=self.device)
        for c0, c1 in spans(cases, self.skip):
            torch.matmul(self.s[c0:c1, :, :n], v[c0:c1, :n, None], out=out[c0:c1, :, None])
        host = out.to("cpu", torch.float64).numpy().copy()
        if self.comm.Get_size() > 1:
            self.comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        return host

    def guess(self, b, cases, out: torch.Tensor) -> None:
        """out[c] = the projection guess for right-hand side b[c], c in cases (zeros before any solution).

        With skip 'span', rows of unlisted cases between listed ones are set to zero."""
        cases = np.asarray(cases, dtype=np.int64)
        if cases.size == 0:
            return
        b = torch.as_tensor(b, device=self.device, dtype=self.dtype)
        sb = self._project(b, cases)
        coef = np.zeros((self.s.shape[0], self.size))
        for c in cases:
            m = self.count[c]
            if m == 0:
                continue
            value, vector = np.linalg.eigh(self.gram[c, :m, :m])
            keep = value > CUTOFF * value[-1]
            coef[c, :m] = vector[:, keep] @ ((vector[:, keep].T @ sb[c, :m]) / value[keep])
        coef_t = torch.from_numpy(coef).to(self.device, self.dtype)
        for c0, c1 in spans(cases, self.skip):
            k = c1 - c0
            torch.matmul(coef_t[c0:c1, None, :], self.s[c0:c1], out=out[c0:c1].view(k, 1, -1))
        empty = cases[self.count[cases] == 0]
        if empty.size:
            out[torch.from_numpy(empty).to(self.device)] = 0.0

    def add(self, x, ax, cases) -> None:
        """Store solution x[c] (image ax[c] = A x[c]) for c in cases, replacing the oldest."""
        cases = np.asarray(cases, dtype=np.int64)
        x = torch.as_tensor(x, device=self.device, dtype=self.dtype)
        ax = torch.as_tensor(ax, device=self.device, dtype=self.dtype)
        slot = (self.newest[cases] + 1) % self.size
        self.newest[cases] = slot
        self.count[cases] = np.minimum(self.count[cases] + 1, self.size)
        rows = torch.from_numpy(cases).to(self.device)
        self.s[rows, torch.from_numpy(slot).to(self.device)] = x.index_select(0, rows)
        column = self._project(ax, cases)        # s_i . A x_new = x_new . A s_i
        for c, k in zip(cases, slot):
            m = self.count[c]
            self.gram[c, k, :m] = column[c, :m]
            self.gram[c, :m, k] = column[c, :m]

    def drop(self, cases) -> None:
        """Forget every stored solution of the given cases (e.g. after they failed)."""
        for c in cases:
            self.count[c] = 0
            self.newest[c] = -1


class TorchBackend:
    """What fem.batch needs to run its time loop on torch tensors (constructors and conversions).

    The constructors take the numpy backend's arguments, so fem.batch swaps
    BatchedMatrix -> backend.matrix, BlockJacobi -> backend.preconditioner,
    pcg_batched -> backend.pcg, SubspacePredictor -> backend.predictor.
    """

    def __init__(self, device: str | torch.device | None, comm: MPI.Comm, dtype: torch.dtype = torch.float64,
                 kernel: str = "auto"):
        self.device = resolve_device(device, comm)
        self.dtype, self.kernel = dtype, kernel

    def matrix(self, locals: list[sp.spmatrix], halo: Halo) -> TorchBatchedMatrix:
        return TorchBatchedMatrix(locals, halo, self.device, self.dtype, self.kernel)

    def preconditioner(self, matrix: TorchBatchedMatrix) -> TorchBlockJacobi:
        return TorchBlockJacobi(matrix)

    pcg = staticmethod(pcg_batched_torch)

    def predictor(self, n_cases: int, n_local: int, n_owned: int, size: int, comm) -> TorchSubspacePredictor:
        return TorchSubspacePredictor(n_cases, n_local, n_owned, size, comm, self.device, self.dtype)

    def zeros(self, shape) -> torch.Tensor:
        return torch.zeros(shape, dtype=self.dtype, device=self.device)

    def from_host(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def to_host(self, t: torch.Tensor) -> np.ndarray:
        return t.detach().to("cpu", torch.float64).numpy()

    def rows(self, mask: np.ndarray) -> torch.Tensor:
        """A host boolean case mask as an index of rows on the device."""
        return torch.from_numpy(np.flatnonzero(mask)).to(self.device)
