"""The torch backend of the batched solve (hpc.torch_batched) equals the numpy one to round-off, on CPU.

A batch of small real FEM systems (fem.box_mesh, order-1 Kuhn tetrahedra, three
layers whose properties differ per case; mass, stiffness, Rayleigh damping and
boundary dashpots from fem.discretize.assemble_local; the Newmark step matrix
M + dt/2 C + dt^2/4 K) is multiplied and solved by hpc.batched /
hpc.batched_cg / hpc.projection and by their torch twins on CPU float64:
products agree to 1e-13 relative, PCG solutions to 1e-10 with iteration counts
within one, failures (NaN right-hand side, no convergence within max_iter,
an indefinite operator) hit the same case alone with the same reason, and a
few Newmark steps with the projection predictor agree. The last test runs the
same comparisons on 2 MPI ranks (the halo exchange through the host).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from mpi4py import MPI

from fem.boundary import boundary_faces, classify_box_sides
from fem.box_mesh import box_mesh
from fem.discretize import assemble_local
from fem.materials import CellMaterial
from fem.newmark import Newmark, NewmarkState
from hpc.batched import BatchedMatrix, BlockJacobi
from hpc.batched_cg import pcg_batched
from hpc.halo import Halo
from hpc.layout import local_layout
from hpc.partition import partition_cells
from hpc.projection import SubspacePredictor
from hpc.torch_batched import (TorchBackend, TorchBatchedMatrix, TorchBlockJacobi, TorchSubspacePredictor,
                               pcg_batched_torch)

DT = 0.01        #: s, Newmark step of the step matrices (CG needs ~30-60 iterations at rtol 1e-10)
RTOL = 1e-10
BOX = [[0.0, 60.0], [0.0, 50.0], [-40.0, 0.0]]
DIVISIONS = (6, 5, 4)
LAYERS = np.array([[600.0, 250.0, 1800.0], [1200.0, 500.0, 1900.0], [2000.0, 900.0, 2100.0]])  # vp vs rho


class Batch:
    """C cases of one mesh on this rank: local K, C, M, the step matrices and complete right-hand sides."""

    def __init__(self, n_cases: int, comm=MPI.COMM_SELF, dt: float = DT, seed: int = 0):
        mesh = box_mesh(BOX, DIVISIONS, order=1, interfaces=(-10.0, -20.0))
        part = partition_cells(mesh.cells, comm.size) if comm.rank == 0 else None
        part = comm.bcast(part, root=0)
        layout = local_layout(mesh.cells, part, comm.rank, mesh.n_nodes)
        self.halo = Halo.from_layout(comm, layout, block=3)
        g2l = np.full(mesh.n_nodes, -1, dtype=np.int64)
        g2l[layout.nodes] = np.arange(layout.n_local)
        bf = boundary_faces(mesh.points, mesh.cells)
        side_g = classify_box_sides(mesh.points, bf.faces, BOX[0], BOX[1], BOX[2][0])
        mine = part[bf.cell] == comm.rank
        faces, side = g2l[bf.faces[mine]], side_g[mine]
        layer_of_cell = mesh.layer[layout.cells]
        face_layer = mesh.layer[bf.cell[mine]]
        rng = np.random.default_rng(seed)
        self.K, self.C, self.M, self.A = [], [], [], []
        for _ in range(n_cases):
            vp, vs, rho = (LAYERS * rng.uniform(0.7, 1.3, LAYERS.shape)).T
            mu = rho * vs**2
            lam = rho * vp**2 - 2 * mu
            ab = np.array([[0.3, 1e-3], [0.2, 5e-4], [0.0, 0.0]])
            material = CellMaterial(lam[layer_of_cell], mu[layer_of_cell], rho[layer_of_cell],
                                    ab[layer_of_cell, 0], ab[layer_of_cell, 1])
            s = assemble_local(mesh.points[layout.nodes], layout.local_cells, material, faces, side,
                               vp[face_layer], vs[face_layer], rho[face_layer])
            self.K.append(s.stiffness)
            self.C.append(s.damping)
            self.M.append(s.mass)
            self.A.append((s.mass + 0.5 * dt * s.damping + 0.25 * dt * dt * s.stiffness).tocsr())
        # complete right-hand sides: one global vector per case, restricted to this rank's nodes
        x = mesh.points
        smooth = np.stack([np.sin(np.pi * x[:, 0] / 60) * np.cos(np.pi * x[:, 2] / 40),
                           np.cos(np.pi * x[:, 1] / 50), np.sin(np.pi * x[:, 2] / 40)], axis=1)
        dofs = (3 * layout.nodes[:, None] + np.arange(3)).ravel()
        self.rhs = np.stack([(smooth * rng.uniform(0.5, 2.0, 3) + 0.1 * rng.standard_normal(smooth.shape))
                             .ravel()[dofs] * 1e4 for _ in range(n_cases)])
        self.n_cases, self.n = n_cases, self.halo.n_local_dofs
        self.comm = comm


def relative(a, b) -> float:
    a = a.numpy() if isinstance(a, torch.Tensor) else a
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.fixture(scope="module")
def batch() -> Batch:
    return Batch(5)


def _x(batch: Batch, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch.n_cases, batch.n))


@pytest.mark.parametrize("kernel", ["bsr", "csr", "gather"])
def test_matvec_equals_numpy(batch: Batch, kernel: str) -> None:
    ref = BatchedMatrix(batch.A, batch.halo)
    mat = TorchBatchedMatrix(batch.A, batch.halo, "cpu", kernel=kernel)
    assert mat.shared and mat.kernel == kernel
    x = _x(batch)
    y = ref.matvec(x)
    yt = mat.matvec(torch.from_numpy(x))
    for c in range(batch.n_cases):
        assert relative(yt[c], y[c]) < 1e-13
    # a subset of cases: listed rows equal; with skip 'runs' the other rows are left alone
    for skip in ("runs", "span"):
        mat.skip = skip
        out = torch.full((batch.n_cases, batch.n), 7.0, dtype=torch.float64)
        mat.matvec(torch.from_numpy(x), out, np.array([0, 2, 4]))
        for c in (0, 2, 4):
            assert relative(out[c], y[c]) < 1e-13
        if skip == "runs":
            assert torch.all(out[[1, 3]] == 7.0)


def test_auto_kernel_and_differing_patterns(batch: Batch) -> None:
    """One case with an extra coupling (another pattern): the stacked fallback, still equal."""
    e = np.zeros(batch.n)
    e[0], e[batch.n - 1] = 1.0, -1.0
    extra = sp.csr_matrix(1e3 * np.outer(e, e))
    locals_ = list(batch.A)
    locals_[2] = (locals_[2] + extra).tocsr()
    ref = BatchedMatrix(locals_, batch.halo)
    mat = TorchBatchedMatrix(locals_, batch.halo, "cpu")
    assert not mat.shared and mat.kernel in ("bsr", "csr")
    x = _x(batch, 4)
    y = ref.matvec(x)
    assert relative(mat.matvec(torch.from_numpy(x)), y) < 1e-13
    with pytest.raises(ValueError, match="one sparsity pattern"):
        TorchBatchedMatrix(locals_, batch.halo, "cpu", kernel="gather")
    csr = TorchBatchedMatrix(locals_, batch.halo, "cpu", kernel="csr")
    assert relative(csr.matvec(torch.from_numpy(x)), y) < 1e-13
    np.testing.assert_array_equal(csr.block_diagonal(), ref.block_diagonal())


@pytest.mark.parametrize("method", ["matmul", "sparse"])
def test_block_jacobi_equals_numpy(batch: Batch, method: str) -> None:
    ref_matrix = BatchedMatrix(batch.A, batch.halo)
    mat = TorchBatchedMatrix(batch.A, batch.halo, "cpu")
    np.testing.assert_array_equal(mat.block_diagonal(), ref_matrix.block_diagonal())
    ref, prec = BlockJacobi(ref_matrix), TorchBlockJacobi(mat, method)
    r = _x(batch, 5)
    z = np.zeros_like(r)
    zt = torch.zeros((batch.n_cases, batch.n), dtype=torch.float64)
    cases = np.array([0, 1, 3, 4])
    ref.apply(r, z, cases)
    prec.apply(torch.from_numpy(r), zt, cases)
    for c in cases:
        assert relative(zt[c], z[c]) < 1e-14


def _solve_both(batch: Batch, rhs: np.ndarray, cases, max_iter: int = 1000, locals_=None, skip: str = "runs",
                x0: np.ndarray | None = None):
    locals_ = batch.A if locals_ is None else locals_
    ref_matrix = BatchedMatrix(locals_, batch.halo)
    ref = pcg_batched(ref_matrix, rhs, np.zeros_like(rhs) if x0 is None else x0, BlockJacobi(ref_matrix),
                      cases, rtol=RTOL, max_iter=max_iter)
    mat = TorchBatchedMatrix(locals_, batch.halo, "cpu", skip=skip)
    res = pcg_batched_torch(mat, torch.from_numpy(rhs), None if x0 is None else torch.from_numpy(x0),
                            TorchBlockJacobi(mat), cases, rtol=RTOL, max_iter=max_iter)
    return ref, res


@pytest.mark.parametrize("skip", ["runs", "span"])
def test_pcg_equals_numpy(batch: Batch, skip: str) -> None:
    cases = np.array([0, 1, 3, 4])                 # case 2 is not solved: returned as x0
    x0 = 1e-3 * _x(batch, 6)
    ref, res = _solve_both(batch, batch.rhs, cases, skip=skip, x0=x0)
    assert not ref.failed and not res.failed
    assert np.all(ref.iterations[cases] > 10)
    assert np.all(np.abs(res.iterations - ref.iterations) <= 1), (res.iterations, ref.iterations)
    for c in cases:
        assert relative(res.x[c], ref.x[c]) < 1e-10
        assert res.relative_residual[c] <= RTOL
    np.testing.assert_array_equal(res.x[2].numpy(), x0[2])
    np.testing.assert_array_equal(res.residual[2].numpy(), ref.residual[2])
    # a zero right-hand side gives x = 0 without iterating, as in numpy
    rhs = batch.rhs.copy()
    rhs[1] = 0.0
    ref, res = _solve_both(batch, rhs, np.arange(batch.n_cases), skip=skip, x0=x0)
    assert res.iterations[1] == ref.iterations[1] == 0 and not torch.any(res.x[1] != 0.0)


def _reason(message: str) -> str:
    """The failure message without the numbers that round-off may change."""
    return message.split(" (relative residual")[0].split(": p.Ap =")[0]


@pytest.mark.parametrize("skip", ["runs", "span"])
def test_failures_hit_one_case_with_the_numpy_reason(batch: Batch, skip: str) -> None:
    cases = np.arange(batch.n_cases)
    # NaN in one right-hand side
    rhs = batch.rhs.copy()
    rhs[3, 10] = np.nan
    ref, res = _solve_both(batch, rhs, cases, skip=skip)
    assert set(res.failed) == set(ref.failed) == {3}
    assert res.failed[3] == ref.failed[3] == "non-finite right-hand side or initial guess"
    for c in (0, 1, 2, 4):
        assert relative(res.x[c], ref.x[c]) < 1e-10
    # one hard case (a 30x longer step: stiffer) that cannot converge within max_iter
    hard = Batch(1, dt=30 * DT, seed=9)
    locals_ = list(batch.A)
    locals_[1] = hard.A[0]
    rhs = batch.rhs.copy()
    rhs[1] = hard.rhs[0]
    ref_all, _ = _solve_both(batch, rhs, cases, locals_=locals_, skip=skip)
    easy = max(ref_all.iterations[c] for c in (0, 2, 3, 4))
    assert ref_all.iterations[1] > easy + 5
    max_iter = easy + 2
    ref, res = _solve_both(batch, rhs, cases, max_iter=max_iter, locals_=locals_, skip=skip)
    assert set(res.failed) == set(ref.failed) == {1}
    assert _reason(res.failed[1]) == _reason(ref.failed[1]) == f"CG did not converge in {max_iter} iterations"
    assert abs(res.relative_residual[1] / ref.relative_residual[1] - 1) < 1e-6
    # an indefinite operator breaks down at its first iteration
    locals_ = list(batch.A)
    locals_[4] = (-batch.A[4]).tocsr()
    ref, res = _solve_both(batch, batch.rhs, cases, locals_=locals_, skip=skip)
    assert set(res.failed) == set(ref.failed) == {4}
    assert _reason(res.failed[4]) == _reason(ref.failed[4]) == "CG breakdown at iteration 1"
    for c in (0, 1, 2, 3):
        assert relative(res.x[c], ref.x[c]) < 1e-10 and abs(int(res.iterations[c]) - int(ref.iterations[c])) <= 1


def test_predictor_equals_numpy(batch: Batch) -> None:
    C, n = batch.n_cases, batch.n
    ref_matrix = BatchedMatrix(batch.A, batch.halo)
    mat = TorchBatchedMatrix(batch.A, batch.halo, "cpu")
    ref = SubspacePredictor(C, n, batch.halo.n_owned_dofs, 3, batch.comm)
    pred = TorchSubspacePredictor(C, n, batch.halo.n_owned_dofs, 3, batch.comm, "cpu")
    g, gt = np.zeros((C, n)), torch.zeros((C, n), dtype=torch.float64)
    for k in range(5):                      # slowly varying right-hand sides; case 2 fails at step 2
        b = batch.rhs * (1 + 0.1 * k) + 0.05 * k * np.roll(batch.rhs, 3, axis=1)
        cases = np.array([c for c in range(C) if not (c == 2 and k >= 2)])
        ref.guess(b, cases, g)
        pred.guess(torch.from_numpy(b), cases, gt)
        for c in cases:
            assert relative(gt[c], g[c]) < 1e-10 if np.any(g[c]) else not torch.any(gt[c] != 0)
        x = pcg_batched(ref_matrix, b, g, BlockJacobi(ref_matrix), cases, rtol=1e-12).x
        if k == 2:
            ref.drop([2])
            pred.drop([2])
        ax = ref_matrix.matvec(x)
        ref.add(x, ax, cases)
        pred.add(torch.from_numpy(x), mat.matvec(torch.from_numpy(x)), cases)
        np.testing.assert_allclose(pred.gram[cases], ref.gram[cases], rtol=1e-12, atol=0)
    assert pred.count.tolist() == ref.count.tolist()


def test_newmark_steps_equal_numpy(batch: Batch) -> None:
    """A few time steps of fem.newmark on tensors (the fem.batch hook's path) equal the numpy ones."""
    C, n, steps = batch.n_cases, batch.n, 6
    results = []
    for backend in ("numpy", "torch"):
        if backend == "torch":
            engine = TorchBackend("cpu", batch.comm)
            Matrix, Jacobi, solve_cg, Predictor = engine.matrix, engine.preconditioner, engine.pcg, engine.predictor
            zeros, to_device, to_host = engine.zeros, engine.from_host, engine.to_host
        else:
            Matrix, Jacobi, solve_cg, Predictor = BatchedMatrix, BlockJacobi, pcg_batched, SubspacePredictor
            zeros, to_device, to_host = np.zeros, (lambda a: a), (lambda a: a)
        K, Cm, A = (Matrix(m, batch.halo) for m in (batch.K, batch.C, batch.A))
        precond = Jacobi(A)
        projector = Predictor(C, n, batch.halo.n_owned_dofs, 4, batch.comm)
        x0 = zeros((C, n))
        alive = np.ones(C, dtype=bool)
        iterations = []

        def solve(rhs, guess):
            cases = np.flatnonzero(alive)
            projector.guess(rhs, cases, x0)
            res = solve_cg(A, rhs, x0, precond, cases, rtol=RTOL, max_iter=500)
            assert not res.failed
            projector.add(res.x, rhs - res.residual, cases)
            iterations.append(res.iterations.copy())
            return res.x, res.iterations

        newmark = Newmark(DT, lambda v: Cm.matvec(v, cases=np.flatnonzero(alive)),
                          lambda u: K.matvec(u, cases=np.flatnonzero(alive)), solve, None)
        z = zeros((C, n))
        state = NewmarkState(z, z * 0.0, z * 0.0)
        for k in range(1, steps + 1):
            newmark.step(state, to_device(batch.rhs * np.sin(0.3 * k)))
        results.append((to_host(state.u), to_host(state.v), np.array(iterations)))
    (u, v, it), (ut, vt, itt) = results
    assert relative(ut, u) < 1e-9 and relative(vt, v) < 1e-9
    assert np.all(np.abs(itt - it) <= 1)


# ---- 2 MPI ranks: the same comparisons with the halo exchange through the host ----

def _mpi_worker() -> None:
    comm = MPI.COMM_WORLD
    batch = Batch(3, comm)
    assert batch.halo.ghost_sources or batch.halo.shared_targets, "the partition must share nodes"
    x = _x(batch, 11)
    ref_matrix = BatchedMatrix(batch.A, batch.halo)
    for kernel in ("bsr", "gather"):
        for dtype_path in ("in place", "through buffers"):
            mat = TorchBatchedMatrix(batch.A, batch.halo, "cpu", kernel=kernel)
            if dtype_path == "through buffers":       # the path a GPU takes: copy boundary rows to the host
                mat._exchange.in_place = False
            y = ref_matrix.matvec(x)
            assert relative(mat.matvec(torch.from_numpy(x)), y) < 1e-13
    np.testing.assert_array_equal(mat.block_diagonal(), ref_matrix.block_diagonal())
    cases = np.arange(3)
    rhs = batch.rhs.copy()
    rhs[1, 0] = np.nan if comm.rank == 0 else rhs[1, 0]   # non-finite on one rank only: fails everywhere
    ref = pcg_batched(ref_matrix, rhs, np.zeros_like(rhs), BlockJacobi(ref_matrix), cases, rtol=RTOL)
    mat._exchange.in_place = True
    res = pcg_batched_torch(mat, torch.from_numpy(rhs), None, TorchBlockJacobi(mat), cases, rtol=RTOL)
    assert set(res.failed) == set(ref.failed) == {1}
    assert res.failed[1] == ref.failed[1]
    for c in (0, 2):
        assert relative(res.x[c], ref.x[c]) < 1e-10
        assert abs(int(res.iterations[c]) - int(ref.iterations[c])) <= 1
    its = comm.allgather(res.iterations.tolist())
    assert all(i == its[0] for i in its)
    if comm.rank == 0:
        print("mpi torch batched ok", ref.iterations.tolist(), res.iterations.tolist())


def test_two_ranks() -> None:
    exe = shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        raise RuntimeError("mpiexec not found: install the 'mpich' extra or a system MPI")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([exe, "-n", "2", sys.executable, __file__, "--worker"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "mpi torch batched ok" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


if __name__ == "__main__" and "--worker" in sys.argv:
    torch.set_num_threads(1)
    _mpi_worker()
