"""Draw random ground models and write them as scenario files of a base scenario.

Everything except `model.surfaces` and `model.layers` (domain, mesh, time,
source, receivers, output) comes from the base scenario, so that all models
of a data set share one acquisition and one source.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import yaml

from fem.atomic import write_text_atomic  # re-exported: surrogate modules import it from here
from fem.model import GroundModel, Surface
from surrogate.distribution import Distribution, draw_surfaces
from surrogate.errors import SurrogateInputError
from surrogate.scenario import parse_scenario

SURFACE_NAMES = ("ground", "b12", "b23")
MAX_TRIES = 200


def check_geometry(model: GroundModel, min_thickness_m: float, bottom_clearance_m: float,
                   samples: int = 41) -> str | None:
    """None if the FEM's interpolated surfaces keep the thickness limits on a dense grid, else why not."""
    thinnest = model.min_thickness(samples)          # the last layer's thickness reaches z_bottom
    if thinnest[:-1].min() < min_thickness_m:
        i = int(thinnest[:-1].argmin())
        return f"layer {i + 1} thinner than {min_thickness_m} m ({thinnest[i]:.2f} m)"
    if thinnest[-1] < bottom_clearance_m:
        return f"last boundary within {bottom_clearance_m} m of z_bottom"
    return None


def ground_model(box: GroundModel, control: np.ndarray, layers) -> GroundModel:
    """The box of `box` with surfaces from control grids (S, rows, cols), m, and the given layers."""
    surfaces = tuple(Surface(name, c, box.x, box.y) for name, c in zip(SURFACE_NAMES, control))
    return GroundModel(box.x, box.y, box.z_bottom, surfaces, tuple(layers))


def draw_ground_model(rng: np.random.Generator, dist: Distribution, box: GroundModel) -> GroundModel:
    """One ground model in the box (x, y, z_bottom) of `box`, drawn from `dist`
    (module docstring of surrogate.distribution), geometry checked."""
    for _ in range(MAX_TRIES):
        candidate = ground_model(box, draw_surfaces(rng, dist, box), box.layers)
        if check_geometry(candidate, dist.min_thickness_m, dist.bottom_clearance_m) is None:
            return ground_model(box, np.stack([s.control for s in candidate.surfaces]),
                                (r.draw(rng) for r in dist.layers))
    raise SurrogateInputError("generate: the distribution's thicknesses do not fit the box (no valid model in "
                              f"{MAX_TRIES} draws); lower the thickness fractions or the relief amplitudes")


def scenario_tree(base: dict, model: GroundModel) -> dict:
    """A copy of the base scenario's YAML tree with the model's surfaces and layers put in."""
    tree = copy.deepcopy(base)
    tree["model"]["surfaces"] = [{"name": s.name, "elevation": _elevation_yaml(s.control)} for s in model.surfaces]
    tree["model"]["layers"] = [{k: round(float(getattr(l, k)), 6) for k in ("vp", "vs", "rho", "damping")}
                               for l in model.layers]
    return tree


def generate_scenarios(base_text: str, n_models: int, seed: int, out_dir: str | Path,
                       dist: Distribution | None = None, fixed_layers: bool = False,
                       family: str | None = None) -> list[Path]:
    """Write `n_models` scenario files model_00000.yaml... into out_dir; return their paths.

    Model i is drawn from its own stream seeded by (seed, i), so a larger data
    set extends a smaller one with the same seed rather than replacing it.
    family: every model's boundary structure from this family alone (Distribution.single_family).
    """
    base = parse_scenario(base_text).model
    if len(base.surfaces) != 3:
        raise SurrogateInputError("generate: the base scenario must have three surfaces and layers")
    dist = dist or Distribution()
    if fixed_layers:
        dist = dist.with_fixed_layers(base.layers)
    if family is not None:
        dist = dist.single_family(family)
    tree = yaml.safe_load(base_text)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_models):
        model = draw_ground_model(np.random.default_rng([seed, i]), dist, base)
        paths.append(write_text_atomic(out_dir / f"model_{i:05d}.yaml",
                                       yaml.safe_dump(scenario_tree(tree, model), sort_keys=False)))
    return paths


def scenario_with_boundaries(scenario_text: str, control, names: tuple[str, ...] = SURFACE_NAMES[1:]) -> str:
    """YAML of the scenario with the named surfaces' elevations replaced by control grids, m.

    control: (B, rows, cols), or a sequence of B grids of their own shapes (1 x 1: flat),
    one grid per name (default b12, b23), row 0 at y0, column 0 at x0. The result is validated as the FEM would (crossing layers are refused),
    so an estimate can be confirmed with one FEM run.
    """
    from fem.scenario import load_yaml
    tree = load_yaml(scenario_text)
    by_name = {s.get("name"): s for s in tree["model"]["surfaces"]}
    missing = [n for n in names if n not in by_name]
    if missing or len(names) != len(control):
        raise SurrogateInputError(f"scenario has no surface {missing[0]}" if missing else
                                  f"{len(control)} control grids for {len(names)} surfaces")
    for name, grid in zip(names, control):
        by_name[name]["elevation"] = _elevation_yaml(np.asarray(grid, dtype=np.float64))
    text = yaml.safe_dump(tree, sort_keys=False, default_flow_style=None)
    parse_scenario(text)
    return text


def _elevation_yaml(control: np.ndarray):
    """A flat (1x1) control grid as a number, a grid as rows of numbers rounded to 0.1 mm."""
    return round(float(control[0, 0]), 4) if control.size == 1 else np.round(control, 4).tolist()
