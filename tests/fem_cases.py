"""Small scenarios shared by the solver tests (CI-sized: seconds to a minute each)."""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from fem.run import mesh_for, simulate
from fem.scenario import Scenario, parse_scenario


def layered_plane_wave(component: str, layers: list[dict], surfaces: list, f_max: float, f0: float,
                       duration: float, dt: float, box: float = 160.0, z_bottom: float = -60.0,
                       points: list | None = None, grid: int = 2, n: float = 5.0, rtol: float = 1e-9,
                       order: int = 2, generator: str = "gmsh") -> Scenario:
    """A plane-wave scenario from a few numbers (YAML written out, so the parser is exercised too)."""
    surf = "".join(f"\n    - {{name: s{i}, elevation: {s}}}" for i, s in enumerate(surfaces))
    lay = "".join(f"\n    - {{vp: {l['vp']}, vs: {l['vs']}, rho: {l['rho']}, damping: {l.get('damping', 0.0)}}}"
                  for l in layers)
    text = (f"model:\n  domain: {{x: [0.0, {box}], y: [0.0, {box}], z_bottom: {z_bottom}}}\n"
            f"  surfaces:{surf}\n  layers:{lay}\n"
            f"mesh: {{order: {order}, f_max: {f_max}, elements_per_wavelength: {n}"
            f"{'' if generator == 'gmsh' else ', generator: ' + generator}}}\n"
            f"time: {{duration: {duration}, dt: {dt}}}\n"
            f"source:\n  type: plane_wave\n  component: {component}\n"
            f"  wavelet: {{type: ricker, f0: {f0}, t0: {1.2 / f0}, amplitude: 0.01}}\n"
            f"receivers:\n  grid: {{nx: {grid}, ny: {grid}}}\n  points: {points or []}\n"
            f"solver: {{rtol: {rtol}}}\n")
    return parse_scenario(text)


def run_serial(scenario: Scenario):
    """(xyz (R,3), t (T,), velocity (R,3,T)) of a one-rank run at every time step."""
    comm = MPI.COMM_SELF
    mesh = mesh_for(scenario, comm)
    xyz, velocity, stats = simulate(scenario, mesh, comm)
    t = np.arange(stats.steps + 1) * scenario.time.dt
    return xyz, t, velocity


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| over the last axis (and all others)."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
