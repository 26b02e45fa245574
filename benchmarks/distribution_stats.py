"""Statistics of a configuration's ground-model distribution: what "inside the training ranges" means.

Draws N models as the configuration's models stage draws them (its base scenario,
`scenarios.distribution`, `scenarios.fixed_layers`; model i from the stream
(seed, i)), or with --family every model's boundary structure from that family
alone (a held-out family set, `python -m surrogate generate --family`). On a
1 m grid over the box (the FEM's spline surfaces) it prints, per boundary:

* the within-model std of elevation (median and 5-95 % over models), m;
* the mean depth below the ground (min, 5-95 %, max over models), m;
* the lowest and highest elevation in any model, m;
* the steepest slope within a model (median, 95 %, max over models), degrees;
* the mean-depth oracle: the fraction of station estimates within the tolerance when
  every station of the receiver grid gets its ground elevation less its model's true
  mean depth of the boundary below the ground (averaged over the grid's stations);

and per layer the thinnest point (min and 5 % over models) and the thickest point
(max over models), m; the last layer's thickness is measured down to z_bottom.

    python benchmarks/distribution_stats.py [--config config/benchmark3d.yaml] [--models 500]
        [--seed 1] [--family fault] [--tolerance 2.0]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fem.model import GroundModel  # noqa: E402
from surrogate.distribution import distribution_from_settings  # noqa: E402
from surrogate.generate import draw_ground_model  # noqa: E402
from surrogate.scenario import load_scenario, receiver_grid, station_xy  # noqa: E402


def draw_models(config: dict, n: int, seed: int, family: str | None) -> tuple[list[GroundModel], np.ndarray]:
    """The configuration's first n models of the set `seed`, and its receiver grid's (R, 2) station xy, m."""
    base = load_scenario(ROOT / config["base_scenario"])
    dist = distribution_from_settings(config["scenarios"].get("distribution", {}))
    if config["scenarios"].get("fixed_layers", False):
        dist = dist.with_fixed_layers(base.model.layers)
    if family is not None:
        dist = dist.single_family(family)
    nx, ny = receiver_grid(base)
    models = [draw_ground_model(np.random.default_rng([seed, i]), dist, base.model) for i in range(n)]
    return models, station_xy(base)[:nx * ny]


def surfaces_on_grid(model: GroundModel, spacing_m: float = 1.0) -> np.ndarray:
    """(S + 1, ny, nx) elevation of every surface and of z_bottom on a grid of the given spacing, m."""
    gx = np.linspace(*model.x, int(round(np.ptp(model.x) / spacing_m)) + 1)
    gy = np.linspace(*model.y, int(round(np.ptp(model.y) / spacing_m)) + 1)
    z = [s.grid_elevation(gx, gy) for s in model.surfaces]
    return np.stack(z + [np.full_like(z[0], model.z_bottom)])


def steepest_slope_deg(z: np.ndarray, spacing_m: float = 1.0) -> np.ndarray:
    """(...,) steepest slope of each (..., ny, nx) surface, degrees."""
    dzdy, dzdx = np.gradient(z, spacing_m, axis=(-2, -1))
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy).max(axis=(-2, -1))))


def mean_depth_oracle(models: list[GroundModel], xy: np.ndarray, tolerance_m: float) -> np.ndarray:
    """(B,) fraction of station estimates within tolerance_m when each station gets its ground
    elevation less its model's mean boundary depth over the stations."""
    z = np.stack([m.elevations(xy[:, 0], xy[:, 1]) for m in models])       # (M, S, R)
    depth = z[:, :1] - z[:, 1:]                                             # (M, B, R) below the ground
    estimate = z[:, :1] - depth.mean(axis=2, keepdims=True)
    return (np.abs(estimate - z[:, 1:]) < tolerance_m).mean(axis=(0, 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="config/benchmark3d.yaml", help="pipeline configuration (YAML)")
    p.add_argument("--models", type=int, default=500)
    p.add_argument("--seed", type=int, default=1, help="seed of the drawn set (model i: stream (seed, i))")
    p.add_argument("--family", help="draw every model's boundary structure from this family alone")
    p.add_argument("--tolerance", type=float, default=2.0, help="oracle tolerance, m")
    a = p.parse_args()

    start = time.perf_counter()
    config = yaml.safe_load((ROOT / a.config).read_text())
    models, xy = draw_models(config, a.models, a.seed, a.family)
    drawn = time.perf_counter() - start
    z = np.stack([surfaces_on_grid(m) for m in models])                   # (M, S + 1, ny, nx)
    ground, boundaries = z[:, 0], z[:, 1:-1]
    thickness = z[:, :-2] - z[:, 1:-1]
    thickness = np.concatenate([thickness, z[:, -2:-1] - z[:, -1:]], axis=1)   # (M, L, ny, nx)
    within_std = boundaries.std(axis=(2, 3))                                  # (M, B)
    mean_depth = (ground[:, None] - boundaries).mean(axis=(2, 3))
    slope = steepest_slope_deg(boundaries)
    oracle = mean_depth_oracle(models, xy, a.tolerance)

    q = lambda v, *ps: " ".join(f"{np.percentile(v, pc):6.1f}" for pc in ps)
    print(f"{a.config}{' family ' + a.family if a.family else ''}: {a.models} models, seed {a.seed}, "
          f"{len(xy)} grid stations, drawn in {drawn:.1f} s")
    print(f"ground: within-model std median {np.median(ground.std(axis=(1, 2))):.2f} m, "
          f"elevation {ground.min():.1f} .. {ground.max():.1f} m")
    print("boundary | within-model std m: median (5 %, 95 %) | mean depth m: min (5 %, 95 %) max | "
          "elevation m: min max | steepest slope deg: median 95 % max | mean-depth oracle")
    for b, name in enumerate(("b12", "b23")):
        print(f"{name:8s} | {np.median(within_std[:, b]):6.2f} ({q(within_std[:, b], 5, 95)}) | "
              f"{mean_depth[:, b].min():6.1f} ({q(mean_depth[:, b], 5, 95)}) {mean_depth[:, b].max():6.1f} | "
              f"{boundaries[:, b].min():6.1f} {boundaries[:, b].max():6.1f} | "
              f"{q(slope[:, b], 50, 95)} {slope[:, b].max():6.1f} | {100 * oracle[b]:5.1f} % within "
              f"{a.tolerance:g} m")
    print(f"both boundaries: mean-depth oracle {100 * oracle.mean():.1f} % within {a.tolerance:g} m")
    thinnest, thickest = thickness.min(axis=(2, 3)), thickness.max(axis=(2, 3))
    print("layer | thinnest point m: min 5 % | mean thickness m: median | thickest point m: max")
    for i in range(thickness.shape[1]):
        print(f"{i + 1:5d} | {thinnest[:, i].min():6.1f} {np.percentile(thinnest[:, i], 5):6.1f} | "
              f"{np.median(thickness[:, i].mean(axis=(1, 2))):6.1f} | {thickest[:, i].max():6.1f}")


if __name__ == "__main__":
    main()
