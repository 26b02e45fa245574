"""Scores of the trained surrogates on the held-out test models: metrics.json and plots.

Boundary elevations: fraction of estimates with |target - estimate| < tolerance
(default 2 m) over both boundaries and every test station, per boundary, and
RMSE, with a 95 % bootstrap interval over the test models (`bootstrap`); beside
them the baselines (`baselines`, surrogate.baselines, each with its interval):
the training mean of each boundary's depth below the (known) ground (`trivial`,
also kept at the top level), the per-model mean-depth oracle (each model's true
mean depth: what a perfect 1D-per-model inversion reaches) and, under a plane
wave, the classical 1D fit per station (the exact column response, layer
properties known). `by_roughness`: the headline estimator's score per third of
the (model, boundary) pairs ranked by the spread of the true elevation, from
nearly flat to the most 3D. Every inverse estimator is scored (each network,
and their mean where two are trained, with its validation loss); the headline is
the one `invert` uses, chosen on validation (surrogate.ensemble), never on test.
Its `uncertainty` block (where `select` calibrated sigma on validation,
surrogate.uncertainty) gives the share of test truths within +-2 sigma, and of
the misses (|error| >= tolerance) how many the uncertainty flags (2 sigma > tolerance).
Ground motion (forward networks): median relative L2 misfit, PGV within
+-pgv_tolerance (m/s) and within 10 %, Anderson-style goodness of fit
(surrogate.gof), over the three components and per component (x, y, z: under
a vertically incident plane wave the cross components are the test of a 3D
surrogate), and per component the time-frequency envelope and phase goodness
of fit of Kristekova et al. (surrogate.tfgof) over the data set's band: median
EG, PG and the share of traces that fit well (both >= 6, "good" or better); `ground_motion` scores the network `predict` uses (forward_spatial
where trained, else forward), `ground_motion.by_network` every one trained.
Where a forward network carries a calibrated trace std (surrogate.train
`fit_trace_std`, calibrated on validation), its scores add per component
`within_2sigma`: the share of test samples (station, time sample) with
|pred - ref| <= 2 sigma (95 % on validation by construction), and `sigma_median_m_s`.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from fem.scenario import PlaneWave, load_yaml, parse_scenario, parse_source
from surrogate.baselines import bootstrap_within, column_fit_estimate, mean_depth_oracle
from surrogate.dataset import TEST, TRAIN, VALIDATION, Store, load_store
from surrogate.ensemble import (calibration, candidate_estimates, candidates, chosen, network_spread, selection,
                                validation_loss)
from surrogate.errors import SurrogateInputError
from surrogate.features import BOUNDARY_NAMES, FORWARD_TASKS, boundary_depth
from surrogate.gof import anderson_gof, peak_ground_velocity, relative_l2
from surrogate.inference import find_model, load_trained, predict_velocity
from surrogate.generate import write_text_atomic
from surrogate.tfgof import gof_summary, tf_gof
from surrogate.uncertainty import coverage_scores


def boundary_scores(estimate: np.ndarray, target: np.ndarray, tolerance_m: float) -> dict:
    """Scores of boundary elevations estimate vs target, both (N, B, R) m."""
    err = np.abs(estimate - target)
    per = {BOUNDARY_NAMES[b] if b < len(BOUNDARY_NAMES) else f"boundary{b}":
           {"within_tolerance": float((err[:, b] < tolerance_m).mean()),
            "rmse_m": float(np.sqrt((err[:, b] ** 2).mean()))} for b in range(err.shape[1])}
    return {"within_tolerance": float((err < tolerance_m).mean()), "rmse_m": float(np.sqrt((err**2).mean())),
            "per_boundary": per}


def by_roughness(estimate: np.ndarray, target: np.ndarray, tolerance_m: float, n_bins: int = 3) -> list[dict]:
    """Within tolerance per class of 3D-ness: each (model, boundary) by the spread (std over the stations) of
    the true elevation, cut at its quantiles into n_bins classes of equal count; estimate, target (N, B, R) m."""
    spread = target.std(axis=2).ravel()
    within = (np.abs(estimate - target) < tolerance_m).mean(axis=2).ravel()
    edges = np.quantile(spread, np.linspace(0, 1, n_bins + 1))
    cls = np.clip(np.searchsorted(edges, spread, side="right") - 1, 0, n_bins - 1)
    return [{"spread_m": [float(edges[k]), float(edges[k + 1])], "within_tolerance": float(within[cls == k].mean()),
             "n": int((cls == k).sum())} for k in range(n_bins) if (cls == k).any()]


def baseline_estimates(store: Store, store_path: str | Path, models: np.ndarray) -> dict[str, np.ndarray]:
    """(N, B, R) boundary elevations of the baselines beside every inverse score (surrogate.baselines):
    the training mean, the per-model mean-depth oracle and, under a plane wave, the 1D column fit per station."""
    out = {"trivial": trivial_estimate(store, models), "mean_depth_oracle": mean_depth_oracle(store, models)}
    if isinstance(parse_source(load_yaml(store.source)), PlaneWave):
        with h5py.File(store_path, "r") as f:
            base = parse_scenario(f["provenance/scenario"].asstr()[int(models[0])])
        out["column_fit"] = column_fit_estimate(store, models, base)
    return out


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
        baselines = baseline_estimates(store, store_path, test)
        metrics["boundary_elevation"] = {
            "tolerance_m": tolerance_m, "network": best, **boundary_scores(estimates[best], target, tolerance_m),
            "bootstrap": bootstrap_within(estimates[best], target, tolerance_m),
            "n_estimates": int(target.size),
            "trivial": boundary_scores(baselines["trivial"], target, tolerance_m),
            "baselines": {name: {**boundary_scores(b, target, tolerance_m),
                                 "bootstrap": bootstrap_within(b, target, tolerance_m)}
                          for name, b in baselines.items()},
            "by_roughness": by_roughness(estimates[best], target, tolerance_m),
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
                                            dt, pgv_tolerance, (store.frequency[0], store.frequency[-1]),
                                            std=forward.trace_std)   # (3, T) or None: the same at every station
        if len(motion) == 1:   # the network predict uses
            plots.waveform_overlay(out_dir / "waveforms.png", store.time, pred[0], ref[0])
    if motion:
        metrics["ground_motion"] = {"network": next(iter(motion)), **next(iter(motion.values())),
                                    "by_network": motion}
    if len(metrics) == 2:
        raise SurrogateInputError(f"{model_dir}: no trained network to evaluate")
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def ground_motion_scores(pred: np.ndarray, ref: np.ndarray, dt: float, pgv_tolerance: float,
                         band: tuple[float, float], std: np.ndarray | None = None) -> dict:
    """Scores of predicted vs reference station velocities, both (N, 3, T) m/s; band (f_min, f_max) Hz.

    std: the predictions' calibrated standard deviation, (N, 3, T) m/s (or anything broadcasting to it,
    e.g. (3, T)); where given, per component `within_2sigma` and `sigma_median_m_s` are added."""
    pgv_p, pgv_r = peak_ground_velocity(pred), peak_ground_velocity(ref)
    misfit, gof = relative_l2(pred, ref), anderson_gof(pred, ref, dt)
    per_component = {name: component_scores(pred[:, c:c + 1], ref[:, c:c + 1], dt, band)
                     for c, name in enumerate("xyz")}
    if std is not None:
        sigma = np.broadcast_to(np.asarray(std, dtype=np.float64), pred.shape)
        within = np.abs(pred.astype(np.float64) - ref) <= 2 * sigma
        for c, name in enumerate("xyz"):
            per_component[name]["within_2sigma"] = float(within[:, c].mean())
            per_component[name]["sigma_median_m_s"] = float(np.median(sigma[:, c]))
    return {"relative_l2_median": float(np.median(misfit)), "relative_l2_mean": float(misfit.mean()),
            "pgv_tolerance_m_s": pgv_tolerance,
            "pgv_within_tolerance": float((np.abs(pgv_p - pgv_r) <= pgv_tolerance).mean()),
            "pgv_within_10_percent": float((np.abs(pgv_p - pgv_r) <= 0.1 * pgv_r).mean()),
            "gof_median": float(np.median(gof)), "gof_mean": float(gof.mean()), "n_stations": int(len(gof)),
            "per_component": per_component}


def component_scores(pred: np.ndarray, ref: np.ndarray, dt: float, band: tuple[float, float]) -> dict:
    """Median relative L2 misfit, Anderson and time-frequency goodness of fit of one component, (N, 1, T) m/s each."""
    misfit, gof = relative_l2(pred, ref), anderson_gof(pred, ref, dt)
    eg, pg = tf_gof(pred[:, 0], ref[:, 0], dt, *band)
    tf = gof_summary(eg, pg)
    return {"relative_l2_median": float(np.median(misfit)), "relative_l2_mean": float(misfit.mean()),
            "gof_median": float(np.median(gof)), "gof_mean": float(gof.mean()),
            "envelope_gof_median": tf["median_eg"], "phase_gof_median": tf["median_pg"],
            "tf_fit_well": tf["frac_fit"],
            # the marks: envelope fit > 6 ("good") and phase fit > 8 ("excellent"), NaN (silent trace) as a miss
            "envelope_gof_above_6": float(np.mean(np.nan_to_num(eg) > 6.0)),
            "phase_gof_above_8": float(np.mean(np.nan_to_num(pg) > 8.0))}
