"""One FEM simulation, end to end, on the ranks of a communicator.

Pipeline: mesh (rank 0, gmsh) -> broadcast -> partition (METIS) -> each rank
assembles its cells -> loads (plane wave with free-field sides, or a point
source) -> Newmark-beta with PCG -> stations gathered to rank 0 -> result
file written atomically (and, when asked for, velocity snapshots as XDMF).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from fem.boundary import boundary_faces, classify_box_sides
from fem.discretize import assemble_local
from fem.layered_mesh import build_layered_mesh
from fem.loads import LoadHistory
from fem.materials import cell_material, layer_rayleigh
from fem.mesh import Mesh
from fem.model import ModelError
from fem.newmark import Newmark
from fem.receivers import StationSampler
from fem.result import Result, write_result
from fem.scenario import MomentTensorSource, Scenario
from fem.snapshots import SnapshotRecorder
from hpc.distributed import DistributedMatrix
from hpc.halo import Halo
from hpc.krylov import block_jacobi, pcg
from hpc.layout import local_layout
from hpc.partition import partition_cells


class SolverError(RuntimeError):
    """The time loop cannot go on (CG did not converge); raised on every rank together."""


@dataclass
class RunStats:
    dofs: int                 #: global degrees of freedom
    steps: int                #: time steps taken
    cg_iterations: np.ndarray  #: (steps,) CG iterations of each step
    seconds_setup: float      #: wall time before the first step, s
    seconds_steps: float      #: wall time of the time loop, s


def _log(comm, enabled: bool, message: str) -> None:
    if enabled and comm.rank == 0:
        print(message, file=sys.stderr, flush=True)


def mesh_for(scenario: Scenario, comm, mesh_file: str | None = None) -> Mesh:
    """Mesh on rank 0 (gmsh is serial), or read from mesh_file (fem.mesh_file), broadcast to every rank.

    A ModelError on rank 0 (gmsh failed, a layer too thin to mesh, a mesh file
    made for another model) is broadcast too and raised on every rank, so no
    rank waits for a mesh."""
    mesh = error = None
    if comm.rank == 0:
        m = scenario.mesh
        try:
            if mesh_file is not None:
                from fem.mesh_file import load_mesh
                mesh = load_mesh(mesh_file, scenario)
            else:
                point = getattr(scenario.source, "position", None)   # a moment-tensor source's
                mesh = build_layered_mesh(scenario.model, m.order, m.f_max, m.elements_per_wavelength,
                                          refine_at=point, refine_factor=m.source_refinement)
        except ModelError as err:
            error = err
    mesh, error = comm.bcast((mesh, error), root=0)
    if error is not None:
        raise error
    return mesh


def simulate(scenario: Scenario, mesh: Mesh, comm, progress: bool = False,
             snapshots: SnapshotRecorder | None = None) -> tuple[np.ndarray, np.ndarray, RunStats]:
    """Run the time loop on the ranks of comm (collective).

    Returns (station xyz (R, 3) m, velocity (R, 3, n_steps+1) m/s on rank 0
    and None elsewhere, stats). snapshots: a recorder that receives the
    nodal velocity at its steps, gathered to rank 0 (None: nothing gathered)."""
    t0 = time.perf_counter()
    model, tc = scenario.model, scenario.time
    part = partition_cells(mesh.cells, comm.size) if comm.rank == 0 else None
    part = comm.bcast(part, root=0)
    layout = local_layout(mesh.cells, part, comm.rank, mesh.n_nodes)
    halo = Halo.from_layout(comm, layout, block=3)
    points = mesh.points[layout.nodes]
    cells = layout.local_cells
    n_dofs = 3 * layout.n_local
    g2l = np.full(mesh.n_nodes, -1, dtype=np.int64)
    g2l[layout.nodes] = np.arange(layout.n_local)

    layer = mesh.layer[layout.cells]
    material = cell_material(model, layer, scenario.solver.rayleigh_band)
    bf = boundary_faces(mesh.points, mesh.cells)
    faces_g, face_cell_g = bf.faces, bf.cell
    side_g = classify_box_sides(mesh.points, faces_g, model.x, model.y, model.z_bottom)
    mine = part[face_cell_g] == comm.rank
    faces = g2l[faces_g[mine]]
    side = side_g[mine]
    face_layer = mesh.layer[face_cell_g[mine]]
    system = assemble_local(points, cells, material, faces, side, model.property_at("vp", face_layer),
                            model.property_at("vs", face_layer), model.property_at("rho", face_layer))

    t = np.arange(tc.n_steps + 1) * tc.dt
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

    sol = scenario.solver

    def solve(rhs, guess):
        res = pcg(A, rhs, guess, precond, rtol=sol.rtol, max_iter=sol.max_iterations)
        if res.relative_residual > sol.rtol:
            raise SolverError(f"CG did not converge in {sol.max_iterations} iterations "
                              f"(relative residual {res.relative_residual:.2e})")
        return res.x, res.iterations

    K = DistributedMatrix(system.stiffness, halo)
    C = DistributedMatrix(system.damping, halo)
    newmark = Newmark(tc.dt, C.matvec, K.matvec, solve, sol.predictor_order)
    c_c, c_k = newmark.system_coefficients
    A = DistributedMatrix(system.mass + c_c * system.damping + c_k * system.stiffness, halo)
    precond = block_jacobi(A)
    sampler = StationSampler.build(scenario, mesh, part, g2l, comm.rank)
    state = newmark.initial_state(n_dofs)
    records = np.zeros((sampler.n_local, 3, t.size))
    if snapshots is not None:
        snapshots.start(comm, layout)
        snapshots.record(0, state.v)
    iterations = np.zeros(tc.n_steps, dtype=np.int64)
    dofs = 3 * layout.n_global_nodes
    _log(comm, progress, f"fem: {dofs} dofs, {mesh.n_cells} cells, order {mesh.order}, {comm.size} ranks, "
                         f"{tc.n_steps} steps")
    t_setup = time.perf_counter() - t0
    report_every = max(1, tc.n_steps // 10)
    for k in range(1, tc.n_steps + 1):
        f = load.force(k)
        halo.reverse_add(f)
        halo.forward(f)
        iterations[k - 1] = newmark.step(state, f)
        records[:, :, k] = sampler.sample(state.v)
        if snapshots is not None:
            snapshots.record(k, state.v)
        if k % report_every == 0 or k == tc.n_steps:
            el = time.perf_counter() - t0 - t_setup
            _log(comm, progress, f"fem: step {k}/{tc.n_steps} t={t[k]:.3f}s cg={iterations[k-1]} "
                                 f"elapsed {el:.1f}s eta {el / k * (tc.n_steps - k):.1f}s")
    stats = RunStats(dofs, tc.n_steps, iterations, t_setup, time.perf_counter() - t0 - t_setup)
    halo.free()
    velocity = sampler.gather(comm, records)
    return sampler.xyz, velocity, stats


def resample(t: np.ndarray, series: np.ndarray, t_out: np.ndarray) -> np.ndarray:
    """Traces (..., T) at times t resampled onto t_out by linear interpolation in time."""
    flat = series.reshape(-1, series.shape[-1])
    out = np.empty((flat.shape[0], t_out.size))
    for i in range(flat.shape[0]):  # stations x components: a few thousand short rows at most
        out[i] = np.interp(t_out, t, flat[i])
    return out.reshape(series.shape[:-1] + (t_out.size,))


def run_scenario(scenario: Scenario, output: str, comm, xdmf: str | None = None, progress: bool = True,
                 mesh_file: str | None = None) -> RunStats:
    """Simulate `scenario` on `comm` and write the result file (rank 0); xdmf: also the mesh and
    snapshots; mesh_file: the mesh saved by `python -m fem mesh --save` instead of meshing again."""
    wall0 = time.perf_counter()
    mesh = mesh_for(scenario, comm, mesh_file)
    recorder = None
    if xdmf is not None:
        recorder = SnapshotRecorder.every(scenario.snapshot_every, scenario.time.dt, scenario.time.n_steps)
    xyz, velocity, stats = simulate(scenario, mesh, comm, progress, recorder)
    if comm.rank == 0:
        if recorder is not None:  # before the result: a run that fails here leaves no result file
            recorder.write(xdmf, mesh)
            _log(comm, progress, f"fem: wrote {xdmf} ({len(recorder.fields)} velocity snapshots)")
        t = np.arange(stats.steps + 1) * scenario.time.dt
        t_out = scenario.output_times
        v_out = resample(t, velocity, t_out)
        write_result(output, Result(xyz, t_out, v_out.astype(np.float32), scenario.text, "fem", comm.size,
                                    stats.dofs, time.perf_counter() - wall0))
        _log(comm, progress, f"fem: wrote {output}; mean CG iterations/step {stats.cg_iterations.mean():.1f}, "
                             f"{stats.seconds_steps / max(stats.steps, 1):.3f} s/step")
    comm.Barrier()
    return stats
