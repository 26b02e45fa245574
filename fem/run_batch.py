"""Many scenarios in one process: `python -m fem run S1.yaml S2.yaml ... --output-dir OUT`.

Start-up, imports and MPI set-up are paid once. Each scenario is read and
meshed on its own (a bad one is reported with one line and skipped); scenarios
whose meshes share a topology and whose time stepping and solver settings
agree (fem.batch.batch_key, e.g. the column meshes of one configuration's
models) advance together as one batch of at most `batch_size` cases; the
others run as batches of one. Each result goes to OUT/STEM.h5, the file
`python -m fem run STEM.yaml -o OUT/STEM.h5` writes (same layout and
attributes; `wall_seconds` is the batch's wall time shared equally among its
cases, and the attribute `batch` says how many cases ran together). A case
that fails writes no file and leaves the others running.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fem.batch import batch_key, simulate_batch
from fem.mesh import Mesh
from fem.model import ModelError
from fem.result import Result, write_result
from fem.run import mesh_for, resample
from fem.scenario import Scenario, ScenarioError, load_scenario


@dataclass
class _Case:
    path: str
    scenario: Scenario
    mesh: Mesh
    output: Path


def _say(comm, message: str) -> None:
    if comm.rank == 0:
        print(message, file=sys.stderr, flush=True)


def run_scenarios(paths: list[str], output_dir: str | Path, comm, batch_size: int = 32,
                  progress: bool = True, mesh_files: dict[str, str] | None = None) -> dict[str, int]:
    """Simulate every scenario file into output_dir/STEM.h5 (collective).

    Returns the failed scenario paths with their exit status: 2 bad input (the
    file, the model, its mesh), 1 a failure of the time loop.
    mesh_files: scenario path -> mesh file saved by `python -m fem mesh --save` (optional).
    A failure is one line on stderr (from rank 0) naming the scenario file."""
    out = Path(output_dir)
    stems = [Path(p).stem for p in paths]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ScenarioError(f"scenario files share the name {', '.join(twice)}: their results would "
                            f"overwrite each other in {out}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    failed: dict[str, int] = {}
    cases: list[_Case] = []
    for path in paths:
        try:
            scenario = load_scenario(path)
            mesh = mesh_for(scenario, comm, (mesh_files or {}).get(path))
        except (ScenarioError, ModelError, OSError) as err:
            message = str(err)
            _say(comm, f"error: {message if message.startswith(path) else f'{path}: {message}'}")
            failed[path] = 2
            continue
        cases.append(_Case(path, scenario, mesh, out / f"{Path(path).stem}.h5"))
    groups: dict[tuple, list[_Case]] = {}
    for case in cases:
        groups.setdefault(batch_key(case.scenario, case.mesh), []).append(case)
    for group in groups.values():
        for start in range(0, len(group), batch_size):
            failed.update(dict.fromkeys(_run_batch(group[start:start + batch_size], comm, progress), 1))
    return failed


def _run_batch(batch: list[_Case], comm, progress: bool) -> list[str]:
    wall0 = time.perf_counter()
    log = (lambda message: _say(comm, message)) if progress else None
    outcomes, stats = simulate_batch([c.scenario for c in batch], [c.mesh for c in batch], comm, log)
    wall = (time.perf_counter() - wall0) / len(batch)
    failed = []
    for case, outcome in zip(batch, outcomes):
        if outcome.error is not None:
            _say(comm, f"error: {case.path}: {outcome.error}")
            failed.append(case.path)
            continue
        if comm.rank == 0:
            sc = case.scenario
            t = np.arange(stats.steps + 1) * sc.time.dt
            velocity = resample(t, outcome.velocity, sc.output_times)
            write_result(case.output, Result(outcome.xyz, sc.output_times, velocity.astype(np.float32), sc.text,
                                             "fem", comm.size, stats.dofs, wall), {"batch": len(batch)})
            if progress:
                _say(comm, f"fem: wrote {case.output}; mean CG iterations/step {outcome.cg_iterations.mean():.1f}")
    comm.Barrier()
    return failed
