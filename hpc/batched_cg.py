"""Preconditioned conjugate gradients for a batch of independent systems A_c x_c = b_c.

Every case keeps its own scalars (alpha, beta, the residual norm) and stops on
its own: once a case meets its tolerance it drops out of the products, the
preconditioner and the reductions, so a converged case costs nothing while the
others go on. Per iteration the whole batch makes one stacked product, one
preconditioner application and two allreduces (p.Ap of every active case; the
fused pair r.z, r.r), as hpc.krylov.pcg does for one case.

A case fails without stopping the others: a non-positive or non-finite
curvature p.Ap, a non-finite residual, or no convergence within max_iter. Its
row of x is then meaningless and `failed` says why; the caller drops it.
Each case's arithmetic is the same sequence of numpy calls on its own
contiguous row whatever the batch, so a case solved in a batch equals the
case solved alone bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI

from .batched import BatchedMatrix, BlockJacobi


@dataclass
class BatchCG:
    x: np.ndarray                 #: (C, n) complete solutions (rows of failed cases are meaningless)
    residual: np.ndarray          #: (C, n) recurrence residual b - A x of each case
    iterations: np.ndarray        #: (C,) iterations each case made
    relative_residual: np.ndarray  #: (C,) ||r|| / ||b|| at the end (0 where b = 0)
    failed: dict[int, str] = field(default_factory=dict)  #: case -> why it failed


class _Dots:
    """Global dot products of vector pairs over the owned entries of the listed cases, one allreduce."""

    def __init__(self, comm: MPI.Comm, n_owned: int, n_cases: int):
        self.comm, self.n = comm, n_owned
        self.sums = np.zeros((3, n_cases))

    def __call__(self, cases: np.ndarray, *pairs) -> np.ndarray:
        k, n = len(pairs), self.n
        out = self.sums[:k]
        out.fill(0.0)
        for c in cases:
            for i, (u, v) in enumerate(pairs):
                out[i, c] = np.dot(u[c, :n], v[c, :n])
        if self.comm.Get_size() > 1:
            self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return out.copy()


def pcg_batched(A: BatchedMatrix, b: np.ndarray, x0: np.ndarray, M: BlockJacobi, cases: np.ndarray,
                rtol: float = 1e-8, max_iter: int = 1000) -> BatchCG:
    """Solve A_c x_c = b_c for the listed cases (ascending); rows of other cases are returned as x0.

    b, x0: (C, n_local_dofs) complete. Collective over A.comm: every rank must
    pass the same cases, and every rank returns the same iterations and
    failures.
    """
    cases = np.asarray(cases, dtype=np.int64)
    n_cases = A.n_cases
    dots = _Dots(A.comm, A.n_owned_dofs, n_cases)
    x = np.array(x0, dtype=np.float64, copy=True)
    r = np.zeros_like(x)
    q = np.zeros_like(x)
    z = np.zeros_like(x)
    A.matvec(x, q, cases)
    for c in cases:
        np.subtract(b[c], q[c], out=r[c])
    M.apply(r, z, cases)
    bb, rz, rr = dots(cases, (b, b), (r, z), (r, r))
    iterations = np.zeros(n_cases, dtype=np.int64)
    relres = np.zeros(n_cases)
    failed: dict[int, str] = {}
    b_norm = np.sqrt(bb)
    active = []
    for c in cases:
        if not np.isfinite(bb[c] + rr[c]):
            failed[int(c)] = "non-finite right-hand side or initial guess"
        elif bb[c] == 0.0:
            x[c] = 0.0
            r[c] = 0.0
        elif np.sqrt(rr[c]) <= rtol * b_norm[c]:
            relres[c] = np.sqrt(rr[c]) / b_norm[c]
        else:
            active.append(c)
    active = np.array(active, dtype=np.int64)
    p = z.copy()
    step = np.empty(x.shape[1])
    for _ in range(max_iter):
        if active.size == 0:
            break
        A.matvec(p, q, active)
        (pq,) = dots(active, (p, q))
        keep = []
        for c in active:
            if not (np.isfinite(pq[c]) and pq[c] > 0.0):
                failed[int(c)] = (f"CG breakdown at iteration {iterations[c] + 1}: p.Ap = {pq[c]:g} "
                                  f"(non-finite values or an operator that is not positive definite)")
                continue
            alpha = rz[c] / pq[c]
            np.multiply(p[c], alpha, out=step)
            x[c] += step
            np.multiply(q[c], alpha, out=step)
            r[c] -= step
            iterations[c] += 1
            keep.append(c)
        active = np.array(keep, dtype=np.int64)
        M.apply(r, z, active)
        rz_next, rr = dots(active, (r, z), (r, r))
        keep = []
        for c in active:
            relres[c] = np.sqrt(rr[c]) / b_norm[c]
            if not np.isfinite(relres[c]):
                failed[int(c)] = f"non-finite residual at CG iteration {iterations[c]}"
            elif relres[c] > rtol:
                p[c] *= rz_next[c] / rz[c]
                p[c] += z[c]
                rz[c] = rz_next[c]
                keep.append(c)
        active = np.array(keep, dtype=np.int64)
    for c in active:
        failed[int(c)] = f"CG did not converge in {max_iter} iterations (relative residual {relres[c]:.2e})"
    return BatchCG(x, r, iterations, relres, failed)
