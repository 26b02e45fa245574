"""A stand-in engine: each station's 1D layered-column response to the vertical plane wave.

For flat layers this is the exact solution the FEM must reproduce (DESIGN.md:
"for flat layers the 3D solution equals the 1D solution at every station");
for gently varying layers it is the local 1D approximation. It writes result
files in the FEM's layout (engine "column1d"), so the whole learning pipeline
can be built and tested without the FEM, and it is the physics baseline that
the forward network should at least match.

Transfer function (Kramer 1996, sec. 7.2, e^{+i w t} convention, z down):
complex speed c* = c sqrt(1 + 2 i xi); in layer m, u = A_m e^{i k z} + B_m e^{-i k z}
(A upgoing); free surface A_1 = B_1; across an interface with impedance ratio
a_m = rho_m c*_m / (rho_{m+1} c*_{m+1})
  A_{m+1} = [A_m (1 + a_m) e^{i k_m h_m} + B_m (1 - a_m) e^{-i k_m h_m}] / 2
  B_{m+1} = [A_m (1 - a_m) e^{i k_m h_m} + B_m (1 + a_m) e^{-i k_m h_m}] / 2.
The last layer continues below z_bottom, so the incident (upgoing) motion at
z_bottom is A_3 e^{i k_3 h_3} with h_3 = b23 - z_bottom, and the surface motion
is 2 A_1. Shear components use vs, the vertical one vp.
"""
from __future__ import annotations

import time as _time

import numpy as np

from surrogate.errors import SurrogateInputError
from surrogate.resultfile import Recording
from surrogate.scenario import Scenario, output_times, station_xy
from surrogate.surfaces import surfaces_at


def ricker(t: np.ndarray, f0: float, t0: float, amplitude: float) -> np.ndarray:
    """Ricker wavelet, same units as amplitude: A (1 - 2 a) e^{-a}, a = (pi f0 (t - t0))^2."""
    a = (np.pi * f0 * (t - t0)) ** 2
    return amplitude * (1.0 - 2.0 * a) * np.exp(-a)


def column_transfer(omega: np.ndarray, thickness: np.ndarray, speed: np.ndarray, rho: np.ndarray,
                    damping: np.ndarray) -> np.ndarray:
    """(R, W) complex surface motion per unit incident upgoing motion at the column bottom.

    thickness (R, L) m of each layer down to z_bottom (the last continues as a
    halfspace); speed (L,) m/s, rho (L,) kg/m^3, damping (L,) 1; omega (W,) rad/s.
    """
    c = speed * np.sqrt(1.0 + 2.0j * damping)                     # (L,)
    k = omega[None, :, None] / c[None, None, :]                    # (1, W, L)
    phase = np.exp(1j * k * thickness[:, None, :])                 # (R, W, L)
    a_up = np.ones(phase.shape[:2], dtype=complex)
    b_down = np.ones_like(a_up)
    for m in range(len(c) - 1):   # loop over the few layers, vectorised over stations and frequencies
        ratio = rho[m] * c[m] / (rho[m + 1] * c[m + 1])
        up, down = a_up * phase[..., m], b_down / phase[..., m]
        a_up, b_down = 0.5 * (up * (1 + ratio) + down * (1 - ratio)), 0.5 * (up * (1 - ratio) + down * (1 + ratio))
    return 2.0 / (a_up * phase[..., -1])


def simulate_columns(scenario: Scenario) -> Recording:
    """Station velocities (R, 3, T) for a vertically incident Ricker plane wave, 1D per station."""
    src = scenario.source
    wavelet = src.get("wavelet") or {}
    if src.get("type") != "plane_wave" or wavelet.get("type", "ricker") != "ricker":
        raise SurrogateInputError("column1d: only a plane_wave source with a ricker wavelet is supported")
    comp = {"x": 0, "y": 1, "z": 2}.get(src.get("component"))
    if comp is None:
        raise SurrogateInputError("column1d: source.component must be x, y or z")
    xy = station_xy(scenario)
    z = surfaces_at(scenario, xy)                                   # (S, R)
    thickness = np.concatenate([z[:-1] - z[1:], (z[-1] - scenario.domain.z_bottom)[None]]).T  # (R, L)
    layers = np.stack([l.as_array() for l in scenario.layers])     # (L, 4)
    t = output_times(scenario)
    n_fft = 1 << int(np.ceil(np.log2(4 * len(t))))                 # padding: no wrap-around of late arrivals
    incident = ricker(np.arange(n_fft) * scenario.output_dt, float(wavelet["f0"]), float(wavelet["t0"]),
                      float(wavelet["amplitude"]))
    omega = 2 * np.pi * np.fft.rfftfreq(n_fft, scenario.output_dt)
    speed = layers[:, 0] if comp == 2 else layers[:, 1]
    surface = np.fft.irfft(column_transfer(omega, thickness, speed, layers[:, 2], layers[:, 3])
                           * np.fft.rfft(incident)[None], n_fft)[:, :len(t)]
    velocity = np.zeros((xy.shape[0], 3, len(t)), dtype=np.float32)
    velocity[:, comp] = surface
    xyz = np.concatenate([xy, z[:1].T], axis=1)
    return Recording(xyz, t, velocity, scenario.text, "column1d")


def run_columns(scenario: Scenario) -> tuple[Recording, float]:
    """simulate_columns and its wall time, s."""
    start = _time.perf_counter()
    rec = simulate_columns(scenario)
    return rec, _time.perf_counter() - start
