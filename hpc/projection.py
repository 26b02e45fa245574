"""Initial guesses for a sequence of solves A x_k = b_k from the last solutions (Fischer 1998).

P. F. Fischer, "Projection techniques for iterative solution of Ax = b with
successive right-hand sides", Comput. Methods Appl. Mech. Engrg. 163 (1998).

A time-stepping solver solves one system per step with a slowly changing
right-hand side. Keep the last m solutions S = [s_1 .. s_m] and their images
W = A S (free: A s = b - r from CG's own residual). The guess x0 = S c with

    (S^T A S) c = S^T b

is the Galerkin projection of the new solution onto span(S): of all vectors in
that span it has the smallest error in the A-norm, which is the norm CG
minimises, so CG starts where it would otherwise arrive after several
iterations. Polynomial extrapolation of the last solutions is one particular
vector of that span, so the projection is never worse (in the A-norm) than the
extrapolation of the same solutions. Cost per step and case: 2m dot products
(the new column of S^T W and S^T b; one allreduce each) and m vector updates,
about one CG iteration at m = 8 for a low-order stiffness matrix.

The Gram matrix S^T A S becomes ill-conditioned as solutions of consecutive
steps are nearly parallel; it is solved through its eigendecomposition with
directions below a relative cutoff dropped, the minimum-norm least-squares
answer.
"""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

#: eigenvalues of the Gram matrix below this fraction of the largest are dropped
CUTOFF = 1e-12


class SubspacePredictor:
    """Per-case ring buffers of the last `size` solutions, (C, size, n), and their Gram matrices S^T A S.

    The images A s enter only through the Gram matrix, updated from each new image as it is added,
    so they are not kept."""

    def __init__(self, n_cases: int, n_local: int, n_owned: int, size: int, comm: MPI.Comm):
        if size < 1:
            raise ValueError(f"projection size must be at least 1, got {size}")
        self.size, self.n_owned, self.comm = size, n_owned, comm
        self.s = np.zeros((n_cases, size, n_local))
        self.gram = np.zeros((n_cases, size, size))
        self.count = np.zeros(n_cases, dtype=np.int64)   # solutions stored so far (capped at size)
        self.newest = np.full(n_cases, -1, dtype=np.int64)  # slot of the newest solution

    def _allreduce(self, a: np.ndarray) -> np.ndarray:
        if self.comm.Get_size() > 1:
            self.comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
        return a

    def guess(self, b: np.ndarray, cases: np.ndarray, out: np.ndarray) -> None:
        """out[c] = the projection guess for right-hand side b[c], c in cases (zeros before any solution)."""
        n = self.n_owned
        sb = np.zeros((self.s.shape[0], self.size))
        for c in cases:
            m = self.count[c]
            if m:
                sb[c, :m] = self.s[c, :m, :n] @ b[c, :n]
        self._allreduce(sb)
        for c in cases:
            m = self.count[c]
            if m == 0:
                out[c] = 0.0
                continue
            value, vector = np.linalg.eigh(self.gram[c, :m, :m])
            keep = value > CUTOFF * value[-1]
            coef = vector[:, keep] @ ((vector[:, keep].T @ sb[c, :m]) / value[keep])
            np.dot(coef, self.s[c, :m], out=out[c])

    def add(self, x: np.ndarray, ax: np.ndarray, cases: np.ndarray) -> None:
        """Store solution x[c] and its image ax[c] = A x[c] for c in cases, replacing the oldest."""
        n = self.n_owned
        slot = {}
        for c in cases:
            k = (self.newest[c] + 1) % self.size
            self.s[c, k] = x[c]
            self.newest[c] = k
            self.count[c] = min(self.count[c] + 1, self.size)
            slot[c] = k
        column = np.zeros((self.s.shape[0], self.size))
        for c in cases:
            m = self.count[c]
            column[c, :m] = self.s[c, :m, :n] @ ax[c, :n]    # s_i . A x_new = x_new . A s_i
        self._allreduce(column)
        for c in cases:
            m, k = self.count[c], slot[c]
            self.gram[c, k, :m] = column[c, :m]
            self.gram[c, :m, k] = column[c, :m]

    def drop(self, cases) -> None:
        """Forget every stored solution of the given cases (e.g. after they failed)."""
        for c in cases:
            self.count[c] = 0
            self.newest[c] = -1
