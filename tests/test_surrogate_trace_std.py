"""Every predicted trace comes with a standard deviation, calibrated on validation (issue #11 item 4).

(a) the calibration math on synthetic residuals of known sigma; (b) end to end on a small synthetic
store (no FEM: analytic waveforms that depend on the boundary depths): `train` stores the std in
model.npz, `predict` writes `receivers/velocity_std` beside the velocity, `evaluate` reports the
share of test samples within +-2 sigma, and a model.npz without the std still loads and predicts.
"""
import json

import h5py
import numpy as np
import pytest
import torch

from fem.result import Result, write_result
from surrogate import scenario as sc
from surrogate.cli import main
from surrogate.dataset import TEST, TRAIN, VALIDATION, build_store, load_store
from surrogate.evaluate import ground_motion_scores
from surrogate.generate import generate_scenarios
from surrogate.inference import load_trained, predict_velocity, predict_velocity_std
from surrogate.modelfile import ModelFile, read_model, write_model
from surrogate.resultfile import VELOCITY_STD, read_velocity_std
from surrogate.spectra import Band
from surrogate.train import TRACE_COVERAGE, TrainConfig, fit_trace_std, train
from tests.surrogate_fem_runs import BASE, DISTRIBUTION

QUICK = dict(epochs=3, batch_size=16, hidden=(16,), width=4, levels=1, log_every=1000)
TASKS = ("forward", "forward_spatial")


# ---------------------------------------------------------------- (a) calibration math

@pytest.mark.parametrize("shape_in_time", [False, True])
def test_calibration_recovers_a_known_sigma_and_covers_95_percent_of_fresh_residuals(shape_in_time):
    rng = np.random.default_rng(1)
    n, n_t = 2000, 40
    t = np.arange(n_t)
    envelope = 0.2 + np.exp(-((t - 20) / 6.0) ** 2) if shape_in_time else np.ones(n_t)
    true = np.array([1e-2, 2e-3, 5e-4])[:, None] * envelope[None, :]          # (3, T) m/s
    arrays, meta = fit_trace_std(rng.normal(size=(n, 3, n_t)) * true)
    sigma = arrays["trace_std/sigma"]
    assert sigma.shape == (3, n_t) and np.all(sigma > 0)
    # Gaussian: +-2 sigma covers 95 % when 2 sigma = 1.96 true sigma, i.e. sigma = 0.98 true
    np.testing.assert_allclose(sigma, true, rtol=0.10)
    np.testing.assert_allclose(arrays["trace_std/rms"], true, rtol=0.10)
    assert meta["coverage_target"] == TRACE_COVERAGE
    assert all(w >= TRACE_COVERAGE for w in meta["within_2sigma_validation"])   # exact on what it was fitted
    assert meta["n_validation_traces"] == n and len(meta["k"]) == 3
    fresh = rng.normal(size=(n, 3, n_t)) * true
    within = (np.abs(fresh) <= 2 * sigma).mean(axis=(0, 2))
    assert np.all(np.abs(within - 0.95) <= 0.02), within


def test_calibration_widens_a_sigma_that_rms_alone_would_underestimate():
    """Heavy tails: the RMS's +-2 sigma would cover more than 95 %, or fewer; k_c corrects either way."""
    rng = np.random.default_rng(2)
    res = np.stack([rng.standard_t(3, size=(3000, 30)) * 1e-3, rng.laplace(size=(3000, 30)) * 1e-3,
                    rng.uniform(-1, 1, size=(3000, 30)) * 1e-3], axis=1)
    arrays, meta = fit_trace_std(res)
    fresh = np.stack([rng.standard_t(3, size=(3000, 30)) * 1e-3, rng.laplace(size=(3000, 30)) * 1e-3,
                      rng.uniform(-1, 1, size=(3000, 30)) * 1e-3], axis=1)
    within = (np.abs(fresh) <= 2 * arrays["trace_std/sigma"]).mean(axis=(0, 2))
    assert np.all(np.abs(within - 0.95) <= 0.02), within
    assert meta["k"][0] != pytest.approx(meta["k"][2], rel=0.1)   # not one factor for all shapes


def test_a_vanishing_residual_still_gives_a_positive_sigma():
    res = np.zeros((10, 3, 5))
    res[:, 0] = np.random.default_rng(0).normal(size=(10, 5))
    sigma = fit_trace_std(res)[0]["trace_std/sigma"]
    assert np.all(np.isfinite(sigma)) and np.all(sigma > 0)
    with pytest.raises(ValueError):
        fit_trace_std(np.zeros((0, 3, 5)))


# ---------------------------------------------------------------- (b) train -> model.npz -> predict / evaluate

def _synthetic_runs(folder, n_models=8):
    """Scenario files and result files with analytic velocities: a Ricker in x delayed by the depth of b12,
    its amplitude growing with the depth of b23; y and z small, shaped by the depths too."""
    scenarios = generate_scenarios(BASE, n_models, 0, folder / "scenarios", dist=DISTRIBUTION, fixed_layers=True)
    (folder / "results").mkdir()
    runs = []
    for path in scenarios:
        s = sc.load_scenario(path)
        xyz, t = sc.station_xyz(s), sc.output_times(s)
        z = sc.surface_elevations(s, xyz[:, :2])
        d1, d2 = (z[0] - z[1])[:, None], (z[0] - z[2])[:, None]
        arg = (np.pi * 2.5 * (t[None, :] - 0.5 - d1 / 150.0)) ** 2
        ricker = (1 - 2 * arg) * np.exp(-arg)
        v = np.stack([0.01 * (1 + d2 / 30) * ricker, 1e-3 * (d1 - 14) / 4 * np.gradient(ricker, axis=1),
                      5e-4 * ricker * np.sin(xyz[:, :1] / 20)], axis=1)
        result = folder / "results" / f"{path.stem}.h5"
        write_result(result, Result(xyz, t, v.astype(np.float32), s.text, "fem", 1, 1, 0.0))
        runs.append((path, result))
    return runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("trace_std")
    runs = _synthetic_runs(tmp)
    store = build_store(runs, tmp / "store.h5", Band(0.5, 5.0, 8), (0.5, 0.25, 0.25))
    for task in TASKS:
        train(TrainConfig(task=task, **QUICK), store, tmp / "model")
    return tmp, runs, load_store(store)


@pytest.mark.parametrize("task", TASKS)
def test_model_file_carries_the_std_of_the_saved_network_on_validation(trained, task):
    tmp, _, store = trained
    m = read_model(tmp / "model" / task / "model.npz")
    sigma, n_t = m.optional["trace_std/sigma"], store.time.size
    assert sigma.shape == (3, n_t) and np.all(np.isfinite(sigma)) and np.all(sigma > 0)
    cal = m.meta["trace_std"]
    assert all(w >= TRACE_COVERAGE for w in cal["within_2sigma_validation"])
    val = store.models(VALIDATION)
    assert cal["n_validation_traces"] == len(val) * store.station_xy.shape[0]
    # redo it from the saved network with the inference path: the same sigma (float32 round-off apart)
    net = load_trained(tmp / "model" / task / "model.npz")
    pred = np.stack([predict_velocity(net, store.ground_elevation[i], store.boundary_elevation[i], store.layers[i],
                                      store.station_xy) for i in val])
    residual = (pred.astype(np.float64) - store.velocity[val]).reshape(-1, 3, n_t)
    again = fit_trace_std(residual)[0]["trace_std/sigma"]
    np.testing.assert_allclose(sigma, again, rtol=1e-3, atol=1e-6 * sigma.max())
    np.testing.assert_array_equal(net.trace_std, sigma)


@pytest.mark.parametrize("task", TASKS)
def test_predict_writes_the_std_beside_the_velocity(trained, tmp_path, task):
    tmp, runs, store = trained
    scenario = runs[int(store.models(TRAIN)[0])][0]
    assert main(["predict", str(scenario), "--model", str(tmp / "model" / task), "-o", str(tmp_path / "r.h5")]) == 0
    with h5py.File(tmp_path / "r.h5") as f:
        v, std = f["receivers/velocity"][...], f[VELOCITY_STD][...]
    assert std.dtype == np.float32 and std.shape == v.shape == (25, 3, store.time.size)
    assert np.all(np.isfinite(std)) and np.all(std > 0)
    sigma = read_model(tmp / "model" / task / "model.npz").optional["trace_std/sigma"]
    np.testing.assert_allclose(std, np.broadcast_to(sigma, std.shape), rtol=1e-6)
    np.testing.assert_array_equal(read_velocity_std(tmp_path / "r.h5"), std)


def test_a_model_file_without_the_std_still_loads_and_predicts_without_it(trained, tmp_path):
    tmp, runs, store = trained
    m = read_model(tmp / "model" / "forward" / "model.npz")
    meta = {k: v for k, v in m.meta.items() if k != "trace_std"}
    write_model(tmp_path / "old" / "forward" / "model.npz", ModelFile(meta, m.arrays, m.weights))
    with np.load(tmp_path / "old" / "forward" / "model.npz") as f:
        assert not any(k.startswith("trace_std/") for k in f.files)
    old = load_trained(tmp_path / "old" / "forward" / "model.npz")
    assert old.trace_std is None and predict_velocity_std(old, 25) is None
    scenario = str(runs[int(store.models(TRAIN)[0])][0])
    assert main(["predict", scenario, "--model", str(tmp_path / "old"), "-o", str(tmp_path / "old.h5")]) == 0
    assert main(["predict", scenario, "--model", str(tmp / "model" / "forward"), "-o", str(tmp_path / "new.h5")]) == 0
    with h5py.File(tmp_path / "old.h5") as f, h5py.File(tmp_path / "new.h5") as g:
        assert VELOCITY_STD not in f and VELOCITY_STD in g
        np.testing.assert_array_equal(f["receivers/velocity"][...], g["receivers/velocity"][...])
    assert read_velocity_std(tmp_path / "old.h5") is None


def test_ground_motion_scores_report_the_test_share_within_2_sigma(trained):
    tmp, _, store = trained
    test, n_t = store.models(TEST), store.time.size
    net = load_trained(tmp / "model" / "forward" / "model.npz")
    pred = np.stack([predict_velocity(net, store.ground_elevation[i], store.boundary_elevation[i], store.layers[i],
                                      store.station_xy) for i in test]).reshape(-1, 3, n_t)
    ref = store.velocity[test].reshape(-1, 3, n_t)
    band = (store.frequency[0], store.frequency[-1])
    plain = ground_motion_scores(pred, ref, 0.02, 0.02, band)                # existing callers: unchanged
    assert "within_2sigma" not in plain["per_component"]["x"]
    scored = ground_motion_scores(pred, ref, 0.02, 0.02, band, std=net.trace_std)
    for c, name in enumerate("xyz"):
        expected = np.mean(np.abs(pred[:, c].astype(np.float64) - ref[:, c]) <= 2 * net.trace_std[c])
        assert scored["per_component"][name]["within_2sigma"] == pytest.approx(expected)
        assert 0.0 < scored["per_component"][name]["within_2sigma"] <= 1.0
        assert scored["per_component"][name]["relative_l2_median"] == plain["per_component"][name][
            "relative_l2_median"]


def test_evaluate_writes_within_2sigma_for_every_forward_network(trained, tmp_path):
    tmp, _, _ = trained
    assert main(["evaluate", "--store", str(tmp / "store.h5"), "--model", str(tmp / "model"),
                 "--out", str(tmp_path)]) == 0
    gm = json.loads((tmp_path / "metrics.json").read_text())["ground_motion"]
    assert gm["network"] == "forward_spatial"
    for task in TASKS:
        for name in "xyz":
            assert 0.0 <= gm["by_network"][task]["per_component"][name]["within_2sigma"] <= 1.0
