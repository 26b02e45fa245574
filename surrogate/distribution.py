"""The training distribution of random three-layer ground models.

A ground model is three surfaces on a control grid (ground topography, boundary
1/2, boundary 2/3) and three layers (soft soil over stiffer soil over rock; the
last continues below the model bottom as a halfspace). With D = depth of the
box below the mean ground (0 - z_bottom for ground at 0), g0 a smooth Gaussian
random field on the control grid (zero mean, unit variance, squared-exponential
correlation with length `correlation_length` times the larger side of the box)
and U(range) a uniform draw, one model's ground is

* ground = ground_mean_m + topography_std_m * g0

and its boundaries are drawn in one of two ways.

**Near-1D** (no `families`, the default): smooth thickness fields g1, g2 like g0,

* b12 = ground - t1,  t1 = D * U(thickness1_frac) + thickness_std_frac * D * g1
* b23 = b12    - t2,  t2 = D * U(thickness2_frac) + thickness_std_frac * D * g2

With the defaults and D = 120 m, boundary 1/2 lies 9.6-30 m and boundary 2/3
24-72 m below the ground on average, each +-6 m (1 sigma) laterally. The
benchmark's correlation length 1.5 (config/benchmark.yaml) makes each boundary
nearly flat within a model (std 1.0-1.4 m, table below): most of its spread is
between models.

**3D** (`families` given): each boundary is its mean depth plus a mixture of
lateral-structure families (surrogate.shapes),

* b12 = ground - D * U(thickness1_frac)                            + r1
* b23 = ground - D * (U(thickness1_frac) + U(thickness2_frac))     + r2   (the same t1 draw)

where (r1, r2) is the sum over 1-3 families (`families_per_model`, chosen without
replacement from `families` less `holdout_family`) of one family's relief, less
its mean over the control grid (so the mean depths stay the drawn thicknesses).
Each family draws one shape that both boundaries share (layers deform together)
times an amplitude drawn for each boundary on its own from the family's range
(so layer 2 thickens or thins across the structure); multiscale draws each
boundary its own field. Ranges (defaults, as config/benchmark3d.yaml sets them; "box"
is the box's larger side, s the control spacing):

* multiscale: von Karman-like field, plane waves on a wavenumber lattice with amplitude
  ~ k^-(H+1) (surrogate.shapes.multiscale). Std `multiscale_std_m` 3-6 m, H
  `multiscale_hurst` 0.5-1.5, wavelengths `multiscale_wavelength_frac` 0.5-2 box (32-128 m).
* dipping: plane through the box centre rising towards a uniform azimuth. Dip `dip_deg` 8-20
  degrees (std over the box = box * tan(dip) / sqrt(12): 2.6-6.7 m).
* basin: `basin_count` 1-2 elliptical raised-cosine bowls or domes (even odds), centre uniform
  in the box, orientation uniform. Depth `basin_depth_m` 8-18 m, semi-axes `basin_width_frac`
  0.35-0.75 box (22-48 m).
* fault: step across a line of uniform strike through the central half of the box, a linear
  ramp one s wide (the spline makes it a steep S). Throw `fault_throw_m` 6-14 m.
* ridge: buried ridge or channel (even odds), a Gaussian profile across a line of uniform
  strike through the central half. Height `ridge_height_m` 6-14 m, half-width (sigma)
  `ridge_width_frac` 0.1-0.25 box (6.4-16 m).

`holdout_family` (fault in the 3D benchmark) is never drawn into the data and
new sets; `Distribution.single_family` draws a set from one family alone (python
-m surrogate generate --family, workflow/scripts/scenario.py --family), with the
same mean depths, to score a surrogate on a shape it has not seen. The control
grid must carry the shapes: the benchmark's 8 x 8 (s = 9.1 m) carries
multiscale wavelengths from 32 m (3.5 s; the settings refuse less than 2 s),
basins 22 m wide and faults one s wide, all below the 50 m shear wavelength of
its top layer at 4 Hz (vs_min / f_max = 200 / 4), and stays within what its 65
stations pin when invert fits a control grid to station estimates (64 control
points; 9 x 9 would be 81).

**Both**: the drawn model is checked on a dense grid *after* the FEM's surface
interpolation (fem.model.GroundModel.min_thickness): every layer at least
`min_thickness_m` thick and b23 at least `bottom_clearance_m` above z_bottom; a
model failing the check is drawn again (rejection sampling keeps the shapes
intact, unlike clipping; it accepts ~55 % of the 3D benchmark's draws, and so
favours smaller relief where the layers are thin).

Measured over 500 models (seed 1) of config/benchmark.yaml (near-1D) and
config/benchmark3d.yaml (3D) on a 1 m grid, `python benchmarks/distribution_stats.py
--config CONFIG` (benchmarks/README.md has every family's row). Std: within-model
std of the boundary's elevation, median (5-95 %); depth: mean depth below the
ground, min (5-95 %) max; slope: steepest point of the boundary, median (95 %) max;
oracle: fraction of station estimates (8 x 8 grid) within 2 m when every station
gets its ground elevation less its model's true mean depth of the boundary.

| set | boundary | std m | depth m | elevation m | slope deg | oracle |
|---|---|---|---|---|---|---|
| near-1D | b12 | 1.03 (0.4-2.0) | 5.3 (7.6-23.3) 28.0 | -30.3 .. -1.4 | 4.8 (7.7) 9.8 | 93.1 % |
| near-1D | b23 | 1.36 (0.5-2.7) | 14.5 (21.0-46.1) 56.1 | -60.9 .. -7.6 | 6.3 (10.2) 13.8 | 82.9 % |
| 3D | b12 | 4.77 (2.7-7.7) | 11.8 (13.4-23.6) 24.5 | -47.9 .. 1.0 | 39.8 (55.6) 66.8 | 29.6 % |
| 3D | b23 | 4.87 (2.8-8.6) | 25.6 (30.2-47.7) 51.7 | -68.9 .. -9.6 | 40.8 (57.3) 65.6 | 28.4 % |
| fault alone | b12 | 4.51 (2.6-6.5) | 11.9 (12.6-23.5) 24.1 | -37.1 .. -2.4 | 52.4 (63.9) 69.0 | 10.8 % |
| fault alone | b23 | 4.60 (2.5-6.6) | 25.5 (28.0-47.2) 51.0 | -64.1 .. -13.0 | 52.6 (64.9) 69.0 | 11.6 % |

The oracle scores 88.0 % near-1D, about the published 89.1 % mark, which that
benchmark therefore cannot tell apart from knowing one mean depth per model; 29.0 %
on the 3D benchmark and 11.2 % on the held-out fault set. Layer thicknesses (m),
thinnest point min (5 %) and thickest point max, layers 1, 2, 3 (to z_bottom):
near-1D 4.1 (5.4) 29.5, 4.2 (6.9) 38.8, 19.1 (30.0) 72.4; 3D 4.0 (4.5) 47.2,
4.0 (5.8) 47.4, 11.1 (16.9) 70.4.

Layer properties are drawn independently and uniformly per layer from
`layers` (ranges chosen from typical site-response profiles, Kramer ch. 7:
soft soil vs 120-250 m/s, stiff soil 300-550 m/s, rock 700-1200 m/s; ranges do
not overlap so vs and rho increase with depth; vp = vs * (vp/vs) with soils
wetter and hence higher vp/vs than rock). `Distribution.with_fixed_layers`
keeps the base scenario's properties and varies only the geometry (the
published structure-estimation setting).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fem.model import GroundModel, Layer
from surrogate import shapes
from surrogate.errors import SurrogateInputError


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

#: the lateral-structure families (surrogate.shapes), and the Distribution field of each one's amplitude range
FAMILY_AMPLITUDE = {"multiscale": "multiscale_std_m", "dipping": "dip_deg", "basin": "basin_depth_m",
                    "fault": "fault_throw_m", "ridge": "ridge_height_m"}
FAMILIES = tuple(FAMILY_AMPLITUDE)


@dataclass(frozen=True)
class Distribution:
    control_grid: tuple[int, int] = (5, 5)            #: (rows, cols) control points of every surface
    correlation_length: float = 0.35                  #: of the random fields, fraction of the box's larger side
    ground_mean_m: float = 0.0                        #: mean ground elevation, m
    topography_std_m: float = 2.0                     #: std of the ground elevation, m
    thickness1_frac: tuple[float, float] = (0.08, 0.25)   #: mean thickness of layer 1, fraction of D
    thickness2_frac: tuple[float, float] = (0.12, 0.35)   #: mean thickness of layer 2, fraction of D
    thickness_std_frac: float = 0.05                  #: lateral std of each thickness (near-1D draw), fraction of D
    min_thickness_m: float = 4.0                      #: thinnest layer anywhere, m (mesh size and FEM cost)
    bottom_clearance_m: float = 10.0                  #: least thickness of layer 3 above z_bottom, m
    families: tuple[str, ...] = ()                    #: lateral-structure families mixed; () = the near-1D draw
    holdout_family: str | None = None                 #: one of `families` left out of every mixture
    families_per_model: tuple[int, int] = (1, 3)      #: range of the number of families one model mixes
    multiscale_std_m: tuple[float, float] = (3.0, 6.0)          #: std of a multiscale field on the grid, m
    multiscale_hurst: tuple[float, float] = (0.5, 1.5)          #: Hurst exponent of its spectrum
    multiscale_wavelength_frac: tuple[float, float] = (0.5, 2.0)   #: its wavelengths, fraction of the box
    dip_deg: tuple[float, float] = (8.0, 20.0)        #: dip of a dipping boundary, degrees
    basin_depth_m: tuple[float, float] = (8.0, 18.0)  #: depth of a bowl (height of a dome), m
    basin_width_frac: tuple[float, float] = (0.35, 0.75)   #: semi-axis of a bowl, fraction of the box
    basin_count: tuple[int, int] = (1, 2)             #: range of the number of bowls and domes of one basin
    fault_throw_m: tuple[float, float] = (6.0, 14.0)  #: throw of a fault, m
    ridge_height_m: tuple[float, float] = (6.0, 14.0) #: height of a ridge (depth of a channel), m
    ridge_width_frac: tuple[float, float] = (0.1, 0.25)  #: Gaussian half-width of a ridge, fraction of the box
    layers: tuple[LayerRange, ...] = field(default=DEFAULT_LAYERS)   #: one range per layer, top down

    def with_fixed_layers(self, layers: tuple[Layer, ...]) -> "Distribution":
        """The same geometry distribution with each layer's properties fixed to `layers`."""
        fixed = tuple(LayerRange((l.vs, l.vs), (l.vp / l.vs,) * 2, (l.rho, l.rho), (l.damping, l.damping))
                      for l in layers)
        return replace(self, layers=fixed)

    def single_family(self, name: str) -> "Distribution":
        """The same distribution with every model's boundary structure drawn from family `name` alone
        (a held-out family's test set); SurrogateInputError for an unknown name or unusable settings."""
        if name not in FAMILIES:
            raise SurrogateInputError(f"unknown family '{name}'; choose one of {', '.join(FAMILIES)}")
        single = replace(self, families=(name,), holdout_family=None, families_per_model=(1, 1))
        problem = _inconsistency(single)
        if problem:
            raise SurrogateInputError(f"distribution.{problem}")
        return single


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


def draw_surfaces(rng: np.random.Generator, dist: Distribution, box: GroundModel) -> np.ndarray:
    """(3, rows, cols) control elevations of ground, b12 and b23, m, in the box of `box`: one draw, unchecked."""
    depth = dist.ground_mean_m - box.z_bottom
    if not dist.families:    # the near-1D draw, in the random-number order it always had
        g = [smooth_field(rng, box.x, box.y, dist.control_grid, dist.correlation_length) for _ in range(3)]
        ground = dist.ground_mean_m + dist.topography_std_m * g[0]
        t1 = depth * (rng.uniform(*dist.thickness1_frac) + dist.thickness_std_frac * g[1])
        t2 = depth * (rng.uniform(*dist.thickness2_frac) + dist.thickness_std_frac * g[2])
        return np.stack([ground, ground - t1, ground - t1 - t2])
    ground = dist.ground_mean_m + dist.topography_std_m * smooth_field(rng, box.x, box.y, dist.control_grid,
                                                                       dist.correlation_length)
    grid = shapes.ControlGrid.of_box(box.x, box.y, dist.control_grid)
    relief = sum(family_relief(rng, dist, name, grid) for name in draw_mixture(rng, dist))
    relief -= relief.mean(axis=(1, 2), keepdims=True)    # the mean depths stay the drawn thicknesses
    t1 = depth * rng.uniform(*dist.thickness1_frac)
    t2 = depth * rng.uniform(*dist.thickness2_frac)
    return np.stack([ground, ground - t1 + relief[0], ground - t1 - t2 + relief[1]])


def draw_mixture(rng: np.random.Generator, dist: Distribution) -> list[str]:
    """The families of one model: how many from `families_per_model`, which uniformly without
    replacement from `families` less the holdout."""
    pool = [name for name in dist.families if name != dist.holdout_family]
    count = rng.integers(dist.families_per_model[0], min(dist.families_per_model[1], len(pool)) + 1)
    return [pool[i] for i in sorted(rng.choice(len(pool), count, replace=False))]


def family_relief(rng: np.random.Generator, dist: Distribution, name: str, grid: shapes.ControlGrid) -> np.ndarray:
    """(2, rows, cols) relief of boundaries 1/2 and 2/3 on the control grid, m, from one family.

    The two boundaries share one drawn shape (layers deform together: a fault offsets both,
    a basin deepens both) scaled by an amplitude drawn for each boundary on its own (so
    layer 2 thickens or thins across the structure); multiscale draws each boundary its own
    field (texture, not structure)."""
    side = max(np.ptp(grid.x), np.ptp(grid.y))
    amplitude = rng.uniform(*getattr(dist, FAMILY_AMPLITUDE[name]), 2)
    if name == "multiscale":
        hurst = rng.uniform(*dist.multiscale_hurst)
        wavelength = (side * dist.multiscale_wavelength_frac[0], side * dist.multiscale_wavelength_frac[1])
        shape = np.stack([shapes.multiscale(rng, grid, hurst, wavelength) for _ in range(2)])
    elif name == "dipping":
        amplitude, shape = np.tan(np.radians(amplitude)), shapes.dipping(rng, grid)
    elif name == "basin":
        semi_axis = (side * dist.basin_width_frac[0], side * dist.basin_width_frac[1])
        shape = shapes.basin(rng, grid, semi_axis, dist.basin_count)
    elif name == "fault":
        shape = shapes.fault(rng, grid)
    else:
        shape = shapes.ridge(rng, grid, (side * dist.ridge_width_frac[0], side * dist.ridge_width_frac[1]))
    return amplitude.reshape(-1, 1, 1) * shape


#: Distribution fields a configuration may set (the layer ranges stay in code or come from the base scenario)
GEOMETRY_SETTINGS = ("control_grid", "correlation_length", "ground_mean_m", "topography_std_m", "thickness1_frac",
                     "thickness2_frac", "thickness_std_frac", "min_thickness_m", "bottom_clearance_m", "families",
                     "holdout_family", "families_per_model", "multiscale_std_m", "multiscale_hurst",
                     "multiscale_wavelength_frac", "dip_deg", "basin_depth_m", "basin_width_frac", "basin_count",
                     "fault_throw_m", "ridge_height_m", "ridge_width_frac")
#: GEOMETRY_SETTINGS that are ranges (low, high) of non-negative numbers
RANGES = tuple(k for k in GEOMETRY_SETTINGS if isinstance(getattr(Distribution(), k), tuple)
               and k not in ("control_grid", "families"))


def distribution_from_settings(settings: dict) -> Distribution:
    """The default Distribution with the given geometry fields replaced (lists become tuples).

    Raises SurrogateInputError naming the field of an unknown setting or a bad value, in one line."""
    unknown = sorted(set(settings) - set(GEOMETRY_SETTINGS))
    if unknown:
        raise SurrogateInputError(f"distribution: unknown setting(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(GEOMETRY_SETTINGS)}")
    default = Distribution()
    dist = replace(default, **{key: _setting(key, value, getattr(default, key)) for key, value in settings.items()})
    problem = _inconsistency(dist)
    if problem:
        raise SurrogateInputError(f"distribution.{problem}")
    return dist


def _setting(key: str, value, default):
    """`value` as the type of the field's default, or SurrogateInputError naming the field."""
    if key == "families":
        if (not isinstance(value, (list, tuple)) or any(name not in FAMILIES for name in value)
                or len(set(value)) != len(value)):
            raise SurrogateInputError(f"distribution.families: expected a list of distinct names among "
                                      f"{', '.join(FAMILIES)}, got {value!r}")
        return tuple(value)
    if key == "holdout_family":
        if value is not None and value not in FAMILIES:
            raise SurrogateInputError(f"distribution.holdout_family: expected one of {', '.join(FAMILIES)} "
                                      f"or null, got {value!r}")
        return value
    if isinstance(default, tuple):
        kind = type(default[0])
        if (not isinstance(value, (list, tuple)) or len(value) != len(default) or not all(map(_is_number, value))
                or (kind is int and any(v != int(v) for v in value))):
            what = "integers" if kind is int else "numbers"
            raise SurrogateInputError(f"distribution.{key}: expected {len(default)} {what}, got {value!r}")
        return tuple(kind(v) for v in value)
    if not _is_number(value):
        raise SurrogateInputError(f"distribution.{key}: expected a number, got {value!r}")
    return float(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _inconsistency(dist: Distribution) -> str | None:
    """'field: why' for the first setting that cannot be drawn from, else None."""
    if min(dist.control_grid) < 2:
        return "control_grid: needs at least 2 points a side"
    for key in ("correlation_length", "min_thickness_m"):
        if getattr(dist, key) <= 0:
            return f"{key}: must be positive, got {getattr(dist, key)}"
    for key in RANGES:
        low, high = getattr(dist, key)
        if not 0 <= low <= high:
            return f"{key}: expected a range [low, high] with 0 <= low <= high, got {[low, high]}"
    for key in ("families_per_model", "basin_count"):
        if getattr(dist, key)[0] < 1:
            return f"{key}: needs at least 1, got {list(getattr(dist, key))}"
    if dist.dip_deg[1] >= 45.0:
        return f"dip_deg: dips must stay below 45 degrees, got {dist.dip_deg[1]}"
    shortest = 2.0 / (min(dist.control_grid) - 1)    # two control spacings, as a fraction of the larger side
    if "multiscale" in dist.families and dist.multiscale_wavelength_frac[0] < shortest:
        return (f"multiscale_wavelength_frac: the shortest wavelength must span two control spacings "
                f"(>= {shortest:.3g} of the box for control_grid {list(dist.control_grid)})")
    if dist.holdout_family is not None and dist.holdout_family not in dist.families:
        return f"holdout_family: '{dist.holdout_family}' is not one of families {list(dist.families)}"
    pool = [name for name in dist.families if name != dist.holdout_family]
    if dist.families and len(pool) < dist.families_per_model[0]:
        return (f"families_per_model: at least {dist.families_per_model[0]} families per model, but only "
                f"{len(pool)} to draw from (families less holdout_family)")
    return None
