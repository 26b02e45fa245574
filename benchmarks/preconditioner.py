"""Block-Jacobi against the two-grid preconditioner (hpc.twogrid) inside the real time loop.

    python benchmarks/preconditioner.py [--repeats 5] [--divisions 8 8 8] [--steps 100] [--only box]

Runs fem.batch.simulate_batch (the solver of `python -m fem run`, one rank),
with fem.batch.BlockJacobi replaced by hpc.twogrid.TwoGrid for the two-grid
rows, on

(a) the models of the benchmark configuration: `python -m surrogate generate
    --base config/scenarios/benchmark.yaml --n 2 --seed 7 --fixed-layers`,
    each meshed by `python -m fem mesh` (order-1 tetrahedra, about 12k dofs,
    100 steps), a batch of one each;
(b) the layered box of benchmarks/fem_throughput.py (order 2) with fewer
    hexahedra (--divisions).

For each: the old solver (block-Jacobi, polynomial predictor of order 2),
block-Jacobi with the projection predictor (hpc.projection) and the two-grid
preconditioner with each predictor. Printed: CG iterations per step (mean over
steps and cases), wall seconds per step (median and minimum over --repeats
runs, which cycle through the configurations), set-up seconds (the
preconditioner's included), and iterations and median time against the old
solver ("old/this" > 1: fewer, faster). About 8 minutes at the defaults on
one core; the figures and what they mean are in hpc/twogrid.py's docstring.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import fem.batch  # noqa: E402
from fem.mesh import Mesh  # noqa: E402
from fem.scenario import Scenario  # noqa: E402
from hpc.batched import BlockJacobi  # noqa: E402
from hpc.twogrid import TwoGrid  # noqa: E402

#: (label, preconditioner, predictor), the old solver first
CONFIGURATIONS = [("block-Jacobi, polynomial", BlockJacobi, "polynomial"),
                  ("block-Jacobi, projection", BlockJacobi, "projection"),
                  ("two-grid, polynomial", TwoGrid, "polynomial"),
                  ("two-grid, projection", TwoGrid, "projection")]


@dataclasses.dataclass
class Measured:
    dofs: int
    cg_per_step: float          #: CG iterations per step, mean over steps and cases
    seconds_step: list[float]   #: time-loop seconds per step, one per repeat
    seconds_setup: list[float]  #: seconds before the first step (assembly, preconditioner), one per repeat


def run_once(scenario: Scenario, mesh: Mesh, preconditioner, predictor: str) -> tuple[float, float, float, int]:
    """(CG iterations per step, s per step, set-up s, dofs) of simulate_batch on one case."""
    scenario = dataclasses.replace(scenario, solver=dataclasses.replace(scenario.solver, predictor=predictor))
    original = fem.batch.BlockJacobi
    fem.batch.BlockJacobi = preconditioner
    try:
        (outcome,), stats = fem.batch.simulate_batch([scenario], [mesh], MPI.COMM_SELF)
    finally:
        fem.batch.BlockJacobi = original
    if outcome.error:
        sys.exit(f"error: {outcome.error}")
    return float(np.mean(outcome.cg_iterations)), stats.seconds_steps / stats.steps, stats.seconds_setup, stats.dofs


def measure(scenario: Scenario, mesh: Mesh, repeats: int) -> list[Measured]:
    """One Measured per CONFIGURATIONS entry; the repeats cycle through the configurations so that
    a change of the machine's load falls on all of them alike."""
    rows = [Measured(0, 0.0, [], []) for _ in CONFIGURATIONS]
    for _ in range(repeats):
        for row, (_, preconditioner, predictor) in zip(rows, CONFIGURATIONS):
            row.cg_per_step, per_step, setup, row.dofs = run_once(scenario, mesh, preconditioner, predictor)
            row.seconds_step.append(per_step)
            row.seconds_setup.append(setup)
    return rows


def benchmark_models(directory: Path) -> list[tuple[str, Scenario, Mesh]]:
    """(a): two generated models of the benchmark configuration, each meshed by `python -m fem mesh`."""
    from fem.mesh_file import load_mesh
    from fem.scenario import load_scenario
    python = [sys.executable, "-m"]
    subprocess.run([*python, "surrogate", "generate", "--base", str(ROOT / "config/scenarios/benchmark.yaml"),
                    "--n", "2", "--seed", "7", "--fixed-layers", "--out", str(directory)], check=True, cwd=ROOT)
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        mesh_path = path.with_suffix(".npz")
        subprocess.run([*python, "fem", "mesh", str(path), "--save", str(mesh_path)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        scenario = load_scenario(path)
        cases.append((f"benchmark {path.stem}", scenario, load_mesh(mesh_path, scenario)))
    return cases


def throughput_box(divisions: list[int], steps: int) -> tuple[str, Scenario, Mesh]:
    """(b): the order-2 layered box of benchmarks/fem_throughput.py."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fem_throughput import DT, HEX, scenario_text
    from fem.box_mesh import box_mesh
    from fem.scenario import parse_scenario
    nx, ny, nz = divisions
    b12, b23 = -round(0.2 * nz) * HEX, -round(0.5 * nz) * HEX
    mesh = box_mesh([[0, nx * HEX], [0, ny * HEX], [-nz * HEX, 0]], (nx, ny, nz), order=2, interfaces=[b12, b23])
    return f"throughput box {nx}x{ny}x{nz}", parse_scenario(scenario_text(nx, ny, nz, steps * DT, 2)), mesh


def report(name: str, scenario: Scenario, mesh: Mesh, repeats: int) -> None:
    rows = measure(scenario, mesh, repeats)
    old = rows[0]
    print(f"\n{name}: {old.dofs} dofs, order {mesh.order}, {scenario.time.n_steps} steps, "
          f"rtol {scenario.solver.rtol:g}, {repeats} repeats")
    print(f"{'preconditioner, predictor':<26} {'CG/step':>8} {'old/this':>8} {'ms/step':>8} {'min':>8} "
          f"{'old/this':>8} {'setup s':>8}")
    for (label, _, _), m in zip(CONFIGURATIONS, rows):
        print(f"{label:<26} {m.cg_per_step:>8.1f} {old.cg_per_step / m.cg_per_step:>8.2f} "
              f"{1e3 * np.median(m.seconds_step):>8.1f} {1e3 * np.min(m.seconds_step):>8.1f} "
              f"{np.median(old.seconds_step) / np.median(m.seconds_step):>8.2f} {np.median(m.seconds_setup):>8.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="runs per configuration (median and minimum time)")
    p.add_argument("--divisions", type=int, nargs=3, default=[8, 8, 8], help="(b): hexahedra along x, y, z")
    p.add_argument("--steps", type=int, default=100, help="(b): Newmark steps")
    p.add_argument("--only", choices=["benchmark", "box"], help="run one of the two problems")
    args = p.parse_args(argv)
    if args.only != "box":
        with tempfile.TemporaryDirectory() as tmp:
            for name, scenario, mesh in benchmark_models(Path(tmp)):
                report(name, scenario, mesh, args.repeats)
    if args.only != "benchmark":
        report(*throughput_box(args.divisions, args.steps), args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
