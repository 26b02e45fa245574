"""One FEM simulation, end to end, on the ranks of a communicator.

Pipeline: mesh (rank 0: gmsh or columns) -> broadcast -> partition (METIS) -> each rank
assembles its cells -> loads (plane wave with free-field sides, or a point
source) -> Newmark-beta with PCG (fem.batch, a batch of one) -> stations
gathered to rank 0 -> result file written atomically (and, when asked for,
velocity snapshots as XDMF).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from fem.batch import simulate_batch
from fem.layered_mesh import build_layered_mesh
from fem.mesh import Mesh
from fem.model import ModelError
from fem.result import Result, write_result
from fem.scenario import Scenario
from fem.snapshots import SnapshotRecorder


class SolverError(RuntimeError):
    """The time loop cannot go on (CG did not converge, non-finite values); raised on every rank together."""


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
    """Mesh on rank 0 (gmsh, or fem.column_mesh for `mesh.generator: columns`), or read from mesh_file
    (fem.mesh_file), broadcast to every rank.

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
            elif m.generator == "columns":
                from fem.column_mesh import build_column_mesh, scenario_topology
                mesh = build_column_mesh(scenario.model, scenario_topology(scenario))
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
    """Run the time loop on the ranks of comm (collective): a batch of one (fem.batch).

    Returns (station xyz (R, 3) m, velocity (R, 3, n_steps+1) m/s on rank 0
    and None elsewhere, stats). snapshots: a recorder that receives the
    nodal velocity at its steps, gathered to rank 0 (None: nothing gathered).
    Raises SolverError (on every rank) when the time loop cannot go on."""
    log = (lambda message: _log(comm, True, message)) if progress else None
    (outcome,), stats = simulate_batch([scenario], [mesh], comm, log, snapshots)
    if outcome.error is not None:
        raise SolverError(outcome.error)
    return outcome.xyz, outcome.velocity, RunStats(stats.dofs, stats.steps, outcome.cg_iterations,
                                                   stats.seconds_setup, stats.seconds_steps)


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
                                    stats.dofs, time.perf_counter() - wall0), {"batch": 1})
        _log(comm, progress, f"fem: wrote {output}; mean CG iterations/step {stats.cg_iterations.mean():.1f}, "
                             f"{stats.seconds_steps / max(stats.steps, 1):.3f} s/step")
    comm.Barrier()
    return stats
