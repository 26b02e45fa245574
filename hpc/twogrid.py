"""Batched two-grid preconditioner: block-Jacobi smoothing around an aggregation coarse solve.

Block-Jacobi leaves the smooth, extended modes of the Newmark step matrix
A = M + gamma dt C + beta dt^2 K almost untouched: where beta dt^2 K
dominates the diagonal (stiff layers, dt vs / h above 1) they are the
smallest eigenvalues of D^-1 A (0.054 against 2.3 on the benchmark system,
kappa ~ 42). A coarse space of node aggregates holds them. For each case,
with S = omega D^-1 (block-Jacobi) and Q = P (P^T A P)^-1 P^T, `apply` does

    z = S r;   z += Q (r - A z);   z += S (r - A z)
    i.e. B = (2 S - S A S) + (I - S A) Q (I - A S).

SPD: S and Q are symmetric, so B is. 2S - SAS = S (2 S^-1 - A) S is positive
definite when omega lambda_max(D^-1 A) < 2, and the second term is positive
semi-definite for ANY symmetric positive semi-definite Q, so B is SPD however
rough the coarse solve (rank-local below). omega = DAMPING * 2 / lambda with
lambda from LANCZOS_STEPS preconditioned Lanczos steps per case; a Ritz value
approaches lambda_max from below (2.273 against 2.298 from eigsh on the
benchmark system, 1.1 % under), and DAMPING = 0.9 leaves 10 % for that.

Coarse space: the three translations on each aggregate, piecewise constant.
Aggregates: Vanek-Mandel-Brezina standard aggregation of the node graph of
the shared sparsity pattern, once for the batch, by the 30 lines below
rather than pyamg: it must run on each rank's owned nodes alone, and it
keeps the dependency out. Tuned on the benchmark models (CG iterations per
step from the projection guess, rtol 1e-8): DAMPING 0.8 / 0.9 / 0.95 gave
12.1 / 11.5 / 11.4; the smoothed prolongator (I - 4/(3 lambda) D^-1 A) P
gave 10.7 but 3.7 times the blocks in P^T, P and A P, slower per step;
adding the rigid rotations saves at most one iteration at twice the coarse size;
aggregates of the distance-2 graph (186 coarse dofs instead of 705) cost
2.5 iterations; two smoothing sweeps each side save 2-3 iterations for two
more matvecs; a float32 coarse inverse saves 4 % of an application and
B's exact symmetry: none of them pays.

Cost of one application: one stacked matvec and two block-Jacobi products of
the batch; per case P^T t (aggregate sums), one gemv with the dense
(P^T A P)^-1 (formed once from a Cholesky factor: a gemv is ten times
faster than two scipy triangular solves), and A P e with the compressed A P,
which merges each aggregate's columns (15k blocks against A's 54k, order 1;
15k against 127k, order 2), instead of a second matvec. It costs 2.2-2.6
matvecs (1.0-1.1 ms on the 12k-dof system, one core).

Measured by benchmarks/preconditioner.py (one rank, wall ms per step,
median of 5, shared 2-core box at load ~1; "old": block-Jacobi with the
polynomial predictor):

    problem (dofs, order)            old            BJ + projection   two-grid + projection
    benchmark model 0 (12156, 1)     47.8 it  32.0  31.7 it  20.7     11.5 it  19.9 (4.2x, 1.61x)
    benchmark model 1 (12786, 1)     48.5 it  30.7  32.3 it  23.3     11.3 it  21.3 (4.3x, 1.44x)
    throughput box 8^3 (14739, 2)    33.1 it  47.0  26.2 it  39.6     12.9 it  45.1 (2.6x, 1.04x)

Against the old solver the two-grid cuts iterations 4.2-4.3x on the order-1
benchmark models and the step time 1.4-1.6x, but most of the time comes
from the projection predictor: against block-Jacobi with the same predictor
it is 4-9 % faster (order 1) and 14 % slower (order 2, where block-Jacobi
already needs only 26 iterations). Its share grows with kappa ~ (dt vs / h)^2:
on tests/test_twogrid.py's box at dt = 0.05 s block-Jacobi needs 100
iterations and the two-grid 35 (7.4 -> 5.4 ms per solve), at 0.1 s 142 and
44 (10.2 -> 6.3 ms).

Under MPI aggregates hold owned nodes only and the coarse solve is
block-diagonal over ranks: rank r factorises P_r^T A P_r of its aggregates,
with A's owned-by-owned block completed by the entries other ranks assembled
(`_owned_block`, once). Q = sum_r P_r (P_r^T A P_r)^-1 P_r^T is symmetric
positive semi-definite, so B stays SPD (above); the iteration count may
change with the rank count (19-20 on 1-3 ranks in tests/mpi/test_twogrid.py).
P e is formed on owned dofs and forwarded to the ghosts; A P e is the
product over this rank's rows (ghost nodes carry their owner's aggregate,
numbered after ours) summed by the halo, as a matvec is.

Memory and set-up grow as nc^2 and nc^3 per case and rank (nc = 3 x
aggregates: dofs / 17 for order 1, dofs / 80 for the denser order-2 node
graph): fine to some thousands of coarse dofs per rank; beyond that the
coarse solve needs a sparse factor or a third level.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp
from mpi4py import MPI
from scipy.linalg import eigvalsh_tridiagonal
from scipy.sparse._sparsetools import bsr_matvec

from .batched import BatchedMatrix, BlockJacobi, StackedBlocks
from .halo import Halo

#: omega = DAMPING * 2 / lambda_max(D^-1 A); B is SPD while the lambda estimate is within 1 - DAMPING
DAMPING = 0.9
#: preconditioned Lanczos steps that estimate lambda_max(D^-1 A) of each case
LANCZOS_STEPS = 20


def standard_aggregation(graph: sp.csr_matrix) -> tuple[np.ndarray, int]:
    """((n,) aggregate of every node, number of aggregates) of a symmetric graph without self-loops.

    Vanek, Mandel, Brezina (1996): a node whose neighbours are all free roots
    an aggregate of itself and its neighbours; each node left over joins the
    aggregate of a neighbour from that first pass; what is still free forms
    aggregates with its free neighbours. Neighbours are visited in ascending
    order, so the result depends on the graph only.
    """
    graph = sp.csr_matrix(graph).sorted_indices()
    indptr, indices = graph.indptr, graph.indices
    aggregate = np.full(graph.shape[0], -1, dtype=np.int64)
    count = 0
    for i in range(graph.shape[0]):
        neighbours = indices[indptr[i]:indptr[i + 1]]
        if aggregate[i] < 0 and np.all(aggregate[neighbours] < 0):
            aggregate[i] = count
            aggregate[neighbours] = count
            count += 1
    first = aggregate.copy()
    for i in np.flatnonzero(first < 0):
        joined = first[indices[indptr[i]:indptr[i + 1]]]
        joined = joined[joined >= 0]
        if joined.size:
            aggregate[i] = joined[0]
    for i in np.flatnonzero(aggregate < 0):
        if aggregate[i] < 0:
            neighbours = indices[indptr[i]:indptr[i + 1]]
            aggregate[i] = count
            aggregate[neighbours[aggregate[neighbours] < 0]] = count
            count += 1
    return aggregate, count


def _local_matrix(stack: StackedBlocks, case: int) -> sp.csr_matrix:
    """Case `case`'s (n, n) local matrix out of the stacked blocks, as CSR (a copy)."""
    nbr, b = stack.n_block_rows, stack.block
    start, end = int(stack.indptr[case * nbr]), int(stack.indptr[(case + 1) * nbr])
    blocks = stack.data[start * b * b:end * b * b].reshape(-1, b, b)
    indptr = stack.indptr[case * nbr:(case + 1) * nbr + 1] - start
    return sp.bsr_matrix((blocks, stack.indices[start:end] - case * nbr, indptr), shape=(stack.n, stack.n)).tocsr()


def _shares_pattern(stack: StackedBlocks) -> bool:
    """Whether every case's local matrix has the first case's block sparsity pattern."""
    nbr = stack.n_block_rows
    first = np.diff(stack.indptr[:nbr + 1])
    counts = np.diff(stack.indptr).reshape(stack.n_cases, nbr)
    if not np.all(counts == first):
        return False
    return bool(np.all(stack.indices.reshape(stack.n_cases, -1) - nbr * np.arange(stack.n_cases)[:, None]
                       == stack.indices[:first.sum()]))


def _owners(halo: Halo, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((n_local,) owning rank of each local node, (n_local,) int `values` (n_owned,) as held by the owner)."""
    tagged = np.zeros((halo.n_local, halo.block))
    tagged[:halo.n_owned, 0] = halo.comm.Get_rank()
    tagged[:halo.n_owned, 1] = values
    halo.forward(tagged)
    return tagged[:, 0].astype(np.int64), tagged[:, 1].astype(np.int64)


def _owned_block(local: list[sp.csr_matrix], halo: Halo) -> list[sp.csr_matrix]:
    """Each case's global matrix on this rank's owned dofs, (n_owned_dofs, n_owned_dofs) CSR (collective).

    This rank's rows hold what its own cells assembled; an entry between two
    owned nodes also gets the contributions of cells on other ranks, where
    both nodes are ghosts of one owner: those ranks send them here.
    """
    b, n_owned, no = halo.block, halo.n_owned, halo.n_owned_dofs
    owned = [m[:no, :no] for m in local]
    comm = halo.comm
    if comm.Get_size() == 1:
        return owned
    owner, index = _owners(halo, np.arange(n_owned))
    entries = [m.tocoo() for m in local]
    row, col = entries[0].row, entries[0].col   # the batch shares one pattern
    node_row, node_col = row // b, col // b
    sent = (node_row >= n_owned) & (node_col >= n_owned) & (owner[node_row] == owner[node_col])
    outgoing = []
    for rank in range(comm.Get_size()):
        pick = sent & (owner[node_row] == rank)
        outgoing.append((b * index[node_row[pick]] + row[pick] % b, b * index[node_col[pick]] + col[pick] % b,
                         np.stack([e.data[pick] for e in entries]).reshape(len(entries), -1)))
    incoming = comm.alltoall(outgoing)
    rows = np.concatenate([r for r, _, _ in incoming])
    cols = np.concatenate([k for _, k, _ in incoming])
    values = np.concatenate([v for _, _, v in incoming], axis=1)
    return [(m + sp.csr_matrix((values[c], (rows, cols)), shape=(no, no))).tocsr() for c, m in enumerate(owned)]


def _lambda_max(matrix: BatchedMatrix, jacobi: BlockJacobi, steps: int) -> np.ndarray:
    """(C,) largest Ritz value of D_c^-1 A_c after `steps` block-Jacobi-preconditioned Lanczos steps.

    Lanczos in the D-inner product keeps p = D q beside the basis vector q, so
    a step is one batched matvec, one block-Jacobi product and two dots, as a
    CG iteration. Every case starts from the same vector and dots run case by
    case, so a case gets the same estimate in any batch.
    """
    halo, cases, no, n_cases = matrix.halo, matrix.all_cases(), matrix.n_owned_dofs, matrix.n_cases
    start = np.random.default_rng(0).standard_normal(matrix.n_local_dofs)
    halo.forward(start)

    def dots(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        s = np.array([np.dot(u[c, :no], v[c, :no]) for c in cases])
        halo.comm.Allreduce(MPI.IN_PLACE, s, op=MPI.SUM)
        return s

    def normalise(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        norm = np.sqrt(np.maximum(dots(p, q), 0.0))
        scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0.0)  # 0 at an invariant subspace
        p *= scale[:, None]
        q *= scale[:, None]
        return norm

    p = np.tile(start, (n_cases, 1))
    q, w, p_old = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    jacobi.apply(p, q, cases)
    normalise(p, q)
    alpha, beta = np.zeros((n_cases, steps)), np.zeros((n_cases, steps))
    for j in range(steps):
        matrix.matvec(q, w, cases)
        alpha[:, j] = dots(q, w)
        w -= alpha[:, j, None] * p
        if j:
            w -= beta[:, j - 1, None] * p_old
        p_old, p, w = p, w, p_old
        jacobi.apply(p, q, cases)
        beta[:, j] = normalise(p, q)
    return np.array([eigvalsh_tridiagonal(a, b[:-1])[-1] for a, b in zip(alpha, beta)])


def _identity_blocks(aggregate: np.ndarray, n_columns: int, block: int) -> sp.csr_matrix:
    """(block * len(aggregate), block * n_columns) piecewise-constant prolongator, one identity block per node."""
    n = aggregate.size
    dofs = block * np.repeat(aggregate, block) + np.tile(np.arange(block), n)
    return sp.csr_matrix((np.ones(block * n), dofs, np.arange(block * n + 1)), shape=(block * n, block * n_columns))


def _bsr(matrix: sp.csr_matrix, block: int) -> sp.bsr_matrix:
    out = matrix.tobsr(blocksize=(block, block))
    out.sort_indices()
    out.data = np.ascontiguousarray(out.data)   # the product passes a flat view of it
    return out


def _product(a: sp.bsr_matrix, x: np.ndarray, y: np.ndarray) -> None:
    """y = a @ x into the preallocated y, a a BSR matrix of square blocks."""
    b = a.blocksize[0]
    y.fill(0.0)
    bsr_matvec(a.shape[0] // b, a.shape[1] // b, b, b, a.indptr, a.indices, a.data.reshape(-1), x, y)


class TwoGrid:
    """Two-grid preconditioner of each case of a BatchedMatrix, the interface of hpc.batched.BlockJacobi.

    Collective over matrix.comm. damping: omega as a fraction of 2 / lambda_max
    (below 1 for SPD). Aggregates come from the first case's pattern, which
    every case must share (fem.batch's cases do: one mesh topology).
    """

    def __init__(self, matrix: BatchedMatrix, damping: float = DAMPING):
        if not 0.0 < damping < 1.0:
            raise ValueError(f"damping must lie in (0, 1) for an SPD preconditioner, got {damping}")
        if not _shares_pattern(matrix.stack):
            raise ValueError("the cases of a batch must share one sparsity pattern")
        halo, b = matrix.halo, matrix.halo.block
        n_cases, n_owned, no = matrix.n_cases, halo.n_owned, halo.n_owned_dofs
        self.matrix = matrix
        jacobi = BlockJacobi(matrix)
        self.lambda_max = _lambda_max(matrix, jacobi, LANCZOS_STEPS)   #: (C,) estimates of lambda_max(D^-1 A)
        self.omega = damping * 2.0 / self.lambda_max                    #: (C,) block-Jacobi damping
        self.smoother = jacobi.stack
        self.smoother.data.reshape(n_cases, -1)[:] *= self.omega[:, None]

        local = [_local_matrix(matrix.stack, c) for c in range(n_cases)]
        owned = _owned_block(local, halo)
        nodes = _bsr(owned[0], b)
        graph = sp.csr_matrix((np.ones(nodes.indices.size), nodes.indices.copy(), nodes.indptr.copy()),
                              shape=(n_owned, n_owned))
        graph.setdiag(0)
        graph.eliminate_zeros()
        aggregate, self.n_aggregates = standard_aggregation(graph)

        # ghost nodes carry their owner's aggregate, numbered after ours, once per (owner, aggregate)
        owner, their_aggregate = _owners(halo, aggregate)
        remote, first, extended = np.unique(np.stack([owner[n_owned:], their_aggregate[n_owned:]], axis=1),
                                            axis=0, return_index=True, return_inverse=True)
        n_extended = self.n_aggregates + remote.shape[0]
        prolong = sp.vstack([_identity_blocks(aggregate, n_extended, b),
                             _identity_blocks(self.n_aggregates + extended.reshape(-1), n_extended, b)]).tocsr()
        p_owned = prolong[:no, :b * self.n_aggregates]
        self.restrict = _bsr(p_owned.T.tocsr(), b)
        self.aggregate_dofs = (b * aggregate[:, None] + np.arange(b)).reshape(-1)
        self.remote_dofs = (b * (n_owned + first)[:, None] + np.arange(b)).reshape(-1)
        self.image = [_bsr(m @ prolong, b) for m in local]   #: per case, A P over this rank's rows
        self.coarse = [self._inverse((p_owned.T @ m @ p_owned).toarray()) for m in owned]  #: (P^T A P)^-1
        self._t = np.zeros((n_cases, matrix.n_local_dofs))
        self._u = np.zeros_like(self._t)
        self._w = np.zeros(matrix.n_local_dofs)
        self._y = np.zeros(b * self.n_aggregates)
        self._e = np.zeros(b * n_extended)
        self._exchange = halo.comm.Get_size() > 1

    @staticmethod
    def _inverse(galerkin: np.ndarray) -> np.ndarray:
        """The symmetric inverse of an SPD coarse matrix, through its Cholesky factor."""
        if galerkin.size == 0:
            return galerkin
        inverse = sl.cho_solve(sl.cho_factor(galerkin), np.eye(galerkin.shape[0]))
        return (inverse + inverse.T) / 2.0

    def apply(self, r: np.ndarray, z: np.ndarray, cases: np.ndarray) -> None:
        """z[c] = B_c r[c] for c in cases (ascending); r's rows complete, z's come back complete."""
        A, t, u, w, y, e = self.matrix, self._t, self._u, self._w, self._y, self._e
        halo, no, nc = A.halo, A.n_owned_dofs, self._y.size
        self.smoother.product(r, z, cases)
        A.matvec(z, t, cases)
        for c in cases:
            np.subtract(r[c], t[c], out=t[c])
            _product(self.restrict, t[c, :no], y)
            np.dot(self.coarse[c], y, out=e[:nc])
            np.take(e, self.aggregate_dofs, out=w[:no])
            w[no:] = 0.0
            if self._exchange:
                halo.forward(w)
                e[nc:] = w[self.remote_dofs]
            z[c] += w
            _product(self.image[c], e, w)   # w = A P e: the residual's change, without a second matvec
            if self._exchange:
                halo.reverse_add(w)
                halo.forward(w)
            t[c] -= w
        self.smoother.product(t, u, cases)
        for c in cases:
            z[c] += u[c]
