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

A family of columns with the same layers but different thicknesses (`Columns`:
the free field beneath every side node of a laterally varying 3D model) shares
the per-layer wavenumbers and is swept together, one column per array row.
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
class Columns:
    """Columns of the same layers that differ only in thicknesses and surface elevation.

    The free field of a 3D model with laterally varying layer boundaries is one
    such family (a column per side-node position): the materials, hence the
    per-layer wavenumbers, are shared, so the columns are swept together.
    """
    thickness: np.ndarray  #: (C, L) float64, layer thicknesses of each column, top to bottom, m
    vp: np.ndarray         #: (L,) float64, P-wave speeds, m/s
    vs: np.ndarray         #: (L,) float64, S-wave speeds, m/s
    rho: np.ndarray        #: (L,) float64, densities, kg/m^3
    alpha: np.ndarray      #: (L,) float64, mass-proportional Rayleigh coefficients, 1/s
    beta: np.ndarray       #: (L,) float64, stiffness-proportional Rayleigh coefficients, s
    halfspace: tuple[float, float, float]  #: (vp m/s, vs m/s, rho kg/m^3) of the elastic halfspace below
    z_top: np.ndarray      #: (C,) float64, elevation of each free surface, m (z up)

    def __post_init__(self) -> None:
        thickness = np.atleast_2d(np.asarray(self.thickness, dtype=float))
        z_top = np.atleast_1d(np.asarray(self.z_top, dtype=float))
        if thickness.ndim != 2 or z_top.shape != thickness.shape[:1]:
            raise ValueError(f"Columns.thickness {thickness.shape} must be (C, L) and z_top {z_top.shape} (C,)")
        # Validate the materials once through Column (with the first column's thicknesses).
        first = Column(thickness[0], self.vp, self.vs, self.rho, self.alpha, self.beta, self.halfspace, z_top[0])
        if np.any(thickness <= 0.0):
            raise ValueError("Columns.thickness must be positive")
        object.__setattr__(self, "thickness", thickness)
        object.__setattr__(self, "z_top", z_top)
        for name in ("vp", "vs", "rho", "alpha", "beta", "halfspace"):
            object.__setattr__(self, name, getattr(first, name))

    @classmethod
    def of(cls, column: Column) -> "Columns":
        """The one-column family of `column`."""
        return cls(column.thickness[None], column.vp, column.vs, column.rho, column.alpha, column.beta,
                   column.halfspace, np.array([column.z_top]))

    def __len__(self) -> int:
        return self.thickness.shape[0]

    def __getitem__(self, c: int) -> Column:
        """Column c on its own."""
        return Column(self.thickness[c], self.vp, self.vs, self.rho, self.alpha, self.beta, self.halfspace,
                      self.z_top[c])

    @property
    def interfaces(self) -> np.ndarray:
        """(C, L + 1) elevations of each free surface and of each layer's bottom, m."""
        return self.z_top[:, None] - np.concatenate([np.zeros((len(self), 1)), np.cumsum(self.thickness, axis=1)],
                                                    axis=1)

    @property
    def tolerance(self) -> np.ndarray:
        """(C,) round-off allowance on elevations, m (see `Column.tolerance`)."""
        return 1e-9 * np.maximum(np.maximum(1.0, self.thickness.sum(axis=1)), np.abs(self.z_top))

    def layer_of(self, z: np.ndarray, column: np.ndarray) -> np.ndarray:
        """(n,) int layer of column[i] holding z[i]; the upper one at a boundary; L is the halfspace."""
        z, column = np.asarray(z, dtype=float), np.asarray(column, dtype=int)
        if np.any(z > self.z_top[column] + self.tolerance[column]):
            raise ValueError("elevations above the free surface z_top")
        return np.sum(self.interfaces[column, 1:] > z[:, None], axis=1)


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


def _pieces(thickness: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(C, L) int pieces each layer of each column is split into, where the damping makes cos(k h) too large.

    thickness: (C, L) m; k: (L, F) wavenumbers.
    """
    decay = thickness * np.abs(k.imag).max(axis=1, initial=0.0)
    return np.maximum(1, np.ceil(decay / _MAX_LAYER_DECAY)).astype(int)


def _sublayers(thickness: np.ndarray, interfaces: np.ndarray, pieces: np.ndarray):
    """Split the layers of a block of columns into `pieces` (L,) sublayers each, alike in every column.

    thickness: (C, L) m; interfaces: (C, L + 1) elevations m. Returns (parent
    layer index (S,), sublayer top elevations (C, S) m, sublayer thicknesses
    (C, S) m).
    """
    parent = np.repeat(np.arange(pieces.size), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    sub_thickness = thickness[:, parent] / pieces[parent]
    top = interfaces[:, :-1][:, parent] - (np.arange(parent.size) - first) * sub_thickness
    return parent, top, sub_thickness


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
    z = np.atleast_1d(np.asarray(z, dtype=float))
    layer = column.layer_of(z) if layer is None else np.atleast_1d(np.asarray(layer, dtype=int))
    return columns_transfer_functions(Columns.of(column), component, omega, z, np.zeros(z.shape, dtype=int), layer)


def columns_transfer_functions(columns: Columns, component: str, omega: np.ndarray, z: np.ndarray,
                               column: np.ndarray, layer: np.ndarray | None = None
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`transfer_functions` at points z[i] of columns[column[i]], all columns swept together.

    z, column, layer: (n,); layer defaults to `columns.layer_of(z, column)`.
    Columns are processed in blocks so the sweep's (sublayers, block, F)
    states stay small.
    """
    omega = np.atleast_1d(np.asarray(omega, dtype=complex))
    if np.any(omega == 0.0):
        raise ValueError("omega = 0 is singular with mass-proportional damping; use omega - i eta")
    z = np.atleast_1d(np.asarray(z, dtype=float))
    column = _column_indices(columns, z, column)
    layer = columns.layer_of(z, column) if layer is None else np.atleast_1d(np.asarray(layer, dtype=int))
    _check_layers(columns, z, column, layer)
    modulus, z_half, c_half = _modulus_and_speed(columns, component)
    k, g_star, a_vs, a_sv = _layer_constants(omega[None, :], columns.rho[:, None], columns.alpha[:, None],
                                             modulus[:, None], columns.beta[:, None])
    k_h = omega / c_half
    inv_g_star = 1.0 / g_star
    interfaces = columns.interfaces
    velocity = np.empty((z.size, omega.size), dtype=complex)
    strain = np.empty_like(velocity)
    traction = np.empty_like(velocity)
    # Columns that need the same split (usually all) are swept together, in blocks
    # small enough for the (sublayers, block, F) states to stay small. Each column
    # gets exactly the split it gets alone, so it is computed as it would be alone.
    splits, split = np.unique(_pieces(columns.thickness, k), axis=0, return_inverse=True)
    split = split.ravel()
    by_rank = np.argsort(split, kind="stable")          # columns grouped by split
    rank = np.empty_like(by_rank)
    rank[by_rank] = np.arange(by_rank.size)
    point_rank = rank[column]
    order = np.argsort(point_rank, kind="stable")       # points grouped by their column's rank
    bounds = np.searchsorted(point_rank[order], np.arange(len(columns) + 1))
    group = np.searchsorted(split[by_rank], np.arange(len(splits) + 1))
    block = max(1, _CHUNK // omega.size)
    blocks = [(r0, min(r0 + block, end)) for start, end in zip(group[:-1], group[1:])
              for r0 in range(start, end, block)]
    for r0, r1 in blocks:
        points = order[bounds[r0]:bounds[r1]]
        if points.size == 0:
            continue
        cols = by_rank[r0:r1]
        parent, top, thickness = _sublayers(columns.thickness[cols], interfaces[cols], splits[split[cols[0]]])
        v_top, s_top, reflection = _sweep(k, a_vs, a_sv, z_half, parent, thickness)
        sv_top, vs_top = a_vs[parent][:, None] * s_top, a_sv[parent][:, None] * v_top
        col = point_rank[points] - r0
        zp, lp = z[points], layer[points]

        below = lp == columns.thickness.shape[1]
        rows = points[below]
        depth = interfaces[cols, -1][col[below]] - zp[below]
        up = np.exp(1j * (depth[:, None] * k_h))       # exp(-i k (z - z_bottom)), |.| <= 1
        down = _product(np.exp(-1j * (depth[:, None] * k_h)), reflection[col[below]])
        velocity[rows] = up + down
        traction[rows] = -z_half * (up - down)
        strain[rows] = traction[rows] / (z_half * c_half)

        inside = np.flatnonzero(~below)
        sub = _sublayer_of(parent, top, thickness, col[inside], zp[inside], lp[inside])
        for start in range(0, inside.size, block):
            i = inside[start:start + block]
            j, cj = sub[start:start + block], col[i]
            p = parent[j]
            cos, sin = _cos_sin(k[p], (top[cj, j] - zp[i])[:, None])
            rows = points[i]
            velocity[rows] = _product(cos, v_top[j, cj]) - _product(sin, sv_top[j, cj])
            traction[rows] = _product(cos, s_top[j, cj]) - _product(sin, vs_top[j, cj])
            strain[rows] = _product(traction[rows], inv_g_star[p])
    return velocity, strain, traction


def _column_indices(columns: Columns, z: np.ndarray, column) -> np.ndarray:
    """column as an (n,) int array of valid column indices, one per elevation in z."""
    column = np.atleast_1d(np.asarray(column, dtype=int))
    if column.shape != z.shape or np.any((column < 0) | (column >= len(columns))):
        raise ValueError(f"column indices must be {z.shape} in 0..{len(columns) - 1}")
    return column


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a * b for complex arrays of one shape, from separately rounded real products.

    NumPy's SIMD complex product rounds the elements of its vector body (fused
    multiply-adds) and of its scalar tail differently, and fuses the rows of a
    contiguous array into one loop: a point's value would depend on which other
    points share the call. Real products and sums round the same everywhere.
    """
    out = np.empty(a.shape, dtype=complex)
    out.real = a.real * b.real - a.imag * b.imag
    out.imag = a.real * b.imag + a.imag * b.real
    return out


def _sweep(k, a_vs, a_sv, z_half, parent, thickness):
    """Sublayer-top states (V, S) per unit incident wave and the halfspace reflection, for a block of columns.

    Downward from the free surface (V = 1, S = 0), each step rescaled and the
    scale kept as a log. thickness: (C, S). Returns v_top, s_top (S, C, F) and
    the ratio reflected / incident at z_bottom (C, F).
    """
    n_sub, n_col, n_freq = parent.size, thickness.shape[0], k.shape[1]
    v_top = np.ones((n_sub + 1, n_col, n_freq), dtype=complex)
    s_top = np.zeros((n_sub + 1, n_col, n_freq), dtype=complex)
    log_scale = np.zeros((n_sub + 1, n_col, n_freq))
    for j, p in enumerate(parent):
        cos, sin = _cos_sin(k[p], thickness[:, j, None])
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
    return v_top[:-1] * norm, s_top[:-1] * norm, reflected / incident


def _check_layers(columns: Columns, z: np.ndarray, column: np.ndarray, layer: np.ndarray) -> None:
    """Refuse layer indices that do not hold their point (beyond round-off)."""
    if layer.shape != z.shape:
        raise ValueError(f"layer has shape {layer.shape}, z has {z.shape}")
    n_layers = columns.thickness.shape[1]
    if np.any((layer < 0) | (layer > n_layers)):
        raise ValueError(f"layer indices must lie in 0..{n_layers} ({n_layers} = halfspace)")
    tol = columns.tolerance[column]
    if np.any(z > columns.z_top[column] + tol):
        raise ValueError(f"elevations above the free surface z_top = {columns.z_top[column].max()}")
    interfaces = columns.interfaces[column]
    rows = np.arange(z.size)
    upper = interfaces[rows, np.minimum(layer, n_layers)]                  # the halfspace's top is z_bottom
    lower = np.where(layer < n_layers, interfaces[rows, np.minimum(layer + 1, n_layers)], -np.inf)
    bad = (z > upper + tol) | (z < lower - tol)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"point z = {z[i]} m does not lie in layer {layer[i]}")


def _sublayer_of(parent, top, thickness, column, z, layer):
    """Index of the sublayer of `layer` holding each z in its column (the upper one between sublayers)."""
    sub = np.searchsorted(parent, layer, side="left")
    last = np.searchsorted(parent, layer, side="right") - 1
    offset = np.floor((top[column, sub] - z) / thickness[column, sub]).astype(int)
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
    z = np.atleast_1d(np.asarray(z, dtype=float))
    layer = column.layer_of(z) if layer is None else np.atleast_1d(np.asarray(layer, dtype=int))
    return columns_response(Columns.of(column), component, incident_velocity, dt, z,
                            np.zeros(z.shape, dtype=int), layer)


def columns_response(columns: Columns, component: str, incident_velocity: np.ndarray, dt: float,
                     z: np.ndarray, column: np.ndarray, layer: np.ndarray | None = None) -> ColumnResponse:
    """`column_response` at points z[i] of columns[column[i]], all columns at once.

    One FFT of the incident wave, one sweep per block of columns, batched
    inverse FFTs. layer defaults to `columns.layer_of(z, column)`. Repeated
    (column, z, layer) triples are computed once.
    """
    incident_velocity = np.asarray(incident_velocity, dtype=float)
    if incident_velocity.ndim != 1:
        raise ValueError("incident_velocity must be a 1D time series")
    z = np.atleast_1d(np.asarray(z, dtype=float))
    column = _column_indices(columns, z, column)
    layer = columns.layer_of(z, column) if layer is None else np.atleast_1d(np.asarray(layer, dtype=int))
    n_t = incident_velocity.size
    n_fft = next_fast_len(_PAD_FACTOR * n_t, real=True)
    eta = -np.log(_WRAP_ATTENUATION) / (n_fft * dt)
    t = dt * np.arange(n_t)
    spectrum = rfft(incident_velocity * np.exp(-eta * t), n_fft)
    omega = 2.0 * np.pi * np.fft.rfftfreq(n_fft, dt) - 1j * eta

    keys, inverse = np.unique(np.stack([column.astype(float), z, layer.astype(float)]), axis=1,
                              return_inverse=True)
    tf = columns_transfer_functions(columns, component, omega, keys[1], keys[0].astype(int),
                                    keys[2].astype(int))
    inverse = inverse.ravel()
    undamp = np.exp(eta * t)
    out = []
    rows_per_chunk = max(1, _CHUNK // omega.size)
    for h in tf:
        series = np.empty((keys.shape[1], n_t))
        for start in range(0, keys.shape[1], rows_per_chunk):
            block = h[start:start + rows_per_chunk]
            block *= spectrum
            series[start:start + rows_per_chunk] = irfft(block, n_fft, axis=1)[:, :n_t] * undamp
        out.append(series[inverse])
    velocity, strain, stress = out
    return ColumnResponse(t=t, velocity=velocity, strain=strain, stress=stress)
