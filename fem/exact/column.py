"""Vertically incident plane waves in a layered column over an elastic halfspace.

The 1D reference of the 3D solver (Haskell propagators; Kramer 1996, ch. 7),
used to verify it and to drive its free-field lateral boundaries. Each layer
carries the solver's own Rayleigh damping C = alpha M + beta K, so the column is
the exact solution of the same damped problem, not of a constant-Q one:

    rho u_tt + alpha rho u_t = d/dz (G (1 + beta d/dt) du/dz).

With u ~ exp(i w t) this is -w^2 rho* u = G* u_zz, with complex density
rho* = rho (1 - i alpha / w) and modulus G* = G (1 + i w beta); both give
Im(k) < 0 for k^2 = w^2 rho* / G*, so an upgoing wave exp(i(w t - k z)) decays
upwards. G = rho vs^2 for the shear components x, y and M = rho vp^2 for the
normal component z. The halfspace below the stack is elastic.

The input is the upgoing incident particle velocity at the top of the
halfspace, z_bottom. Responses are computed in the frequency domain with the
exponential window method (Kausel & Roesset 1992): the signal is damped by
exp(-eta t) before the FFT, the transfer functions are evaluated at the complex
frequency w - i eta, and the result is undamped by exp(eta t). This suppresses
the periodic wrap-around of slowly decaying (lightly damped, resonant) columns
by exp(-eta N dt) without long zero padding, and keeps w - i eta away from the
w = 0 singularity of rho*.

Propagation runs from the free surface downwards on the state (velocity V,
traction S = G* du/dz): the field grows downwards wherever the damping makes it
decay upwards, so this direction has no cancellation; each layer's state is
rescaled and the scale kept as a logarithm, so strongly damped high frequencies
underflow gracefully to zero instead of overflowing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

COMPONENTS = ("x", "y", "z")
_WRAP_ATTENUATION = 1e-9   # exp(-eta N dt): weight of the first periodic alias
_PAD_FACTOR = 2            # FFT length >= 2 T; the window bounds the undamping by exp(eta T dt) <= 3e4
_MAX_LAYER_DECAY = 200.0   # split a layer where |Im k| h exceeds this: cos(k h) stays finite
_CHUNK = 1 << 16           # (depth, frequency) pairs per block: 1 MB temporaries stay in cache and
                           # are reused by the allocator instead of page-faulting fresh memory


@dataclass(frozen=True)
class Column:
    """A stack of flat layers (top to bottom) on an elastic halfspace, free surface on top."""
    thickness: np.ndarray  #: (L,) float64, layer thicknesses top to bottom, m
    vp: np.ndarray         #: (L,) float64, P-wave speeds, m/s
    vs: np.ndarray         #: (L,) float64, S-wave speeds, m/s
    rho: np.ndarray        #: (L,) float64, densities, kg/m^3
    alpha: np.ndarray      #: (L,) float64, mass-proportional Rayleigh coefficients, 1/s
    beta: np.ndarray       #: (L,) float64, stiffness-proportional Rayleigh coefficients, s
    halfspace: tuple[float, float, float]  #: (vp m/s, vs m/s, rho kg/m^3) of the elastic halfspace below
    z_top: float           #: elevation of the free surface, m (z up)

    def __post_init__(self) -> None:
        fields = ("thickness", "vp", "vs", "rho", "alpha", "beta")
        arrays = {name: np.atleast_1d(np.asarray(getattr(self, name), dtype=float)) for name in fields}
        n = arrays["thickness"].shape
        for name, value in arrays.items():
            if value.shape != n or value.ndim != 1:
                raise ValueError(f"Column.{name} has shape {value.shape}, expected {n}")
            object.__setattr__(self, name, value)
        if np.any(arrays["thickness"] <= 0.0):
            raise ValueError("Column.thickness must be positive")
        for name in ("vp", "vs", "rho"):
            if np.any(arrays[name] <= 0.0):
                raise ValueError(f"Column.{name} must be positive")
        if np.any(arrays["alpha"] < 0.0) or np.any(arrays["beta"] < 0.0):
            raise ValueError("Column Rayleigh coefficients alpha, beta must be >= 0")
        if len(self.halfspace) != 3 or min(self.halfspace) <= 0.0:
            raise ValueError("Column.halfspace must be (vp, vs, rho), all positive")
        object.__setattr__(self, "halfspace", tuple(float(v) for v in self.halfspace))
        object.__setattr__(self, "z_top", float(self.z_top))

    @property
    def interfaces(self) -> np.ndarray:
        """(L + 1,) elevations of the free surface and of each layer's bottom, m."""
        return self.z_top - np.concatenate([[0.0], np.cumsum(self.thickness)])

    @property
    def z_bottom(self) -> float:
        """Elevation of the top of the halfspace, m: where the incident wave is given."""
        return float(self.interfaces[-1])

    def layer_of(self, z: np.ndarray) -> np.ndarray:
        """(n,) int index of the layer holding each elevation; the upper one at a boundary.

        Index L (the number of layers) is the halfspace, for z < z_bottom.
        """
        z = np.asarray(z, dtype=float)
        if np.any(z > self.z_top + self.tolerance):
            raise ValueError(f"elevations above the free surface z_top = {self.z_top}")
        return np.searchsorted(-self.interfaces[1:], -z, side="left")

    @property
    def tolerance(self) -> float:
        """Round-off allowance on elevations, m: a mesh node on a boundary may miss it by this."""
        return 1e-9 * max(1.0, float(np.sum(self.thickness)), abs(self.z_top))


@dataclass(frozen=True)
class ColumnResponse:
    """Time histories of one moving component at requested elevations."""
    t: np.ndarray         #: (T,) float64, sample times, s (the incident wavelet's)
    velocity: np.ndarray  #: (n_z, T) float64, particle velocity of the component, m/s
    strain: np.ndarray    #: (n_z, T) float64, du/dz of that component, dimensionless
    stress: np.ndarray    #: (n_z, T) float64, traction on a horizontal plane, sigma_zc, Pa (includes beta part)


def _modulus_and_speed(column: Column, component: str) -> tuple[np.ndarray, float, float]:
    """(layer moduli Pa, halfspace impedance kg/m^2/s, halfspace wave speed m/s) for a component."""
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, got {component!r}")
    vp_h, vs_h, rho_h = column.halfspace
    speed = column.vp if component == "z" else column.vs
    speed_h = vp_h if component == "z" else vs_h
    return column.rho * speed**2, rho_h * speed_h, speed_h


def _layer_constants(omega, rho, alpha, modulus, beta):
    """(k 1/m, G* Pa, i w / (k G*), rho (i w + alpha) / k), broadcast over omega and layers.

    The state (V, S) obeys d/dz V = i w S / G* and d/dz S = rho (i w + alpha) V
    (z up), so V'' = -k^2 V with k^2 = -i w rho (i w + alpha) / G*. Going down
    by d: V <- cos(kd) V - sin(kd) (i w / (k G*)) S and S <- cos(kd) S -
    sin(kd) (rho (i w + alpha) / k) V. Those entries are even in k, so either
    root will do; omega never vanishes (the window shifts it to -i eta).
    """
    g_star = modulus * (1.0 + 1j * omega * beta)
    mass = rho * (1j * omega + alpha)           # rho* times i w
    k = np.sqrt(-1j * omega * mass / g_star)
    return k, g_star, 1j * omega / (k * g_star), mass / k


def _cos_sin(k, depth):
    """cos(k d), sin(k d) from one complex exponential (half the cost of cos and sin)."""
    e = np.exp(1j * k * depth)
    inv = 1.0 / e
    return 0.5 * (e + inv), -0.5j * (e - inv)


def _sublayers(column: Column, k: np.ndarray):
    """Split layers where the damping makes cos(k h) too large.

    k: (L, F) wavenumbers. Returns (parent layer index, top elevation,
    thickness m) of each sublayer.
    """
    decay = np.abs(k.imag).max(axis=1, initial=0.0) * column.thickness
    pieces = np.maximum(1, np.ceil(decay / _MAX_LAYER_DECAY)).astype(int)
    parent = np.repeat(np.arange(column.thickness.size), pieces)
    thickness = np.repeat(column.thickness / pieces, pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    top = column.interfaces[:-1][parent] - (np.arange(parent.size) - first) * thickness
    return parent, top, thickness


def transfer_functions(column: Column, component: str, omega: np.ndarray, z: np.ndarray,
                       layer: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Velocity, strain and traction at elevations z per unit incident velocity at z_bottom.

    omega: (F,) angular frequencies, rad/s, real or complex with Im(omega) <= 0
    (convention exp(i omega t)), nonzero. z: (n,) elevations, m, at or below
    z_top. layer: (n,) int, which layer's material to use at each point
    (matters only on a boundary, where the strain is one-sided); L is the
    halfspace; default `column.layer_of(z)`. Returns three (n, F) complex
    arrays: velocity (1/1), du/dz (s/m), traction G* du/dz (Pa s/m).
    """
    omega = np.atleast_1d(np.asarray(omega, dtype=complex))
    if np.any(omega == 0.0):
        raise ValueError("omega = 0 is singular with mass-proportional damping; use omega - i eta")
    z = np.atleast_1d(np.asarray(z, dtype=float))
    layer = column.layer_of(z) if layer is None else np.atleast_1d(np.asarray(layer, dtype=int))
    _check_layers(column, z, layer)
    modulus, z_half, c_half = _modulus_and_speed(column, component)
    k, g_star, a_vs, a_sv = _layer_constants(omega[None, :], column.rho[:, None], column.alpha[:, None],
                                             modulus[:, None], column.beta[:, None])
    parent, top, thickness = _sublayers(column, k)

    # Downward sweep from the free surface (V = 1, S = 0); the scale is kept as a log.
    n_sub = parent.size
    v_top = np.ones((n_sub + 1, omega.size), dtype=complex)
    s_top = np.zeros((n_sub + 1, omega.size), dtype=complex)
    log_scale = np.zeros((n_sub + 1, omega.size))
    for j, p in enumerate(parent):
        cos, sin = _cos_sin(k[p], thickness[j])
        v = cos * v_top[j] - sin * a_vs[p] * s_top[j]
        s = cos * s_top[j] - sin * a_sv[p] * v_top[j]
        scale = np.abs(v) + np.abs(s) / z_half
        v_top[j + 1], s_top[j + 1] = v / scale, s / scale
        log_scale[j + 1] = log_scale[j] + np.log(scale)

    # Halfspace: V = Vi + Vr, S = -Z (Vi - Vr) at z_bottom.
    incident = 0.5 * (v_top[-1] - s_top[-1] / z_half)
    reflected = 0.5 * (v_top[-1] + s_top[-1] / z_half)
    # Sublayer-top states per unit incident wave; exp(-large) underflows to 0 harmlessly.
    norm = np.exp(log_scale[:-1] - log_scale[-1]) / incident
    v_top, s_top = v_top[:-1] * norm, s_top[:-1] * norm
    sv_top, vs_top = a_vs[parent] * s_top, a_sv[parent] * v_top

    velocity = np.empty((z.size, omega.size), dtype=complex)
    strain = np.empty_like(velocity)
    traction = np.empty_like(velocity)
    below = layer == column.thickness.size
    if np.any(below):
        k_h = omega / c_half
        depth = column.z_bottom - z[below]
        up = np.exp(1j * np.outer(depth, k_h))       # exp(-i k (z - z_bottom)), |.| <= 1
        down = np.exp(-1j * np.outer(depth, k_h)) * (reflected / incident)
        velocity[below] = up + down
        traction[below] = -z_half * (up - down)
        strain[below] = traction[below] / (z_half * c_half)
    inside = np.flatnonzero(~below)
    sub = _sublayer_of(parent, top, thickness, z[inside], layer[inside])
    inv_g_star = 1.0 / g_star
    rows_per_chunk = max(1, _CHUNK // omega.size)
    for j in np.unique(sub):
        members = inside[sub == j]
        p = parent[j]
        for start in range(0, members.size, rows_per_chunk):
            rows = members[start:start + rows_per_chunk]
            cos, sin = _cos_sin(k[p], (top[j] - z[rows])[:, None])
            velocity[rows] = cos * v_top[j] - sin * sv_top[j]
            traction[rows] = cos * s_top[j] - sin * vs_top[j]
            strain[rows] = traction[rows] * inv_g_star[p]
    return velocity, strain, traction


def _check_layers(column: Column, z: np.ndarray, layer: np.ndarray) -> None:
    """Refuse layer indices that do not hold their point (beyond round-off)."""
    if layer.shape != z.shape:
        raise ValueError(f"layer has shape {layer.shape}, z has {z.shape}")
    n_layers = column.thickness.size
    if np.any((layer < 0) | (layer > n_layers)):
        raise ValueError(f"layer indices must lie in 0..{n_layers} ({n_layers} = halfspace)")
    tol = column.tolerance
    if np.any(z > column.z_top + tol):
        raise ValueError(f"elevations above the free surface z_top = {column.z_top}")
    upper = np.concatenate([column.interfaces[:-1], [column.z_bottom]])[layer]
    lower = np.concatenate([column.interfaces[1:], [-np.inf]])[layer]
    bad = (z > upper + tol) | (z < lower - tol)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"point z = {z[i]} m does not lie in layer {layer[i]}")


def _sublayer_of(parent, top, thickness, z, layer):
    """Index of the sublayer of `layer` holding each z (the upper one between sublayers)."""
    sub = np.searchsorted(parent, layer, side="left")
    last = np.searchsorted(parent, layer, side="right") - 1
    offset = np.floor((top[sub] - z) / thickness[sub]).astype(int)
    return np.clip(sub + offset, sub, last)


def column_response(column: Column, component: str, incident_velocity: np.ndarray, dt: float,
                    z: np.ndarray, layer: np.ndarray | None = None) -> ColumnResponse:
    """Response of the column to an upgoing plane wave, at elevations z.

    component: 'x' or 'y' (S wave) or 'z' (P wave). incident_velocity: (T,)
    upgoing incident particle velocity at z_bottom, m/s, sampled at dt s from
    t = 0 (zero before and after). z: (n,) elevations, m; points below
    z_bottom lie in the halfspace. layer: see `transfer_functions`. Repeated
    (z, layer) pairs are computed once.
    """
    incident_velocity = np.asarray(incident_velocity, dtype=float)
    if incident_velocity.ndim != 1:
        raise ValueError("incident_velocity must be a 1D time series")
    z = np.atleast_1d(np.asarray(z, dtype=float))
    layer = column.layer_of(z) if layer is None else np.atleast_1d(np.asarray(layer, dtype=int))
    n_t = incident_velocity.size
    n_fft = next_fast_len(_PAD_FACTOR * n_t, real=True)
    eta = -np.log(_WRAP_ATTENUATION) / (n_fft * dt)
    t = dt * np.arange(n_t)
    spectrum = rfft(incident_velocity * np.exp(-eta * t), n_fft)
    omega = 2.0 * np.pi * np.fft.rfftfreq(n_fft, dt) - 1j * eta

    keys, inverse = np.unique(np.stack([z, layer.astype(float)]), axis=1, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")     # output rows grouped by their unique key
    bounds = np.searchsorted(inverse[order], np.arange(keys.shape[1] + 1))
    velocity = np.empty((z.size, n_t))
    strain, stress = np.empty_like(velocity), np.empty_like(velocity)
    undamp = np.exp(eta * t)
    rows_per_chunk = max(1, _CHUNK // omega.size)
    for start in range(0, keys.shape[1], rows_per_chunk):
        stop = min(start + rows_per_chunk, keys.shape[1])
        rows = order[bounds[start]:bounds[stop]]
        tf = transfer_functions(column, component, omega, keys[0, start:stop], keys[1, start:stop].astype(int))
        for out, h in zip((velocity, strain, stress), tf):
            h *= spectrum
            series = irfft(h, n_fft, axis=1)[:, :n_t]
            series *= undamp
            out[rows] = series[inverse[rows] - start]
    return ColumnResponse(t=t, velocity=velocity, strain=strain, stress=stress)
