"""Smooth source time functions shared by the exact solutions and the FEM sources.

Each function takes times ``t`` in seconds (any shape) and returns an array of
the same shape. ``derivative`` selects the time derivative (1, 2) or, where it
is useful for point sources, the running integral from -inf (-1); units gain a
factor 1/s per derivative and s per integral.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf


def ricker(t: np.ndarray, f0: float, t0: float, amplitude: float, derivative: int = 0) -> np.ndarray:
    """Ricker wavelet A (1 - 2 x) exp(-x), x = (pi f0 (t - t0))^2.

    f0: peak frequency, Hz; t0: time of the peak, s; amplitude: value at t0 (in
    the caller's units, m/s for an incident velocity). derivative: 0, 1 or 2.
    """
    a = (np.pi * f0) ** 2
    tau = np.asarray(t, dtype=float) - t0
    g = amplitude * np.exp(-a * tau**2)
    if derivative == 0:
        return (1.0 - 2.0 * a * tau**2) * g
    if derivative == 1:
        return 2.0 * a * tau * (2.0 * a * tau**2 - 3.0) * g
    if derivative == 2:
        return -2.0 * a * (4.0 * a**2 * tau**4 - 12.0 * a * tau**2 + 3.0) * g
    raise ValueError(f"ricker: derivative must be 0, 1 or 2, got {derivative}")


def brune(t: np.ndarray, rise_time: float, derivative: int = 0) -> np.ndarray:
    """Brune moment function M(t)/M0 = 1 - (1 + t/T) exp(-t/T) for t >= 0, 0 before.

    rise_time T, s. Rises from 0 to 1; the moment rate t/T^2 exp(-t/T) peaks at
    t = T. derivative: -1 (integral from 0), 0, 1 or 2 (the second derivative
    jumps from 0 to 1/T^2 at t = 0, the only non-smooth point).
    """
    x = np.maximum(np.asarray(t, dtype=float), 0.0) / rise_time
    e = np.exp(-x)
    if derivative == -1:
        out = rise_time * (x - 2.0 + (2.0 + x) * e)
    elif derivative == 0:
        out = 1.0 - (1.0 + x) * e
    elif derivative == 1:
        out = x * e / rise_time
    elif derivative == 2:
        out = (1.0 - x) * e / rise_time**2
    else:
        raise ValueError(f"brune: derivative must be -1, 0, 1 or 2, got {derivative}")
    return np.where(np.asarray(t) >= 0.0, out, 0.0)


def smooth_step(t: np.ndarray, t0: float, sigma: float, derivative: int = 0) -> np.ndarray:
    """Smooth step 0.5 (1 + erf((t - t0) / sigma)), rising from 0 to 1 around t0.

    t0: centre, s; sigma: rise width, s (10-90 % rise in about 1.8 sigma).
    derivative: -1 (integral from -inf), 0, 1 or 2. Infinitely smooth, so it is
    the function of choice where convergence orders are measured.
    """
    x = (np.asarray(t, dtype=float) - t0) / sigma
    gauss = np.exp(-x**2) / (sigma * np.sqrt(np.pi))  # the first derivative
    if derivative == -1:
        return 0.5 * sigma * (x * (1.0 + erf(x)) + np.exp(-x**2) / np.sqrt(np.pi))
    if derivative == 0:
        return 0.5 * (1.0 + erf(x))
    if derivative == 1:
        return gauss
    if derivative == 2:
        return -2.0 * x / sigma * gauss
    raise ValueError(f"smooth_step: derivative must be -1, 0, 1 or 2, got {derivative}")
