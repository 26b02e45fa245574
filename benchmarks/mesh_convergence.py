"""Mesh-resolution study: the misfit of flat-layer runs against the exact column, versus n.

    python benchmarks/mesh_convergence.py [--columns shallow deep] [--quick]

Justifies mesh.elements_per_wavelength (fem/scenario.py DEFAULT_ELEMENTS_PER_WAVELENGTH).
Case: three flat layers over an elastic halfspace (vs 200 / 500 / 900 m/s), a
vertically incident S plane wave (x) whose Ricker wavelet peaks at
f0 = f_max / 2.5, so its spectrum above f_max is below 3 % of its peak; the
mesh is sized for f_max with n elements per shear wavelength (fem.layered_mesh:
the LONGEST cell edge <= vs / (f_max n)). Two columns: 'shallow' (40, 80,
130 m: the soft layer is 0.8 shear wavelengths at f_max thick, like the
pipeline's site models) and 'deep' (150, 150, 150 m: 3 wavelengths, so the wave
travels 6+ wavelengths through soft soil per reverberation and dispersion
error accumulates). Stations at the centre and 4 m from a lateral boundary.

Misfit: relative L2 of the x velocity against the exact Thomson-Haskell
response of the same damped column, as recorded (dominated by the spectrum near
f0) and after a 4th-order Butterworth band-pass [0.7 f_max, f_max] of both
traces (the error near the frequency the mesh is sized for, which is what n
promises: dispersion error grows as (k h)^4 for order 2, so the top of the band
dominates it); the worse of the two stations.

The time step is small (w dt = 2 pi f0 dt = 0.04 at the wavelet's peak,
Newmark's period error (w dt)^2 / 12 = 1.3e-4), so the misfit is the spatial
error; one row per column repeats a case at 2 dt to show it (Newmark's error is
second order: if doubling dt barely moves the misfit, the time error at dt,
a quarter of that at 2 dt, is negligible). Each run is
serial (MPI.COMM_SELF).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI
from scipy.signal import butter, sosfiltfilt

from fem.exact.column import column_response
from fem.exact.wavelets import ricker
from fem.freefield import column_at
from fem.layered_mesh import mesh_size
from fem.materials import layer_rayleigh
from fem.run import mesh_for, simulate
from fem.scenario import Scenario, parse_scenario

F_MAX = 4.0          #: Hz, the frequency the meshes are sized for
BOX = 40.0           #: m, horizontal extent (the free-field sides make the answer 1D whatever its size)
CENTRE, EDGE = [BOX / 2, BOX / 2], [4.0, BOX / 2]
DT = 0.004           #: s; 2 pi f0 DT = 0.04 at the Ricker peak f0 = 1.6 Hz
BAND = 0.7           #: the band misfit looks at [BAND f_max, f_max]
LAYERS = """
    - {vp: 600.0, vs: 200.0, rho: 1800.0, damping: 0.02}
    - {vp: 1200.0, vs: 500.0, rho: 1900.0, damping: 0.01}
    - {vp: 2000.0, vs: 900.0, rho: 2100.0, damping: 0.0}"""


@dataclass(frozen=True)
class Column:
    surfaces: tuple[float, float, float]  #: ground, boundary 1/2, boundary 2/3 elevations, m
    z_bottom: float                       #: m; layers are >= 2 elements of the n = 2 size thick, so the
                                          #: wavelength rule, not min_elements_across, sets every size
    duration: float                       #: s: the pulse (t0 = 0.75 s), the travel up and reverberations
    plan: tuple[tuple[int, float], ...]   #: (order, n) runs
    quick: tuple[tuple[int, float], ...]  #: the runs of --quick


COLUMNS = {
    "shallow": Column((0.0, -40.0, -120.0), -250.0, 3.0,
                      ((2, 1.5), (2, 2.0), (2, 3.0), (2, 4.0), (2, 6.0), (1, 4.0), (1, 6.0), (1, 10.0)),
                      ((2, 2.0), (2, 3.0), (2, 4.0))),
    "deep": Column((0.0, -150.0, -300.0), -450.0, 4.0,
                   ((2, 2.0), (2, 3.0), (2, 4.0), (1, 6.0), (1, 10.0)),
                   ((2, 2.0), (2, 3.0), (2, 4.0))),
}


@dataclass(frozen=True)
class Case:
    order: int            #: element order
    n: float              #: elements per shear wavelength asked for
    dt: float             #: time step, s
    dofs: int             #: global degrees of freedom
    f_resolved: float     #: Hz, lowest vs / (longest edge * n) over the cells
    misfit: float         #: relative L2 misfit, worse of the centre and edge stations
    band_misfit: float    #: the same after a [BAND * f_max, f_max] band-pass of both traces
    seconds: float        #: wall time of mesh + setup + time loop, s


def scenario(column: Column, order: int, n: float, dt: float) -> Scenario:
    f0 = F_MAX / 2.5
    s = column.surfaces
    return parse_scenario(
        f"model:\n  domain: {{x: [0.0, {BOX}], y: [0.0, {BOX}], z_bottom: {column.z_bottom}}}\n"
        f"  surfaces:\n    - {{name: ground, elevation: {s[0]}}}\n    - {{name: b12, elevation: {s[1]}}}\n"
        f"    - {{name: b23, elevation: {s[2]}}}\n  layers:{LAYERS}\n"
        f"mesh: {{order: {order}, f_max: {F_MAX}, elements_per_wavelength: {n}}}\n"
        f"time: {{duration: {column.duration}, dt: {dt}}}\n"
        f"source:\n  type: plane_wave\n  component: x\n"
        f"  wavelet: {{type: ricker, f0: {f0}, t0: {1.2 / f0}, amplitude: 0.01}}\n"
        f"receivers:\n  points: [{CENTRE}, {EDGE}]\n"
        f"solver: {{rtol: 1.0e-9}}\n")


def exact_surface_velocity(sc: Scenario, t: np.ndarray) -> np.ndarray:
    """(T,) x velocity at the surface of the exact damped column, m/s."""
    column = column_at(sc.model, layer_rayleigh(sc.model, sc.solver.rayleigh_band), *CENTRE)
    w = sc.source.wavelet
    return column_response(column, "x", ricker(t, w.f0, w.t0, w.amplitude), sc.time.dt,
                           np.array([0.0])).velocity[0]


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def run_case(column: Column, order: int, n: float, dt: float = DT) -> Case:
    sc = scenario(column, order, n, dt)
    start = time.perf_counter()
    mesh = mesh_for(sc, MPI.COMM_SELF)
    _, velocity, stats = simulate(sc, mesh, MPI.COMM_SELF)
    seconds = time.perf_counter() - start
    t = np.arange(stats.steps + 1) * dt
    exact = exact_surface_velocity(sc, t)
    band = butter(4, [BAND * F_MAX, F_MAX], btype="bandpass", fs=1.0 / dt, output="sos")
    misfit = max(relative_l2(velocity[r, 0], exact) for r in range(2))
    band_misfit = max(relative_l2(sosfiltfilt(band, velocity[r, 0]), sosfiltfilt(band, exact)) for r in range(2))
    return Case(order, n, dt, stats.dofs, mesh_size(mesh, sc.model, n).f_resolved, misfit, band_misfit, seconds)


def print_case(c: Case) -> None:
    print(f"{c.order:>5} {c.n:>4g} {c.dt:>7g} {c.dofs:>8d} {c.f_resolved:>8.2f} "
          f"{100 * c.misfit:>8.2f}% {100 * c.band_misfit:>8.2f}% {c.seconds:>8.1f}", flush=True)


def study(name: str, column: Column, plan, target: float) -> None:
    print(f"\n{name} column (surfaces {column.surfaces} m, bottom {column.z_bottom} m): S plane wave, "
          f"Ricker f0 = {F_MAX / 2.5:g} Hz, meshes for f_max = {F_MAX:g} Hz")
    print(f"{'order':>5} {'n':>4} {'dt':>7} {'dofs':>8} {'f_res Hz':>8} {'misfit':>9} {'0.7-1fmax':>9} {'wall s':>8}")
    cases = []
    for order, n in plan:
        cases.append(run_case(column, order, n))
        print_case(cases[-1])
    base = next(c for c in cases if c.order == 2 and c.n == 3.0)
    check = run_case(column, 2, 3.0, 2 * DT)  # the same mesh as (2, 3): only the time error changes
    print_case(check)
    print(f"time-step check (order 2, n 3), misfit at 2 dt over misfit at dt: broadband "
          f"{check.misfit / base.misfit:.3f}, band {check.band_misfit / base.band_misfit:.3f}")
    for order in (2, 1):
        for label in ("misfit", "band_misfit"):
            ok = [c for c in cases if c.order == order and getattr(c, label) <= target]
            if ok:
                best = min(ok, key=lambda c: c.n)
                print(f"{name}: order {order}: smallest n with {label} <= {100 * target:g}%: n = {best.n:g} "
                      f"({100 * getattr(best, label):.2f}%, ratio to target {getattr(best, label) / target:.2f}, "
                      f"{best.dofs} dofs)")
            elif any(c.order == order for c in cases):
                print(f"{name}: order {order}: no n in the plan reaches {label} <= {100 * target:g}%")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--columns", nargs="+", choices=sorted(COLUMNS), default=["shallow", "deep"])
    p.add_argument("--quick", action="store_true", help="order 2, n = 2, 3, 4 only")
    p.add_argument("--target", type=float, default=0.03, help="misfit the recommended n must reach")
    args = p.parse_args(argv)
    for name in args.columns:
        column = COLUMNS[name]
        study(name, column, column.quick if args.quick else column.plan, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
