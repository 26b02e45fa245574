"""Draw random ground models and write them as scenario files of a base scenario.

Everything except `model.surfaces` and `model.layers` (domain, mesh, time,
source, receivers, output) comes from the base scenario, so that all models
of a data set share one acquisition and one source.
"""
from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from surrogate.distribution import Distribution, smooth_field
from surrogate.errors import SurrogateInputError
from surrogate.scenario import Domain, Layer, parse_scenario
from surrogate.surfaces import surface_elevation

SURFACE_NAMES = ("ground", "b12", "b23")
MAX_TRIES = 200


@dataclass(frozen=True)
class GroundModel:
    surfaces: np.ndarray        #: (3, rows, cols) float64 control-grid elevations, m: ground, b12, b23
    layers: tuple[Layer, ...]   #: three layers, top down


def check_geometry(surfaces: np.ndarray, domain: Domain, min_thickness_m: float,
                   bottom_clearance_m: float, samples: int = 41) -> str | None:
    """None if the interpolated surfaces keep the thickness limits on a dense grid, else why not."""
    gx, gy = np.meshgrid(np.linspace(*domain.x, samples), np.linspace(*domain.y, samples))
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
    z = np.stack([surface_elevation(s, domain, xy) for s in surfaces])
    thinnest = (z[:-1] - z[1:]).min(axis=1)
    if thinnest.min() < min_thickness_m:
        return f"layer {int(thinnest.argmin()) + 1} thinner than {min_thickness_m} m ({thinnest.min():.2f} m)"
    if (z[-1] - domain.z_bottom).min() < bottom_clearance_m:
        return f"last boundary within {bottom_clearance_m} m of z_bottom"
    return None


def draw_ground_model(rng: np.random.Generator, dist: Distribution, domain: Domain) -> GroundModel:
    """One ground model from `dist` (module docstring of surrogate.distribution), geometry checked."""
    depth = dist.ground_mean_m - domain.z_bottom
    for _ in range(MAX_TRIES):
        g = [smooth_field(rng, domain, dist.control_grid, dist.correlation_length) for _ in range(3)]
        ground = dist.ground_mean_m + dist.topography_std_m * g[0]
        t1 = depth * (rng.uniform(*dist.thickness1_frac) + dist.thickness_std_frac * g[1])
        t2 = depth * (rng.uniform(*dist.thickness2_frac) + dist.thickness_std_frac * g[2])
        surfaces = np.stack([ground, ground - t1, ground - t1 - t2])
        if check_geometry(surfaces, domain, dist.min_thickness_m, dist.bottom_clearance_m) is None:
            return GroundModel(surfaces, tuple(r.draw(rng) for r in dist.layers))
    raise SurrogateInputError("generate: the distribution's thicknesses do not fit the box "
                              f"(no valid model in {MAX_TRIES} draws); lower the thickness fractions")


def scenario_tree(base: dict, model: GroundModel) -> dict:
    """A copy of the parsed base scenario with the model's surfaces and layers put in."""
    tree = copy.deepcopy(base)
    tree["model"]["surfaces"] = [{"name": n, "elevation": np.round(s, 4).tolist()}
                                 for n, s in zip(SURFACE_NAMES, model.surfaces)]
    tree["model"]["layers"] = [{k: round(float(getattr(l, k)), 6) for k in ("vp", "vs", "rho", "damping")}
                               for l in model.layers]
    return tree


def generate_scenarios(base_text: str, n_models: int, seed: int, out_dir: str | Path,
                       dist: Distribution | None = None, fixed_layers: bool = False) -> list[Path]:
    """Write `n_models` scenario files model_00000.yaml... into out_dir; return their paths.

    Model i is drawn from its own stream seeded by (seed, i), so a larger data
    set extends a smaller one with the same seed rather than replacing it.
    """
    base = parse_scenario(base_text)
    if len(base.surfaces) != 3:
        raise SurrogateInputError("generate: the base scenario must have three surfaces and layers")
    dist = dist or Distribution()
    if fixed_layers:
        dist = dist.with_fixed_layers(base.layers)
    tree = yaml.safe_load(base_text)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_models):
        model = draw_ground_model(np.random.default_rng([seed, i]), dist, base.domain)
        paths.append(write_text_atomic(out_dir / f"model_{i:05d}.yaml",
                                       yaml.safe_dump(scenario_tree(tree, model), sort_keys=False)))
    return paths


def write_text_atomic(path: Path, text: str) -> Path:
    """Write text to a temporary file beside `path`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
