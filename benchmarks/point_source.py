"""Point source against Aki & Richards' full-space solution: misfit against element size and time step.

The setting of tests/test_fem_point_source.py (moment tensor in a homogeneous
box, four receivers 80 m away, window closed before any echo), run at several
mesh divisions of the 576 m box and time steps; the test itself runs
28 divisions (h = 20.6 m) at dt = 0.004 s.

    python benchmarks/point_source.py [--divisions 18 24 28] [--dt 0.004]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fem.box_mesh import box_mesh  # noqa: E402
from fem.exact.fullspace import fullspace_velocity  # noqa: E402
from fem.point_source import moment_function  # noqa: E402
from fem.run import simulate  # noqa: E402
from fem.scenario import parse_scenario  # noqa: E402
from tests import test_fem_point_source as case  # noqa: E402
from tests.fem_cases import relative_l2  # noqa: E402


def misfits(divisions: int, dt: float) -> tuple[int, np.ndarray, float, float]:
    """(dofs, misfit per receiver, overall misfit, wall s) of one run."""
    start = time.perf_counter()
    text = case.SCENARIO.replace("dt: 0.004}", f"dt: {dt}}}")
    sc = parse_scenario(text)
    mesh = box_mesh([[0, 2 * case.HALF], [0, 2 * case.HALF], [-2 * case.HALF, 0]], [divisions] * 3, order=2)
    _, v, stats = simulate(sc, mesh, MPI.COMM_SELF)
    t = np.arange(stats.steps + 1) * sc.time.dt
    exact = fullspace_velocity(sc.source.tensor, lambda s: moment_function(sc.source.time_function, s),
                               case.VP, case.VS, case.RHO, case.SOURCE, case.RECEIVERS, t)
    window = t < case.T0 - 2.5 * case.SIGMA + (2 * case.HALF - case.DISTANCE) / case.VP
    per = np.array([relative_l2(v[r][:, window], exact[r][:, window]) for r in range(len(case.RECEIVERS))])
    return stats.dofs, per, relative_l2(v[:, :, window], exact[:, :, window]), time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--divisions", type=int, nargs="+", default=[18, 24, 28], help="hexahedra per box edge")
    p.add_argument("--dt", type=float, nargs="+", default=[0.004], help="time steps, s")
    a = p.parse_args()
    print(f"{'h m':>6} {'dt s':>6} {'dofs':>8}  misfit per receiver %        overall %  wall s")
    for n in a.divisions:
        for dt in a.dt:
            dofs, per, overall, wall = misfits(n, dt)
            print(f"{2 * case.HALF / n:6.1f} {dt:6.3f} {dofs:8d}  {' '.join(f'{100 * e:5.1f}' for e in per)}"
                  f"   {100 * overall:8.1f}  {wall:6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
