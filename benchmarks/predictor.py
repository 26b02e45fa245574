"""CG iterations per Newmark step against the order of the initial-guess predictor.

The predictor extrapolates the accelerations of earlier steps (order 0: the last
one; 1: linear; 2: quadratic) to start CG near the answer. Case: the flat
three-layer column of tests/test_fem_plane_wave.py (vertically incident S
wave, order-2 mesh, rtol 1e-8), one rank; the same mesh for every order.

    python benchmarks/predictor.py
"""
import dataclasses
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fem.run import mesh_for, simulate  # noqa: E402
from tests.fem_cases import layered_plane_wave  # noqa: E402
from tests.test_fem_plane_wave import SOFT_OVER_STIFF  # noqa: E402


def main() -> None:
    sc = layered_plane_wave("x", SOFT_OVER_STIFF, [0.0, -12.0, -30.0], f_max=4.0, f0=1.6, duration=1.6,
                            dt=0.005, z_bottom=-60.0, box=120.0, n=3.0, rtol=1e-8)
    mesh = mesh_for(sc, MPI.COMM_SELF)
    base = None
    for order in (0, 1, 2):
        run = dataclasses.replace(sc, solver=dataclasses.replace(sc.solver, predictor_order=order))
        _, _, stats = simulate(run, mesh, MPI.COMM_SELF)
        mean = stats.cg_iterations.mean()
        base = base or mean
        print(f"predictor order {order}: {stats.dofs} dofs, CG iterations/step mean {mean:.1f} "
              f"median {np.median(stats.cg_iterations):.0f}, ratio to order 0 {mean / base:.2f}")


if __name__ == "__main__":
    main()
