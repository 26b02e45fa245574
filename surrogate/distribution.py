"""The training distribution of random three-layer ground models.

A ground model is three surfaces on a control grid (ground topography, boundary
1/2, boundary 2/3) and three layers (soft soil over stiffer soil over rock; the
last continues below the model bottom as a halfspace). With D = depth of the
box below the mean ground (0 - z_bottom for ground at 0), one model is drawn as

* ground   = ground_mean + topography_std_m * g0
* b12      = ground - t1,  t1 = D * U(thickness1_frac) + thickness_std_frac * D * g1
* b23      = b12    - t2,  t2 = D * U(thickness2_frac) + thickness_std_frac * D * g2

where g0, g1, g2 are independent smooth Gaussian random fields on the control
grid (zero mean, unit variance, squared-exponential correlation with length
`correlation_length` times the larger side of the box). The drawn model is
checked on a dense grid *after* the FEM's surface interpolation
(fem.model.GroundModel.min_thickness): every layer at least `min_thickness_m` thick and b23 at
least `bottom_clearance_m` above z_bottom; a model failing the check is drawn
again (rejection sampling keeps the fields smooth, unlike clipping).

Layer properties are drawn independently and uniformly per layer from
`layers` (ranges chosen from typical site-response profiles, Kramer ch. 7:
soft soil vs 120-250 m/s, stiff soil 300-550 m/s, rock 700-1200 m/s; ranges do
not overlap so vs and rho increase with depth; vp = vs * (vp/vs) with soils
wetter and hence higher vp/vs than rock). `Distribution.with_fixed_layers`
keeps the base scenario's properties and varies only the geometry (the
published structure-estimation setting).

With the defaults and D = 120 m, boundary 1/2 lies 9.6-30 m and boundary 2/3
24-72 m below the ground on average, each +-6 m (1 sigma) laterally: the spread
of each boundary's elevation across a data set is tens of metres, far above
the +-2 m accuracy mark.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fem.model import Layer


@dataclass(frozen=True)
class LayerRange:
    vs: tuple[float, float]            #: S-wave speed range, m/s
    vp_over_vs: tuple[float, float]    #: range of vp / vs, 1
    rho: tuple[float, float]           #: density range, kg/m^3
    damping: tuple[float, float]       #: damping ratio range, 1

    def draw(self, rng: np.random.Generator) -> Layer:
        vs = rng.uniform(*self.vs)
        return Layer(vp=vs * rng.uniform(*self.vp_over_vs), vs=vs,
                     rho=rng.uniform(*self.rho), damping=rng.uniform(*self.damping))


DEFAULT_LAYERS = (
    LayerRange(vs=(120.0, 250.0), vp_over_vs=(2.0, 3.0), rho=(1600.0, 1800.0), damping=(0.02, 0.04)),
    LayerRange(vs=(300.0, 550.0), vp_over_vs=(1.9, 2.5), rho=(1800.0, 2000.0), damping=(0.01, 0.02)),
    LayerRange(vs=(700.0, 1200.0), vp_over_vs=(1.7, 2.0), rho=(2000.0, 2400.0), damping=(0.005, 0.01)),
)


@dataclass(frozen=True)
class Distribution:
    control_grid: tuple[int, int] = (5, 5)            #: (rows, cols) control points of every surface
    correlation_length: float = 0.35                  #: of the random fields, fraction of the box's larger side
    ground_mean_m: float = 0.0                        #: mean ground elevation, m
    topography_std_m: float = 2.0                     #: std of the ground elevation, m
    thickness1_frac: tuple[float, float] = (0.08, 0.25)   #: mean thickness of layer 1, fraction of D
    thickness2_frac: tuple[float, float] = (0.12, 0.35)   #: mean thickness of layer 2, fraction of D
    thickness_std_frac: float = 0.05                  #: lateral std of each thickness, fraction of D
    min_thickness_m: float = 4.0                      #: thinnest layer anywhere, m (mesh size and FEM cost)
    bottom_clearance_m: float = 10.0                  #: least thickness of layer 3 above z_bottom, m
    layers: tuple[LayerRange, ...] = field(default=DEFAULT_LAYERS)   #: one range per layer, top down

    def with_fixed_layers(self, layers: tuple[Layer, ...]) -> "Distribution":
        """The same geometry distribution with each layer's properties fixed to `layers`."""
        fixed = tuple(LayerRange((l.vs, l.vs), (l.vp / l.vs,) * 2, (l.rho, l.rho), (l.damping, l.damping))
                      for l in layers)
        return replace(self, layers=fixed)


def smooth_field(rng: np.random.Generator, x: tuple[float, float], y: tuple[float, float], shape: tuple[int, int],
                 correlation_length: float) -> np.ndarray:
    """(rows, cols) zero-mean, unit-variance Gaussian field with squared-exponential correlation.

    x, y: the box extent, m; rows span y, columns span x (the scenario's control-grid layout).
    """
    rows, cols = shape
    yy, xx = np.meshgrid(np.linspace(*y, rows), np.linspace(*x, cols), indexing="ij")
    p = np.stack([xx.ravel(), yy.ravel()], axis=1)
    length = correlation_length * max(x[1] - x[0], y[1] - y[0])
    d2 = ((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)
    cov = np.exp(-0.5 * d2 / length**2) + 1e-8 * np.eye(len(p))   # jitter: SE kernels are near-singular
    return (np.linalg.cholesky(cov) @ rng.standard_normal(len(p))).reshape(rows, cols)


#: Distribution fields a configuration may set (the layer ranges stay in code or come from the base scenario)
GEOMETRY_SETTINGS = ("control_grid", "correlation_length", "ground_mean_m", "topography_std_m", "thickness1_frac",
                     "thickness2_frac", "thickness_std_frac", "min_thickness_m", "bottom_clearance_m")


def distribution_from_settings(settings: dict) -> Distribution:
    """The default Distribution with the given geometry fields replaced (lists become tuples).

    Raises SurrogateInputError naming an unknown field or a value of the wrong shape."""
    from surrogate.errors import SurrogateInputError
    unknown = sorted(set(settings) - set(GEOMETRY_SETTINGS))
    if unknown:
        raise SurrogateInputError(f"distribution: unknown setting(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(GEOMETRY_SETTINGS)}")
    default = Distribution()
    values = {}
    for key, value in settings.items():
        expected = getattr(default, key)
        if isinstance(expected, tuple):
            if not isinstance(value, (list, tuple)) or len(value) != len(expected):
                raise SurrogateInputError(f"distribution.{key}: expected {len(expected)} numbers, got {value!r}")
            value = tuple(type(e)(v) for e, v in zip(expected, value))
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SurrogateInputError(f"distribution.{key}: expected a number, got {value!r}")
        values[key] = float(value) if not isinstance(value, tuple) else value
    dist = replace(default, **values)
    if min(dist.control_grid) < 2 or dist.correlation_length <= 0 or dist.min_thickness_m <= 0:
        raise SurrogateInputError("distribution: control_grid needs >= 2 points a side, correlation_length and "
                                  "min_thickness_m must be positive")
    return dist
