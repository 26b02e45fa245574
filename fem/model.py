"""The layered ground model: a box, ordered elevation surfaces, and one material per layer.

Surfaces are elevation fields z = f(x, y) in metres. A flat surface is a number;
otherwise a control grid of rows (first row at y0, first column at x0) spanning
the box evenly. Between control points the elevation is the tensor-product
interpolating spline of degree min(3, n - 1) in each direction (cubic,
"not-a-knot" end conditions; bilinear for a 2x2 grid), so the surface passes
through every control point and is C2 for grids of 4 or more points. The same
B-spline is handed to gmsh, so the mesh conforms to exactly this surface.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from fem.bspline import PointBasis, evaluate_2d, interpolate_2d, interpolation_knots, point_basis


class ModelError(ValueError):
    """An invalid ground model; the message names the problem."""


@dataclass(frozen=True)
class Layer:
    vp: float       #: P-wave speed, m/s
    vs: float       #: S-wave speed, m/s
    rho: float      #: density, kg/m^3
    damping: float  #: damping ratio (fraction of critical), dimensionless

    @property
    def mu(self) -> float:
        """Shear modulus rho*vs^2, Pa."""
        return self.rho * self.vs**2

    @property
    def lam(self) -> float:
        """Lame's first parameter rho*vp^2 - 2*mu, Pa."""
        return self.rho * self.vp**2 - 2.0 * self.mu


@dataclass(frozen=True)
class BSpline2D:
    """Graph z = sum_ij coef[i, j] B_i(x) B_j(y) of a tensor-product B-spline."""
    tx: np.ndarray    #: (nx + kx + 1,) knots in x, m
    ty: np.ndarray    #: (ny + ky + 1,) knots in y, m
    coef: np.ndarray  #: (nx, ny) elevation coefficients, m
    kx: int           #: degree in x
    ky: int           #: degree in y

    def greville(self) -> tuple[np.ndarray, np.ndarray]:
        """Control-point abscissae (x of each pole, y of each pole), for CAD kernels."""
        gx = np.array([self.tx[i + 1:i + self.kx + 1].mean() for i in range(self.coef.shape[0])])
        gy = np.array([self.ty[j + 1:j + self.ky + 1].mean() for j in range(self.coef.shape[1])])
        return gx, gy


@dataclass(frozen=True, eq=False)
class Surface:
    name: str
    control: np.ndarray          #: (ny, nx) control elevations, m; (1, 1) for a flat surface
    x: tuple[float, float]       #: box extent in x the grid spans, m
    y: tuple[float, float]       #: box extent in y the grid spans, m

    @property
    def is_flat(self) -> bool:
        return bool(np.ptp(self.control) == 0.0)

    @cached_property
    def bspline(self) -> BSpline2D:
        """The interpolating spline as B-spline data (degree 1 for a flat surface)."""
        ny, nx = self.control.shape
        if nx == 1 and ny == 1:
            z = float(self.control[0, 0])
            return BSpline2D(np.array([self.x[0]] * 2 + [self.x[1]] * 2),
                             np.array([self.y[0]] * 2 + [self.y[1]] * 2),
                             np.full((2, 2), z), 1, 1)
        gx = np.linspace(*self.x, nx)
        gy = np.linspace(*self.y, ny)
        kx, ky = min(3, nx - 1), min(3, ny - 1)
        tx, ty = interpolation_knots(gx, kx), interpolation_knots(gy, ky)   # full clamped knot vectors
        # the collocation bases come from the cache: a configuration's scenarios share their grid
        coef = interpolate_2d(_point_basis(tx, kx, gx).matrix, _point_basis(ty, ky, gy).matrix, self.control.T)
        return BSpline2D(tx, ty, coef, kx, ky)

    def elevation(self, x, y) -> np.ndarray:
        """Elevation (m) at points (x, y), broadcast together; extrapolates outside the box.

        A station set (the same for every scenario of a configuration) has its 1D basis
        matrices cached and z_p = (B_x C B_y^T)_pp; larger sets (mesh nodes) go block by
        block through the k + 1 nonzero basis functions per point and axis."""
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        b = self.bspline
        if x.size > _CACHED_POINTS:
            return evaluate_2d(b.coef, b.tx, b.kx, x.ravel(), b.ty, b.ky, y.ravel()).reshape(x.shape)
        bx, by = _point_basis(b.tx, b.kx, x.ravel()), _point_basis(b.ty, b.ky, y.ravel())
        return np.einsum("pi,pi->p", bx.matrix @ b.coef, by.matrix).reshape(x.shape)

    def grid_elevation(self, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """(len(gy), len(gx)) elevation, m, on the tensor grid gx x gy inside the box.

        The same spline as `elevation`, evaluated as B_y C^T B_x^T from the 1D basis
        matrices: O(n) instead of a 2D basis search per point (model validation
        samples 10^4 points on every scenario read)."""
        b = self.bspline
        bx, by = _point_basis(b.tx, b.kx, np.asarray(gx, float)), _point_basis(b.ty, b.ky, np.asarray(gy, float))
        return by.matrix @ (bx.matrix @ b.coef).T


#: point sets up to this size (station sets, validation grids, control grids) have their 1D bases cached
_CACHED_POINTS = 4096


def _point_basis(knots: np.ndarray, k: int, points: np.ndarray) -> PointBasis:
    """B-spline basis at (N,) `points`, extrapolating outside; cached for up to _CACHED_POINTS points."""
    if points.size > _CACHED_POINTS:       # a long axis is rarely met again, and hashing it costs a copy
        return point_basis(knots, k, points)
    return _cached_point_basis(np.ascontiguousarray(knots, float).tobytes(), k,
                               np.ascontiguousarray(points, float).tobytes())


@lru_cache(maxsize=64)
def _cached_point_basis(knots: bytes, k: int, points: bytes) -> PointBasis:
    """Cached by value: the surfaces of one scenario, and the scenarios of one configuration, share
    their control grid, stations and validation grid, and so these bases."""
    basis = point_basis(np.frombuffer(knots), k, np.frombuffer(points))
    basis.first.flags.writeable = basis.values.flags.writeable = False    # shared by every caller
    return basis


@dataclass(frozen=True, eq=False)
class GroundModel:
    x: tuple[float, float]          #: box extent in x, m
    y: tuple[float, float]          #: box extent in y, m
    z_bottom: float                 #: elevation of the model bottom (top of the halfspace), m
    surfaces: tuple[Surface, ...]   #: top to bottom; surfaces[0] is the ground surface
    layers: tuple[Layer, ...]       #: layers[i] lies below surfaces[i]

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def elevations(self, x, y) -> np.ndarray:
        """(n_surfaces, *shape) elevation of every surface at (x, y), m."""
        return np.stack([s.elevation(x, y) for s in self.surfaces])

    def layer_index(self, x, y, z) -> np.ndarray:
        """Layer containing each point (int); -1 above the ground surface.

        A point on a boundary belongs to the layer below it. Points below
        z_bottom belong to the last layer (the halfspace continues it)."""
        x, y, z = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))
        elev = self.elevations(x, y)
        on_or_above = elev >= z[None] - 1e-9 * (1.0 + np.abs(z[None]))   # spline round-off on a boundary
        index = on_or_above.sum(axis=0) - 1            # surfaces at or above the point, less one
        index = np.where(z > elev[0], -1, index)
        return index.astype(np.int64)

    def property_at(self, name: str, layer_index: np.ndarray) -> np.ndarray:
        """Per-index material property (vp, vs, rho, damping, mu, lam) as an array."""
        table = np.array([getattr(layer, name) for layer in self.layers])
        return table[np.asarray(layer_index)]

    def min_thickness(self, samples: int = 101) -> np.ndarray:
        """(n_layers,) minimum thickness of each layer over a dense sample grid, m."""
        gx, gy = np.linspace(*self.x, samples), np.linspace(*self.y, samples)
        elev = np.stack([s.grid_elevation(gx, gy) for s in self.surfaces] + [np.full((samples, samples), self.z_bottom)])
        return (elev[:-1] - elev[1:]).reshape(self.n_layers, -1).min(axis=1)

    def validate(self, min_thickness: float = 1.0) -> None:
        """Raise ModelError naming the first problem found."""
        if not (self.x[1] > self.x[0] and self.y[1] > self.y[0]):
            raise ModelError(f"model.domain: empty box x={list(self.x)} y={list(self.y)}")
        if len(self.surfaces) != len(self.layers):
            raise ModelError(f"model: {len(self.surfaces)} surfaces but {len(self.layers)} layers "
                             "(layers[i] lies below surfaces[i])")
        if len(self.surfaces) == 0:
            raise ModelError("model.surfaces: at least the ground surface is needed")
        for i, layer in enumerate(self.layers):
            if not (layer.vs > 0 and layer.rho > 0):
                raise ModelError(f"model.layers[{i}]: vs and rho must be positive (vs={layer.vs}, rho={layer.rho})")
            if not layer.vp > np.sqrt(4.0 / 3.0) * layer.vs:
                raise ModelError(f"model.layers[{i}]: vp={layer.vp} must exceed sqrt(4/3)*vs so the bulk "
                                 "modulus is positive")
            if not 0.0 <= layer.damping < 1.0:
                raise ModelError(f"model.layers[{i}]: damping ratio {layer.damping} outside [0, 1)")
        thick = self.min_thickness()
        for i, t in enumerate(thick):
            below = self.surfaces[i + 1].name if i + 1 < len(self.surfaces) else "z_bottom"
            if t <= 0.0:
                raise ModelError(f"model.surfaces: '{self.surfaces[i].name}' crosses '{below}' "
                                 f"(layer {i} thickness down to {t:.3g} m)")
            if t < min_thickness:
                raise ModelError(f"model.layers[{i}]: too thin between '{self.surfaces[i].name}' and "
                                 f"'{below}' ({t:.3g} m < {min_thickness} m)")
