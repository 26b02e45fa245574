"""The time loop of many ground models at once, on the ranks of a communicator.

A batch is C scenarios whose meshes share one topology (the same cells and
cell layers, e.g. the column meshes of fem.column_mesh for models of one
configuration) and one time stepping (dt, steps, solver settings). They share
the partition, the local layout and the halo; each case keeps its own matrices,
loads and stations. Every Newmark step advances all cases together: one
stacked product, one preconditioner application and one pair of reductions per
CG iteration for the whole batch (hpc.batched, hpc.batched_cg), each case
with its own CG scalars, its own convergence and its own initial guess
(hpc.projection: the Galerkin projection onto its last solutions).

A case that fails (CG breakdown, non-finite values, no convergence) is dropped
at that step with the reason; the others go on. One scenario is a batch of
one: `python -m fem run S.yaml -o R.h5` and a case of `--output-dir` run the
same arithmetic, so their result files are equal.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fem.boundary import boundary_faces, classify_box_sides
from fem.discretize import assemble_local
from fem.loads import LoadHistory
from fem.materials import cell_material, layer_rayleigh
from fem.mesh import Mesh
from fem.newmark import Newmark, NewmarkState
from fem.receivers import StationSampler
from fem.scenario import MomentTensorSource, Scenario
from fem.snapshots import SnapshotRecorder
from hpc.batched import BatchedMatrix, BlockJacobi
from hpc.batched_cg import pcg_batched
from hpc.halo import Halo
from hpc.layout import local_layout
from hpc.partition import partition_cells
from hpc.projection import SubspacePredictor


@dataclass
class CaseOutcome:
    xyz: np.ndarray | None        #: (R, 3) station coordinates, m
    velocity: np.ndarray | None   #: (R, 3, n_steps + 1) m/s on rank 0, None elsewhere or when failed
    cg_iterations: np.ndarray     #: (steps taken,) CG iterations of each step
    error: str | None             #: why the case failed (None: it ran to the end)


@dataclass
class BatchStats:
    dofs: int                 #: global degrees of freedom of one case
    steps: int                #: time steps
    seconds_setup: float      #: wall time before the first step, s
    seconds_steps: float      #: wall time of the time loop, s


def batch_key(scenario: Scenario, mesh: Mesh) -> tuple:
    """Scenarios with equal keys can share a batch: same mesh topology, time stepping and solver."""
    return (mesh.cells.shape, hash(mesh.cells.tobytes()), hash(mesh.layer.tobytes()),
            scenario.time.dt, scenario.time.n_steps, scenario.solver)


def _case_system(scenario: Scenario, mesh: Mesh, layout, part, faces_g, face_cell_g, side_g, comm, t):
    """This rank's matrices, load and station sampler of one case."""
    model = scenario.model
    points = mesh.points[layout.nodes]
    cells = layout.local_cells
    n_dofs = 3 * layout.n_local
    g2l = np.full(mesh.n_nodes, -1, dtype=np.int64)
    g2l[layout.nodes] = np.arange(layout.n_local)
    material = cell_material(model, mesh.layer[layout.cells], scenario.solver.rayleigh_band)
    mine = part[face_cell_g] == comm.rank
    faces, side = g2l[faces_g[mine]], side_g[mine]
    face_layer = mesh.layer[face_cell_g[mine]]
    system = assemble_local(points, cells, material, faces, side, model.property_at("vp", face_layer),
                            model.property_at("vs", face_layer), model.property_at("rho", face_layer))
    if isinstance(scenario.source, MomentTensorSource):
        from fem.point_source import moment_tensor_load, source_cell
        cell, xi = source_cell(mesh.points, mesh.cells, scenario.source)
        if part[cell] == comm.rank:
            load = moment_tensor_load(points, g2l[mesh.cells[cell]], xi, scenario.source, t, n_dofs)
        else:
            load = LoadHistory.combine([], n_dofs, t.size)
    else:
        from fem.freefield import plane_wave_load
        rayleigh = layer_rayleigh(model, scenario.solver.rayleigh_band)
        load = plane_wave_load(model, rayleigh, scenario.source, t, points, faces, side, face_layer, n_dofs)
    sampler = StationSampler.build(scenario, mesh, part, g2l, comm.rank)
    return system, load, sampler


def simulate_batch(scenarios: list[Scenario], meshes: list[Mesh], comm, progress=None,
                   snapshots: SnapshotRecorder | None = None, backend: str | None = None,
                   device: str | None = None) -> tuple[list[CaseOutcome], BatchStats]:
    """Run the time loop of every case on the ranks of comm (collective).

    scenarios[c] on meshes[c]; all with one batch_key. progress: None or a
    callable taking a message (called on every rank; the caller prints on one).
    snapshots: a recorder of the nodal velocity, for a batch of one only.
    backend, device: the solver's arrays, 'numpy' or 'torch' on 'cpu', 'cuda'
    (one GPU per rank) or 'cuda:K'; None: the scenario's solver.backend and
    solver.device (the command line's --backend/--device override them).
    """
    t0 = time.perf_counter()
    keys = {batch_key(s, m) for s, m in zip(scenarios, meshes)}
    if len(keys) != 1:
        raise ValueError("the scenarios of a batch must share mesh topology, time stepping and solver settings")
    if snapshots is not None and len(scenarios) != 1:
        raise ValueError("snapshots are recorded for a batch of one scenario only")
    first, tc, sol = meshes[0], scenarios[0].time, scenarios[0].solver
    backend = backend or sol.backend
    if backend == "torch":   # torch is imported here only: the numpy path runs without it
        from hpc.torch_batched import TorchBackend
        engine = TorchBackend(device or sol.device, comm)
        Matrix, Jacobi, solve_cg, Predictor = engine.matrix, engine.preconditioner, engine.pcg, engine.predictor
        zeros, to_device, to_host = engine.zeros, engine.from_host, engine.to_host
    elif backend == "numpy":
        Matrix, Jacobi, solve_cg, Predictor = BatchedMatrix, BlockJacobi, pcg_batched, SubspacePredictor
        if sol.preconditioner == "two_grid":
            from hpc.twogrid import TwoGrid as Jacobi
        zeros, to_device, to_host = np.zeros, (lambda a: a), (lambda a: a)
    else:
        raise ValueError(f"backend must be numpy or torch, got {backend!r}")
    n_cases = len(scenarios)
    part = partition_cells(first.cells, comm.size) if comm.rank == 0 else None
    part = comm.bcast(part, root=0)
    layout = local_layout(first.cells, part, comm.rank, first.n_nodes)
    halo = Halo.from_layout(comm, layout, block=3)
    bf = boundary_faces(first.points, first.cells)
    model0 = scenarios[0].model
    side_g = classify_box_sides(first.points, bf.faces, model0.x, model0.y, model0.z_bottom)
    t = np.arange(tc.n_steps + 1) * tc.dt
    systems, loads, samplers = [], [], []
    for scenario, mesh in zip(scenarios, meshes):
        system, load, sampler = _case_system(scenario, mesh, layout, part, bf.faces, bf.cell, side_g, comm, t)
        systems.append(system)
        loads.append(load)
        samplers.append(sampler)
    alive = np.ones(n_cases, dtype=bool)
    errors: dict[int, str] = {}
    step_now = [0]

    def fail(case: int, why: str) -> None:
        errors[case] = f"step {step_now[0]} (t = {step_now[0] * tc.dt:.4g} s): {why}"
        alive[case] = False
        if projector is not None:
            projector.drop([case])

    def solve(rhs: np.ndarray, guess: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        cases = np.flatnonzero(alive)
        if projector is not None:
            projector.guess(rhs, cases, x0)
            guess = x0
        res = solve_cg(A, rhs, guess, precond, cases, rtol=sol.rtol, max_iter=sol.max_iterations)
        for case, why in sorted(res.failed.items()):
            fail(case, why)
        if projector is not None:
            projector.add(res.x, rhs - res.residual, np.flatnonzero(alive))
        return res.x, res.iterations

    newmark = Newmark(tc.dt, lambda v: C.matvec(v, cases=np.flatnonzero(alive)),
                      lambda u: K.matvec(u, cases=np.flatnonzero(alive)), solve,
                      sol.predictor_order if sol.predictor == "polynomial" else None)
    c_c, c_k = newmark.system_coefficients
    K = Matrix([s.stiffness for s in systems], halo)
    C = Matrix([s.damping for s in systems], halo)
    A = Matrix([s.mass + c_c * s.damping + c_k * s.stiffness for s in systems], halo)
    del systems
    precond = Jacobi(A)
    n = halo.n_local_dofs
    projector = (Predictor(n_cases, n, halo.n_owned_dofs, sol.projection_size, comm)
                 if sol.predictor == "projection" else None)
    x0 = zeros((n_cases, n))
    iterations = np.zeros((tc.n_steps, n_cases), dtype=np.int64)
    state = NewmarkState(zeros((n_cases, n)), zeros((n_cases, n)), zeros((n_cases, n)))
    records = [np.zeros((s.n_local, 3, t.size)) for s in samplers]
    if snapshots is not None:
        snapshots.start(comm, layout)
        snapshots.record(0, state.v[0])
    dofs = 3 * layout.n_global_nodes
    if progress:
        together = f", {n_cases} cases together" if n_cases > 1 else ""
        progress(f"fem: {dofs} dofs, {first.n_cells} cells, order {first.order}, {comm.size} ranks, "
                 f"{tc.n_steps} steps{together}")
    t_setup = time.perf_counter() - t0
    report_every = max(1, tc.n_steps // 10)
    force = np.zeros((n_cases, n))
    for k in range(1, tc.n_steps + 1):
        step_now[0] = k
        for c in np.flatnonzero(alive):
            force[c] = loads[c].force(k)
            halo.reverse_add(force[c])
            halo.forward(force[c])
        iterations[k - 1] = newmark.step(state, to_device(force))
        if not alive.all():  # a failed case's rows are meaningless: keep them finite and out of the way
            for vector in (state.u, state.v, state.a, *state.history):
                vector[~alive] = 0.0
        velocity = to_host(state.v)   # torch: one device->host copy per step
        for c in np.flatnonzero(alive):
            records[c][:, :, k] = samplers[c].sample(velocity[c])
        if snapshots is not None and alive[0]:
            snapshots.record(k, velocity[0])
        if progress and (k % report_every == 0 or k == tc.n_steps):
            el = time.perf_counter() - t0 - t_setup
            live = iterations[k - 1][alive]
            cg = f"{live.mean():.1f} ({alive.sum()} of {n_cases} cases)" if n_cases > 1 else f"{live.sum()}"
            progress(f"fem: step {k}/{tc.n_steps} t={t[k]:.3f}s cg={cg} "
                     f"elapsed {el:.1f}s eta {el / k * (tc.n_steps - k):.1f}s")
        if not alive.any():
            break
    stats = BatchStats(dofs, tc.n_steps, t_setup, time.perf_counter() - t0 - t_setup)
    halo.free()
    outcomes = []
    for c in range(n_cases):
        velocity = samplers[c].gather(comm, records[c]) if alive[c] else None
        taken = iterations[:, c] if alive[c] else iterations[:step_now[0], c]
        outcomes.append(CaseOutcome(samplers[c].xyz, velocity, taken, errors.get(c)))
    return outcomes, stats
