"""The trained surrogates on ground models of a family they never saw: scores with baselines and intervals.

The 3D benchmark (config/benchmark3d.yaml) trains on the families multiscale, dipping, basin and
ridge and holds `fault` out. Draw and simulate the held-out set (its comments give the commands),
make it a store (`python -m surrogate dataset ... --fractions 0 0 1`: the split does not matter,
every model of it is scored), then

    python benchmarks/surrogate_holdout.py --holdout results/holdout/store.h5 \
        --train results/dataset/store.h5 --model results/surrogate [--out results/evaluation/holdout.json]

Every model of the held-out store is scored as surrogate.evaluate scores the test split: each inverse
estimator (and the one `select` chose) against the baselines, whose training statistics (the training
mean depth, the 1D fit's search range) come from the TRAINING store; 95 % bootstrap intervals over the
models; the forward networks per component (relative L2, Kristekova envelope/phase fit).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fem.scenario import parse_scenario  # noqa: E402
from surrogate.baselines import (bootstrap_within, column_fit_estimate, mean_depth_oracle,  # noqa: E402
                                 training_depth_range)
from surrogate.dataset import TRAIN, load_store  # noqa: E402
from surrogate.ensemble import calibration, candidate_estimates, candidates, chosen, network_spread, selection  # noqa: E402
from surrogate.evaluate import boundary_scores, by_roughness, ground_motion_scores  # noqa: E402
from surrogate.features import FORWARD_TASKS, boundary_depth  # noqa: E402
from surrogate.inference import find_model, load_trained, predict_velocity  # noqa: E402
from surrogate.errors import SurrogateInputError  # noqa: E402
from surrogate.uncertainty import coverage_scores  # noqa: E402


def scored(estimate: np.ndarray, target: np.ndarray, tol: float) -> dict:
    return {**boundary_scores(estimate, target, tol), "bootstrap": bootstrap_within(estimate, target, tol)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--holdout", required=True, help="store of the held-out models (all are scored)")
    ap.add_argument("--train", required=True, help="the store the networks were trained on")
    ap.add_argument("--model", required=True, help="folder of the trained networks (results/surrogate)")
    ap.add_argument("--tolerance", type=float, default=2.0)
    ap.add_argument("--out", help="write the scores as JSON here too")
    a = ap.parse_args()

    held, train = load_store(a.holdout), load_store(a.train)
    models = np.arange(held.split.size)
    target = held.boundary_elevation
    t0 = time.perf_counter()
    estimates = candidate_estimates(candidates(a.model), held.spectra, held.velocity, held.ground_elevation,
                                    held.station_xy)
    best = chosen(a.model)
    tr = train.models(TRAIN)
    mean_depth = boundary_depth(train.ground_elevation[tr], train.boundary_elevation[tr]).mean(axis=(0, 1))
    with h5py.File(a.holdout, "r") as f:
        base = parse_scenario(f["provenance/scenario"].asstr()[0])
    baselines = {"trivial": held.ground_elevation[:, None, :] - mean_depth[None, :, None],
                 "mean_depth_oracle": mean_depth_oracle(held, models),
                 "column_fit": column_fit_estimate(held, models, base,
                                                   depth_range=training_depth_range(train, 2.0))}
    out = {"n_models": int(models.size), "n_estimates": int(target.size), "tolerance_m": a.tolerance,
           "network": best, **scored(estimates[best], target, a.tolerance),
           "by_roughness": by_roughness(estimates[best], target, a.tolerance),
           "by_network": {name: scored(e, target, a.tolerance) for name, e in estimates.items()},
           "baselines": {name: scored(e, target, a.tolerance) for name, e in baselines.items()}}
    cal = calibration(selection(a.model), best)
    if cal is not None:
        out["uncertainty"] = coverage_scores(estimates[best] - target, cal.sigma(network_spread(estimates)),
                                             a.tolerance)
    dt = float(held.time[1] - held.time[0])
    for task in FORWARD_TASKS:
        try:
            forward = load_trained(find_model(a.model, (task,)))
        except SurrogateInputError:
            continue
        pred = np.stack([predict_velocity(forward, held.ground_elevation[m], held.boundary_elevation[m],
                                          held.layers[m], held.station_xy) for m in models])
        out.setdefault("ground_motion", {})[task] = ground_motion_scores(
            pred.reshape(-1, *pred.shape[2:]), held.velocity.reshape(-1, *held.velocity.shape[2:]), dt, 0.02,
            (held.frequency[0], held.frequency[-1]))
    out["seconds"] = time.perf_counter() - t0

    def line(name: str, s: dict) -> str:
        b = s["bootstrap"]
        per = "  ".join(f"{k} {100 * v['within_tolerance']:5.1f} %" for k, v in s["per_boundary"].items())
        return (f"  {name:<20} {100 * s['within_tolerance']:5.1f} % [{100 * b['ci_low']:.1f}, {100 * b['ci_high']:.1f}]"
                f"  {per}  rmse {s['rmse_m']:.2f} m")
    print(f"held-out models {out['n_models']}: boundary elevations within +-{a.tolerance} m (95 % bootstrap CI)")
    print(line(f"{best} (chosen)", out))
    for name, s in {**out["by_network"], **out["baselines"]}.items():
        print(line(name, s))
    for task, g in out.get("ground_motion", {}).items():
        comps = "  ".join(f"{c}: L2 {v['relative_l2_median']:.2f} EG>6 {100 * v['envelope_gof_above_6']:.0f} % "
                          f"PG>8 {100 * v['phase_gof_above_8']:.0f} %"
                          for c, v in g["per_component"].items())
        print(f"  {task}: {comps}")
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
