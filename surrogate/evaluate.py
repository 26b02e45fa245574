"""Scores of the trained surrogates on the held-out test models: metrics.json and plots.

Boundary elevations: fraction of estimates with |target - estimate| < tolerance
(default 2 m) over both boundaries and every test station, per boundary, and
RMSE; beside them the trivial predictor: the training mean of each boundary's
depth below the (known) ground. Every inverse estimator is scored (each network,
and their mean where two are trained, with its validation loss); the headline is
the one `invert` uses, chosen on validation (surrogate.ensemble), never on test.
Its `uncertainty` block (where `select` calibrated sigma on validation,
surrogate.uncertainty) gives the share of test truths within +-2 sigma, and of
the misses (|error| >= tolerance) how many the uncertainty flags (2 sigma > tolerance).
Ground motion (forward networks): median relative L2 misfit, PGV within
+-pgv_tolerance (m/s) and within 10 %, Anderson-style goodness of fit
(surrogate.gof), over the three components and per component (x, y, z: under
a vertically incident plane wave the cross components are the test of a 3D
surrogate); `ground_motion` scores the network `predict` uses (forward_spatial
where trained, else forward), `ground_motion.by_network` every one trained.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from surrogate.dataset import TEST, TRAIN, VALIDATION, Store, load_store
from surrogate.ensemble import (calibration, candidate_estimates, candidates, chosen, network_spread, selection,
                                validation_loss)
from surrogate.errors import SurrogateInputError
from surrogate.features import FORWARD_TASKS, boundary_depth
from surrogate.gof import anderson_gof, peak_ground_velocity, relative_l2
from surrogate.inference import find_model, load_trained, predict_velocity
from surrogate.generate import write_text_atomic
from surrogate.uncertainty import coverage_scores

BOUNDARY_NAMES = ("b12", "b23")


def boundary_scores(estimate: np.ndarray, target: np.ndarray, tolerance_m: float) -> dict:
    """Scores of boundary elevations estimate vs target, both (N, B, R) m."""
    err = np.abs(estimate - target)
    per = {BOUNDARY_NAMES[b] if b < len(BOUNDARY_NAMES) else f"boundary{b}":
           {"within_tolerance": float((err[:, b] < tolerance_m).mean()),
            "rmse_m": float(np.sqrt((err[:, b] ** 2).mean()))} for b in range(err.shape[1])}
    return {"within_tolerance": float((err < tolerance_m).mean()), "rmse_m": float(np.sqrt((err**2).mean())),
            "per_boundary": per}


def trivial_estimate(store: Store, models: np.ndarray) -> np.ndarray:
    """(N, B, R) m: ground minus each boundary's mean depth over the training models."""
    train = store.models(TRAIN)
    mean_depth = boundary_depth(store.ground_elevation[train], store.boundary_elevation[train]).mean(axis=(0, 1))
    return store.ground_elevation[models][:, None, :] - mean_depth[None, :, None]


def evaluate(store_path: str | Path, model_dir: str | Path, out_dir: str | Path, tolerance_m: float = 2.0,
             pgv_tolerance: float = 0.02) -> dict:
    """Write out_dir/metrics.json and PNG plots; return the metrics."""
    from surrogate import plots   # matplotlib only when plotting

    store, out_dir = load_store(store_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    test = store.models(TEST)
    target = store.boundary_elevation[test]
    metrics: dict = {"n_test_models": int(len(test)), "n_stations": int(store.station_xy.shape[0])}
    by_network = {}
    try:
        estimators = candidates(model_dir)
    except SurrogateInputError:
        estimators = {}
    val = store.models(VALIDATION)
    estimates = candidate_estimates(estimators, store.spectra[test], store.velocity[test],
                                    store.ground_elevation[test], store.station_xy)
    on_val = candidate_estimates(estimators, store.spectra[val], store.velocity[val], store.ground_elevation[val],
                                 store.station_xy) if len(val) else {}
    for name, estimate in estimates.items():
        by_network[name] = boundary_scores(estimate, target, tolerance_m)
        if name in on_val:
            by_network[name]["validation_loss"] = validation_loss(on_val[name], store, val)
    if by_network:
        best = chosen(model_dir)
        metrics["boundary_elevation"] = {
            "tolerance_m": tolerance_m, "network": best, **boundary_scores(estimates[best], target, tolerance_m),
            "n_estimates": int(target.size),
            "trivial": boundary_scores(trivial_estimate(store, test), target, tolerance_m),
            "by_network": by_network}
        cal = calibration(selection(model_dir), best)
        if cal is not None:
            sigma = cal.sigma(network_spread(estimates))
            metrics["boundary_elevation"]["uncertainty"] = coverage_scores(estimates[best] - target, sigma,
                                                                           tolerance_m)
        plots.boundary_maps(out_dir / "boundary_maps.png", store, test, estimates[best])
        plots.error_histogram(out_dir / "boundary_errors.png", estimates, target, tolerance_m)
    motion, ref, dt = {}, store.velocity[test], float(store.time[1] - store.time[0])
    for task in FORWARD_TASKS:
        try:
            forward = load_trained(find_model(model_dir, (task,)))
        except SurrogateInputError:
            continue
        pred = np.stack([predict_velocity(forward, store.ground_elevation[m], store.boundary_elevation[m],
                                          store.layers[m], store.station_xy) for m in test])
        motion[task] = ground_motion_scores(pred.reshape(-1, *pred.shape[2:]), ref.reshape(-1, *ref.shape[2:]),
                                            dt, pgv_tolerance)
        if len(motion) == 1:   # the network predict uses
            plots.waveform_overlay(out_dir / "waveforms.png", store.time, pred[0], ref[0])
    if motion:
        metrics["ground_motion"] = {"network": next(iter(motion)), **next(iter(motion.values())),
                                    "by_network": motion}
    if len(metrics) == 2:
        raise SurrogateInputError(f"{model_dir}: no trained network to evaluate")
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def ground_motion_scores(pred: np.ndarray, ref: np.ndarray, dt: float, pgv_tolerance: float) -> dict:
    """Scores of predicted vs reference station velocities, both (N, 3, T) m/s."""
    pgv_p, pgv_r = peak_ground_velocity(pred), peak_ground_velocity(ref)
    misfit, gof = relative_l2(pred, ref), anderson_gof(pred, ref, dt)
    return {"relative_l2_median": float(np.median(misfit)), "relative_l2_mean": float(misfit.mean()),
            "pgv_tolerance_m_s": pgv_tolerance,
            "pgv_within_tolerance": float((np.abs(pgv_p - pgv_r) <= pgv_tolerance).mean()),
            "pgv_within_10_percent": float((np.abs(pgv_p - pgv_r) <= 0.1 * pgv_r).mean()),
            "gof_median": float(np.median(gof)), "gof_mean": float(gof.mean()), "n_stations": int(len(gof)),
            "per_component": {name: component_scores(pred[:, c:c + 1], ref[:, c:c + 1], dt)
                              for c, name in enumerate("xyz")}}


def component_scores(pred: np.ndarray, ref: np.ndarray, dt: float) -> dict:
    """Median relative L2 misfit and goodness of fit of one component, (N, 1, T) m/s each."""
    misfit, gof = relative_l2(pred, ref), anderson_gof(pred, ref, dt)
    return {"relative_l2_median": float(np.median(misfit)), "relative_l2_mean": float(misfit.mean()),
            "gof_median": float(np.median(gof)), "gof_mean": float(gof.mean())}
