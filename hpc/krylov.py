"""Preconditioned conjugate gradients on distributed vectors.

All vectors are complete (see hpc.distributed): owned entries hold the global
values, ghost entries their owners' copies. The operator returns complete
vectors and the preconditioner is node-local (Jacobi or block-Jacobi from the
assembled diagonal), so every iterate stays complete without extra
exchanges. Per iteration: one matvec (two halo exchanges) and two allreduces,
p.Ap and the fused pair (r.z, r.r).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Union

import numpy as np
from mpi4py import MPI

from .distributed import DistributedMatrix

try:  # y += A x for a block-diagonal BSR matrix, into a preallocated y
    from scipy.sparse._sparsetools import bsr_matvec as _bsr_matvec
except ImportError:  # pragma: no cover - older or newer scipy layouts
    _bsr_matvec = None

#: an operator: a DistributedMatrix, or y = f(x) on complete vectors
Operator = Union[DistributedMatrix, Callable[[np.ndarray], np.ndarray]]
#: a preconditioner: (n_dofs,) inverse diagonal, (n_nodes, b, b) inverse blocks, or z = f(r)
Preconditioner = Union[np.ndarray, Callable[[np.ndarray], np.ndarray]]


class CGResult(NamedTuple):
    x: np.ndarray               #: (n_local_dofs,) complete solution
    iterations: int             #: CG iterations done (0 when x0 already met rtol)
    relative_residual: float    #: ||b - A x|| / ||b|| of the recurrence residual (0 when b = 0)


def jacobi(matrix: DistributedMatrix) -> np.ndarray:
    """(n_local_dofs,) complete inverse of the assembled diagonal."""
    d = matrix.diagonal()
    if np.any(d <= 0.0):
        raise ValueError("Jacobi needs a positive diagonal: the matrix is not SPD")
    return 1.0 / d


def block_jacobi(matrix: DistributedMatrix) -> np.ndarray:
    """(n_local, b, b) complete inverses of the assembled per-node diagonal blocks.

    For elasticity (b = 3) this couples the three components of a node, which
    Jacobi ignores; it costs one small dense inverse per node, once.
    """
    blocks = matrix.block_diagonal()
    return np.linalg.inv(blocks) if blocks.size else blocks


def pcg(A: Operator, b: np.ndarray, x0: np.ndarray, preconditioner: Preconditioner,
        comm: MPI.Comm | None = None, n_owned_dofs: int | None = None,
        rtol: float = 1e-8, max_iter: int = 1000) -> CGResult:
    """Solve A x = b for a symmetric positive definite distributed A.

    b: (n_local_dofs,) complete right-hand side (e.g. local assembly, then
    halo.reverse_add and halo.forward). x0: complete initial guess, e.g. the
    predictor from earlier time steps; it is not modified. comm and
    n_owned_dofs default to those of a DistributedMatrix A and are required for
    a callable A. Stops when ||r|| <= rtol ||b|| or after max_iter iterations:
    check relative_residual against rtol to detect non-convergence. Raises
    ValueError if b or x0 hold non-finite values, if the operator shows a
    non-positive or non-finite curvature p.Ap, or if the residual turns
    non-finite (the checks read the globally reduced scalars only, so every
    rank raises together and none waits in a collective; no extra reduction).
    Collective over comm; all ranks return the same iteration count.
    """
    if isinstance(A, DistributedMatrix):
        comm = A.comm if comm is None else comm
        n_owned_dofs = A.n_owned_dofs if n_owned_dofs is None else n_owned_dofs
        apply_A = A.matvec
    elif comm is None or n_owned_dofs is None:
        raise TypeError("pcg needs comm and n_owned_dofs when A is a plain callable")
    else:
        def apply_A(x, out):
            out[:] = A(x)
            return out
    apply_M = _preconditioner(preconditioner)
    n = n_owned_dofs
    sums = np.empty(3)

    def global_dots(*pairs) -> np.ndarray:
        """Global dot products of the given vector pairs in one allreduce."""
        k = len(pairs)
        for i, (u, v) in enumerate(pairs):
            sums[i] = np.dot(u[:n], v[:n])
        comm.Allreduce(MPI.IN_PLACE, sums[:k], op=MPI.SUM)
        return sums[:k].copy()

    x = np.array(x0, dtype=np.float64, copy=True)
    q = np.empty_like(x)
    r = b - apply_A(x, q)
    z = np.empty_like(x)
    apply_M(r, z)
    bb, rz, rr = global_dots((b, b), (r, z), (r, r))
    if not np.isfinite(bb + rr + rz):   # NaN or inf anywhere in b, x0 (or A x0, M r) on any rank
        raise ValueError("CG: non-finite right-hand side or initial guess")
    if bb == 0.0:
        x[:] = 0.0
        return CGResult(x, 0, 0.0)
    b_norm = np.sqrt(bb)
    if np.sqrt(rr) <= rtol * b_norm:
        return CGResult(x, 0, float(np.sqrt(rr) / b_norm))
    p = z.copy()
    step = np.empty_like(x)  # alpha*p and alpha*q, without a temporary per iteration
    iterations = 0
    for iterations in range(1, max_iter + 1):
        apply_A(p, q)
        (pq,) = global_dots((p, q))
        if not np.isfinite(pq):
            raise ValueError(f"CG breakdown at iteration {iterations}: p.Ap = {pq:g} (non-finite values)")
        if pq <= 0.0:
            raise ValueError(f"CG breakdown at iteration {iterations}: p.Ap = {pq:g} <= 0, "
                             f"the operator is not positive definite")
        alpha = rz / pq
        np.multiply(p, alpha, out=step)
        x += step
        np.multiply(q, alpha, out=step)
        r -= step
        apply_M(r, z)
        rz_next, rr = global_dots((r, z), (r, r))
        if not np.isfinite(rr + rz_next):
            raise ValueError(f"CG: non-finite residual at iteration {iterations}")
        if np.sqrt(rr) <= rtol * b_norm:
            break
        p *= rz_next / rz
        p += z
        rz = rz_next
    return CGResult(x, iterations, float(np.sqrt(rr) / b_norm))


def _preconditioner(M: Preconditioner) -> Callable[[np.ndarray, np.ndarray], None]:
    """z = M r written into a preallocated z, for the three accepted forms of M."""
    if callable(M):
        def apply(r, z):
            z[:] = M(r)
    elif M.ndim == 1:
        def apply(r, z):
            np.multiply(M, r, out=z)
    elif M.ndim == 3 and M.shape[1] == M.shape[2]:
        b = M.shape[1]
        if _bsr_matvec is None:
            def apply(r, z):
                np.matmul(M, r.reshape(-1, b, 1), out=z.reshape(-1, b, 1))
        else:
            # the blocks as a block-diagonal BSR product: one compiled loop, ~13x faster than
            # np.matmul's per-block dispatch on (n, 3, 3) stacks (benchmarks/README.md)
            n_blocks = M.shape[0]
            diagonal = np.arange(n_blocks + 1, dtype=np.int32 if n_blocks < 2**31 - 1 else np.int64)
            data = np.ascontiguousarray(M, dtype=np.float64).reshape(-1)

            def apply(r, z):
                z.fill(0.0)
                _bsr_matvec(n_blocks, n_blocks, b, b, diagonal, diagonal[:-1], data, r, z)
    else:
        raise ValueError(f"preconditioner must be (n_dofs,), (n_nodes, b, b) or callable, "
                         f"got shape {M.shape}")
    return apply
