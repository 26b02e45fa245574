"""Column meshes (fem.column_mesh) against gmsh meshes: dofs, mesh time, run time, station misfit.

    python benchmarks/column_mesh_accuracy.py [--base config/scenarios/benchmark.yaml] [--models 2]
        [--seed 7] [--cases gmsh:1:10 columns:1:10 columns:2:3] [--reference gmsh:2:8] [--flat]

Drawn models: `--models` ground models drawn from the base scenario's
configuration (surrogate.generate, fixed layers, the given seed; what
`python -m surrogate generate --base BASE --n 2 --seed 7 --fixed-layers` writes).
Each case GENERATOR:ORDER:N meshes one of them with that generator, element
order and elements per wavelength (the rest of the scenario as the base has
it) and runs it serially. Printed per case: dofs, mesh time (ms; for columns
the best of a few repeats, the first includes building the topology's cells),
run time (s), CG iterations per step, and the relative L2 misfit of the station
velocities, per component (all stations and samples together), against the
reference case (default gmsh order 2, n = 8: the finest affordable here). The
misfit of columns against gmsh at the base's order and n is printed too.

`--flat`: the flat three-layer case of tests/test_fem_plane_wave.py and
tests/test_column_mesh.py (vs 200 / 500 / 900 m/s, surfaces 0, -12, -30 m,
z_bottom -60 m, 120 m box, f_max 4 Hz, order 2, n = 3), gmsh and columns,
against the exact damped column, at the centre and 4 m from a side.

Measured 2026-12 on the 2-core development box beside other jobs (load 4-5, so
times are loose; misfits are not), SPACING = 1/sqrt(3) (the hexahedron's main
diagonal, its longest Kuhn edge, <= vs / (f_max n)); benchmark configuration
(64 x 64 x 80 m, f_max 4 Hz, vs 200 / 450 / 900), reference gmsh order 2, n = 8
(50-58k dofs), misfit x / y / z in %:

| model | case | dofs | mesh ms | run s | x | y | z |
|---|---|---|---|---|---|---|---|
| 0 | gmsh 1:10 (today's) | 12,156 | 660-940 | 4.5 | 0.67 | 6.83 | 3.66 |
| 0 | columns 1:10 | 29,376 | 22 | 19 | 0.45 | 5.97 | 2.58 |
| 0 | columns 2:3 | 11,271 | 2-20 | 11 | 0.18 | 3.03 | 2.27 |
| 0 | gmsh 2:3 (= 2:4, thin-layer cap) | 30,396 | 380 | 18 | 0.02 | 0.39 | 0.32 |
| 1 | gmsh 1:10 (today's) | 12,786 | 2,075 | 10 | 0.76 | 6.32 | 4.11 |
| 1 | columns 1:10 | 32,832 | 30 | 25 | 0.63 | 6.42 | 3.54 |
| 1 | columns 2:3 | 11,271 | 2-20 | 11 | 0.26 | 3.04 | 2.94 |

The spacing sweep that chose SPACING, order 1 at n = 10 (SPACING s means
dx, dz <= s vs / (f_max n); rerun with `--cases columns:1:N`, N = 10 sqrt(3) s... ),
misfit y (the worst component), model 0 / model 1: s = 0.80: 8.92 / 10.43 %
(11.3k / 12.1k dofs), 0.67: 7.20 / 8.09 %, 0.62: 6.49 / 7.65 %, 0.57: 5.97 /
6.42 % (29.4k / 32.8k dofs), against gmsh's 6.83 / 6.32 %: order-1 columns
match gmsh only at s ~ 1/sqrt(3), with 2.4-2.6x its dofs (the columns carry the
soft layer's horizontal spacing down through the stiff layers). Order-2 columns
at n = 3 beat today's order-1 gmsh meshes on every component at fewer dofs.

Flat case (`--flat`), misfit against the exact column, centre / edge station:
gmsh 45,216 dofs 0.177 / 0.063 %, columns 14,079 dofs 0.165 / 0.082 %.
"""
from __future__ import annotations

import argparse
import itertools
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem.run import mesh_for, simulate
from fem.scenario import Scenario, load_yaml, parse_scenario

FLAT_LAYERS = [
    {"vp": 600.0, "vs": 200.0, "rho": 1800.0, "damping": 0.02},
    {"vp": 1200.0, "vs": 500.0, "rho": 1900.0, "damping": 0.01},
    {"vp": 2000.0, "vs": 900.0, "rho": 2100.0, "damping": 0.0},
]


def with_mesh(text: str, generator: str, order: int, n: float) -> Scenario:
    """The scenario with its `mesh` section's generator, order and elements per wavelength replaced."""
    tree = load_yaml(text)
    f_max = tree["mesh"]["f_max"]
    mesh = f"mesh: {{order: {order}, f_max: {f_max}, elements_per_wavelength: {n}, generator: {generator}}}\n"
    return parse_scenario(re.sub(r"^mesh:.*?(?=^\S)", mesh, text, count=1, flags=re.S | re.M))


def run_case(scenario: Scenario) -> tuple[np.ndarray, dict]:
    """Station velocities (R, 3, T) of a serial run, and its figures."""
    start = time.perf_counter()
    mesh = mesh_for(scenario, MPI.COMM_SELF)
    mesh_seconds = [time.perf_counter() - start]
    if scenario.mesh.generator == "columns":     # milliseconds: best of a few
        for _ in range(4):
            start = time.perf_counter()
            mesh_for(scenario, MPI.COMM_SELF)
            mesh_seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    _, velocity, stats = simulate(scenario, mesh, MPI.COMM_SELF)
    return velocity, {"dofs": stats.dofs, "mesh_ms": 1e3 * min(mesh_seconds), "first_ms": 1e3 * mesh_seconds[0],
                      "run_s": time.perf_counter() - start, "cg": float(stats.cg_iterations.mean())}


def misfit(velocity: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(3,) relative L2 misfit per component over all stations and samples."""
    return np.linalg.norm(velocity - reference, axis=(0, 2)) / np.linalg.norm(reference, axis=(0, 2))


def drawn_models(base: Path, n_models: int, seed: int, out: Path) -> list[Path]:
    from surrogate.generate import generate_scenarios
    return generate_scenarios(base.read_text(), n_models, seed, out, fixed_layers=True)


def compare(path: Path, cases: list[str], reference: str) -> None:
    text = path.read_text()
    print(f"\n{path.name}: reference {reference}")
    print(f"{'case':>14} {'dofs':>8} {'mesh ms':>9} {'(first)':>9} {'run s':>7} {'CG':>6}   misfit x / y / z %")
    runs = {}
    for case in [reference] + cases:
        generator, order, n = case.split(":")
        runs[case] = run_case(with_mesh(text, generator, int(order), float(n)))
        v, f = runs[case]
        m = misfit(v, runs[reference][0])
        print(f"{case:>14} {f['dofs']:>8d} {f['mesh_ms']:>9.1f} {f['first_ms']:>9.1f} {f['run_s']:>7.1f} "
              f"{f['cg']:>6.1f}   {100 * m[0]:.2f} / {100 * m[1]:.2f} / {100 * m[2]:.2f}", flush=True)
    for case in cases:
        twin = case.replace("columns:", "gmsh:")
        if case.startswith("columns:") and twin in runs:
            m = misfit(runs[case][0], runs[twin][0])
            print(f"{case} against {twin}: {100 * m[0]:.2f} / {100 * m[1]:.2f} / {100 * m[2]:.2f} %")


def flat() -> None:
    from fem.exact.column import column_response
    from fem.exact.wavelets import ricker
    from fem.freefield import column_at
    from fem.materials import layer_rayleigh
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fem_cases import layered_plane_wave
    print("\nflat layers, order 2, n = 3: misfit against the exact column, centre / edge station")
    for component, generator in itertools.product("yz", ("gmsh", "columns")):
        sc = layered_plane_wave(component, FLAT_LAYERS, [0.0, -12.0, -30.0], f_max=4.0, f0=1.6, duration=1.6,
                                dt=0.005, z_bottom=-60.0, points=[[30.0, 30.0], [4.0, 30.0]], box=60.0, n=3.0,
                                grid=0, generator=generator)
        v, f = run_case(sc)
        t = np.arange(v.shape[-1]) * sc.time.dt
        w = sc.source.wavelet
        column = column_at(sc.model, layer_rayleigh(sc.model, sc.solver.rayleigh_band), 30.0, 30.0)
        exact = column_response(column, component, ricker(t, w.f0, w.t0, w.amplitude), sc.time.dt,
                                np.array([0.0])).velocity[0]
        axis = "xyz".index(component)
        m = [np.linalg.norm(v[r, axis] - exact) / np.linalg.norm(exact) for r in range(2)]
        print(f"{component} {generator:>8} {f['dofs']:>7d} dofs  mesh {f['mesh_ms']:.1f} ms  run {f['run_s']:.1f} s  "
              f"{100 * m[0]:.3f} / {100 * m[1]:.3f} %", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, default=Path("config/scenarios/benchmark.yaml"))
    p.add_argument("--models", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cases", nargs="+", default=["gmsh:1:10", "columns:1:10", "columns:2:3"],
                   help="GENERATOR:ORDER:N runs to compare")
    p.add_argument("--reference", default="gmsh:2:8", help="GENERATOR:ORDER:N of the reference run")
    p.add_argument("--flat", action="store_true", help="also the flat case against the exact column")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for path in drawn_models(args.base, args.models, args.seed, Path(tmp)):
            compare(path, args.cases, args.reference)
    if args.flat:
        flat()
    return 0


if __name__ == "__main__":
    sys.exit(main())
