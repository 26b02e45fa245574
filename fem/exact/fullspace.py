"""Moment-tensor point source in a homogeneous, unbounded, isotropic elastic medium.

Aki & Richards (2002) eq. 4.29, differentiated in time to give particle
velocity. Sign convention (Aki & Richards): the equivalent body force is
f_i = -M_ij d/dx_j delta(x - x_s) s(t), with s rising from 0 to 1, so that
u_n = M_pq G_np,q (derivative with respect to the source coordinate). With
gamma the unit vector from source to receiver, r the distance, a = r/vp and
b = r/vs, the displacement is

    4 pi rho u_n = A^N_n / r^4  int_a^b tau s(t - tau) dtau
                 + A^IP_n / (vp^2 r^2) s(t - a) - A^IS_n / (vs^2 r^2) s(t - b)
                 + A^FP_n / (vp^3 r) s'(t - a)  - A^FS_n / (vs^3 r) s'(t - b)

with the radiation patterns (M contracted)
    A^N  = 15 g (gMg) - 3 g tr M - 3 M^T g - 3 M g
    A^IP =  6 g (gMg) -   g tr M -   M^T g -   M g
    A^IS =  6 g (gMg) -   g tr M -   M^T g - 2 M g
    A^FP =    g (gMg)
    A^FS =    g (gMg) - M g.
The time derivative of the near-field integral is
    d/dt int_a^b tau s(t - tau) dtau = a s(t - a) - b s(t - b) + int_{t-b}^{t-a} s(u) du.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.interpolate import CubicSpline


def fullspace_velocity(moment_tensor: np.ndarray, moment_function: Callable[[np.ndarray], np.ndarray],
                       vp: float, vs: float, rho: float, source: np.ndarray, receivers: np.ndarray,
                       t: np.ndarray, derivative_step: float | None = None) -> np.ndarray:
    """Particle velocity (R, 3, T), m/s, at receivers from a moment-tensor point source.

    moment_tensor: (3, 3) M_pq, N m (x, y, z; symmetric for a physical source).
    moment_function: s(t), dimensionless, vectorised over arrays, rising from 0
    to 1 (0 before the origin time). vp, vs: wave speeds, m/s; rho: density,
    kg/m^3. source: (3,) position, m; receivers: (R, 3) positions, m, none at
    the source. t: (T,) sample times, s.

    s' and s'' are taken by fourth-order central differences of the callable
    with step `derivative_step` (default a tenth of the median sample interval),
    so any smooth callable will do; its running integral (for the near field)
    comes from a cubic spline through s on a grid of that step.
    """
    moment = np.asarray(moment_tensor, dtype=float)
    receivers = np.atleast_2d(np.asarray(receivers, dtype=float))
    t = np.atleast_1d(np.asarray(t, dtype=float))
    if moment.shape != (3, 3):
        raise ValueError(f"moment_tensor must be (3, 3), got {moment.shape}")
    if not 0.0 < vs < vp:
        raise ValueError(f"need 0 < vs < vp, got vs = {vs}, vp = {vp}")
    offset = receivers - np.asarray(source, dtype=float)
    r = np.linalg.norm(offset, axis=1)
    if np.any(r == 0.0):
        raise ValueError("a receiver coincides with the source, where the field is singular")
    h = derivative_step if derivative_step is not None else _default_step(t)

    gamma = offset / r[:, None]
    g_m_g = np.einsum("ri,ij,rj->r", gamma, moment, gamma)[:, None]
    m_g = gamma @ moment.T               # (M g)_n = M_nq g_q
    mt_g = gamma @ moment                # (M^T g)_n = M_pn g_p
    g_tr = gamma * np.trace(moment)
    near = 15.0 * gamma * g_m_g - 3.0 * g_tr - 3.0 * mt_g - 3.0 * m_g
    inter_p = 6.0 * gamma * g_m_g - g_tr - mt_g - m_g
    inter_s = 6.0 * gamma * g_m_g - g_tr - mt_g - 2.0 * m_g
    far_p = gamma * g_m_g
    far_s = gamma * g_m_g - m_g

    a, b = (r / vp)[:, None], (r / vs)[:, None]
    t_p, t_s = t[None, :] - a, t[None, :] - b          # (R, T) retarded times
    s_p, ds_p, dds_p = _value_and_derivatives(moment_function, t_p, h)
    s_s, ds_s, dds_s = _value_and_derivatives(moment_function, t_s, h)
    integral = _running_integral(moment_function, t_s.min(), t_p.max(), h)
    near_rate = a * s_p - b * s_s + integral(t_p) - integral(t_s)

    rc = r[:, None, None]
    velocity = (near[:, :, None] / rc**4 * near_rate[:, None, :]
                + inter_p[:, :, None] / (vp**2 * rc**2) * ds_p[:, None, :]
                - inter_s[:, :, None] / (vs**2 * rc**2) * ds_s[:, None, :]
                + far_p[:, :, None] / (vp**3 * rc) * dds_p[:, None, :]
                - far_s[:, :, None] / (vs**3 * rc) * dds_s[:, None, :])
    return velocity / (4.0 * np.pi * rho)


def _default_step(t: np.ndarray) -> float:
    """A tenth of the median sample interval, s: the callable is resolved by the sampling."""
    if t.size < 2:
        raise ValueError("give derivative_step when t has a single sample")
    return 0.1 * float(np.median(np.diff(t)))


def _value_and_derivatives(s: Callable, x: np.ndarray, h: float):
    """s, s', s'' at x from five-point stencils (errors O(h^4); round-off O(eps/h^2))."""
    m2, m1, c0, p1, p2 = (s(x + k * h) for k in (-2, -1, 0, 1, 2))
    rate = (m2 - 8.0 * m1 + 8.0 * p1 - p2) / (12.0 * h)
    curvature = (-m2 + 16.0 * m1 - 30.0 * c0 + 16.0 * p1 - p2) / (12.0 * h**2)
    return c0, rate, curvature


def _running_integral(s: Callable, lo: float, hi: float, h: float):
    """Callable antiderivative of s on [lo, hi] (any constant: only differences are used)."""
    n = max(4, int(np.ceil((hi - lo) / h)) + 1)
    grid = np.linspace(lo - 2.0 * h, hi + 2.0 * h, n + 4)
    return CubicSpline(grid, s(grid)).antiderivative()
