"""Vertically incident plane waves: the 3D solver against exact 1D solutions.

Homogeneous halfspace: the surface moves with exactly twice the incident
wavelet, delayed by the travel time. Flat layers: every station, edges
included, follows the exact layered-column (Thomson-Haskell) response, which
is what the free-field lateral boundaries are for.
"""
import numpy as np
import pytest

from fem.exact.column import column_response
from fem.exact.wavelets import ricker
from fem.freefield import column_at
from fem.materials import layer_rayleigh
from tests.fem_cases import layered_plane_wave, relative_l2, run_serial

ROCK = {"vp": 1000.0, "vs": 400.0, "rho": 2000.0}


@pytest.mark.parametrize("component", ["x", "z"])
def test_homogeneous_halfspace_doubles_the_incident_wave(component):
    sc = layered_plane_wave(component, [ROCK], [0.0], f_max=5.0, f0=2.0, duration=1.1, dt=0.005)
    xyz, t, v = run_serial(sc)
    c = ROCK["vs"] if component != "z" else ROCK["vp"]
    axis = "xyz".index(component)
    w = sc.source.wavelet
    expected = 2.0 * ricker(t - 60.0 / c, w.f0, w.t0, w.amplitude)
    for r in range(len(xyz)):
        assert relative_l2(v[r, axis], expected) < 0.02
    others = [a for a in range(3) if a != axis]
    assert np.abs(v[:, others]).max() < 0.02 * np.abs(expected).max()


SOFT_OVER_STIFF = [
    {"vp": 600.0, "vs": 200.0, "rho": 1800.0, "damping": 0.02},
    {"vp": 1200.0, "vs": 500.0, "rho": 1900.0, "damping": 0.01},
    {"vp": 2000.0, "vs": 900.0, "rho": 2100.0, "damping": 0.0},
]


@pytest.mark.parametrize("component", ["y", "z"])
def test_flat_layers_match_the_exact_column_at_centre_and_edge(component):
    # one station at the centre, one 4 m from a lateral boundary
    sc = layered_plane_wave(component, SOFT_OVER_STIFF, [0.0, -12.0, -30.0], f_max=4.0, f0=1.6,
                            duration=1.6, dt=0.005, z_bottom=-60.0, points=[[60.0, 60.0], [4.0, 60.0]], box=120.0, n=3.0,
                            grid=0)
    xyz, t, v = run_serial(sc)
    rayleigh = layer_rayleigh(sc.model, sc.solver.rayleigh_band)
    column = column_at(sc.model, rayleigh, 60.0, 60.0)
    w = sc.source.wavelet
    exact = column_response(column, component, ricker(t, w.f0, w.t0, w.amplitude), sc.time.dt,
                            np.array([0.0])).velocity[0]
    axis = "xyz".index(component)
    for r in range(len(xyz)):
        assert relative_l2(v[r, axis], exact) < 0.05, f"station {xyz[r]}"
    if component != "z":  # soft layers amplify S waves beyond the halfspace's doubling
        assert np.abs(exact).max() > 2.2 * w.amplitude
