"""Inputs outside the training data: predict refuses (or, allowed, flags) layer properties and sampling
outside and flags geometry; invert refuses other sampling, flags far-off records; the estimate file
carries a calibrated, positive elevation_std and evaluate scores it."""
import json

import h5py
import numpy as np
import pytest
import yaml

from fem.result import Result, read_result, write_result
from surrogate.cli import main
from surrogate.dataset import TEST, TRAIN, build_store, load_store
from surrogate.ensemble import CHOICE_FILE, calibration, candidate_estimates, candidates, network_spread, select
from surrogate.guard import ATTRIBUTE, RANGES_KEY
from surrogate.modelfile import read_meta
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import fem_runs

QUICK = dict(epochs=2, batch_size=16, hidden=(16,), width=4, levels=1, log_every=1000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guard")
    runs = fem_runs(6)
    store = build_store(runs, tmp / "store.h5", Band(0.5, 5.0, 8), (0.5, 0.25, 0.25))
    for task in ("inverse_pointwise", "inverse_spatial", "forward"):
        train(TrainConfig(task=task, **QUICK), store, tmp / "model")
    select(store, tmp / "model")
    first_train = int(load_store(store).models(TRAIN)[0])
    return tmp, runs, first_train


def _one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_training_ranges_are_recorded_with_every_network(trained):
    tmp, runs, _ = trained
    store = load_store(tmp / "store.h5")
    train_ = store.models(TRAIN)
    ranges = read_meta(tmp / "model/forward/model.npz")[RANGES_KEY]
    assert ranges["layers"]["vs"][1] == [store.layers[train_, 1, 1].min(), store.layers[train_, 1, 1].max()]
    assert ranges["grid"] == [5, 5] and ranges["n_samples"] == store.time.size
    assert ranges["box_m"]["z_bottom"] == [-50.0, -50.0] and len(ranges["depth_m"]) == 2


def test_an_in_range_scenario_is_predicted_with_an_empty_flag(trained, tmp_path):
    tmp, runs, i = trained
    assert main(["predict", str(runs[i][0]), "--model", str(tmp / "model"), "-o", str(tmp_path / "r.h5")]) == 0
    with h5py.File(tmp_path / "r.h5") as f:
        assert f.attrs[ATTRIBUTE] == ""


def test_layer_properties_outside_are_refused_unless_allowed_then_flagged(trained, tmp_path, capsys):
    tmp, runs, i = trained
    ranges = read_meta(tmp / "model/forward/model.npz")[RANGES_KEY]
    s = yaml.safe_load(runs[i][0].read_text())
    low = ranges["layers"]["vs"][1][0]
    s["model"]["layers"][1]["vs"] = round(0.5 * low, 1)
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(s))
    out = tmp_path / "r.h5"
    assert main(["predict", str(tmp_path / "slow.yaml"), "--model", str(tmp / "model"), "-o", str(out)]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"error: {tmp_path / 'slow.yaml'}: layer 2 vs {0.5 * low:g} m/s outside the training "
                           f"range {low:g}-"), line
    assert not out.exists() and not list(tmp_path.glob(".r.h5*"))
    assert main(["predict", str(tmp_path / "slow.yaml"), "--model", str(tmp / "model"), "-o", str(out),
                 "--allow-out-of-distribution"]) == 0
    with h5py.File(out) as f:
        assert "layer 2 vs" in f.attrs[ATTRIBUTE] and "outside the training range" in f.attrs[ATTRIBUTE]


def test_geometry_outside_is_predicted_and_flagged(trained, tmp_path):
    tmp, runs, i = trained
    s = yaml.safe_load(runs[i][0].read_text())
    s["model"]["domain"]["z_bottom"] = -60.0
    (tmp_path / "deep.yaml").write_text(yaml.safe_dump(s))
    assert main(["predict", str(tmp_path / "deep.yaml"), "--model", str(tmp / "model"), "-o",
                 str(tmp_path / "r.h5")]) == 0
    with h5py.File(tmp_path / "r.h5") as f:
        assert f.attrs[ATTRIBUTE].startswith("box z_bottom -60--60 m outside the training range -50--50 m")


def test_other_sampling_is_refused_in_predict(trained, tmp_path, capsys):
    tmp, runs, i = trained
    s = yaml.safe_load(runs[i][0].read_text())
    s["output"]["dt"] = 0.04
    (tmp_path / "dt.yaml").write_text(yaml.safe_dump(s))
    assert main(["predict", str(tmp_path / "dt.yaml"), "--model", str(tmp / "model"), "-o",
                 str(tmp_path / "r.h5")]) == 2
    assert "output dt 0.04 s outside the training range 0.02-0.02 s" in _one_line(capsys)


def test_the_estimate_file_carries_a_positive_std_and_an_empty_flag(trained, tmp_path):
    tmp, runs, i = trained
    out = tmp_path / "e.h5"
    assert main(["invert", str(runs[i][1]), "--model", str(tmp / "model"), "-o", str(out)]) == 0
    with h5py.File(out) as f:
        est, std = f["boundaries/elevation"][...], f["boundaries/elevation_std"][...]
        assert f.attrs[ATTRIBUTE] == ""
    assert std.shape == est.shape == (2, 25) and std.dtype == np.float64
    assert np.all(np.isfinite(std)) and np.all(std > 0)


def test_records_sampled_otherwise_are_refused(trained, tmp_path, capsys):
    tmp, runs, i = trained
    rec = read_result(runs[i][1])
    write_result(tmp_path / "coarse.h5", Result(rec.xyz, rec.t[::2], rec.velocity[..., ::2], rec.scenario,
                                                 "fem", 1, 0, 0.0))
    out = tmp_path / "e.h5"
    assert main(["invert", str(tmp_path / "coarse.h5"), "--model", str(tmp / "model"), "-o", str(out)]) == 2
    assert "coarse.h5: sample times differ from the training data's" in _one_line(capsys)
    write_result(tmp_path / "moved.h5", Result(rec.xyz[::-1].copy(), rec.t, rec.velocity[::-1].copy(), rec.scenario,
                                                "fem", 1, 0, 0.0))
    assert main(["invert", str(tmp_path / "moved.h5"), "--model", str(tmp / "model"), "-o", str(out)]) == 2
    assert "station layout differs from the training data's" in _one_line(capsys)
    assert not out.exists()


def test_records_a_hundred_times_too_strong_are_flagged(trained, tmp_path, capsys):
    tmp, runs, i = trained
    rec = read_result(runs[i][1])
    write_result(tmp_path / "loud.h5", Result(rec.xyz, rec.t, rec.velocity * 100, rec.scenario, "fem", 1, 0, 0.0))
    assert main(["invert", str(tmp_path / "loud.h5"), "--model", str(tmp / "model"), "-o",
                 str(tmp_path / "e.h5")]) == 0
    with h5py.File(tmp_path / "e.h5") as f:
        flag = f.attrs[ATTRIBUTE]
    assert "station features lie beyond the training min/max" in flag
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])[ATTRIBUTE] == flag


def test_evaluate_reports_the_uncertainty_of_the_chosen_estimator(trained, tmp_path):
    tmp, runs, _ = trained
    assert main(["evaluate", "--store", str(tmp / "store.h5"), "--model", str(tmp / "model"),
                 "--out", str(tmp_path)]) == 0
    be = json.loads((tmp_path / "metrics.json").read_text())["boundary_elevation"]
    record = json.loads((tmp / "model" / CHOICE_FILE).read_text())
    assert be["network"] == record["choice"]
    store = load_store(tmp / "store.h5")
    test = store.models(TEST)
    estimates = candidate_estimates(candidates(tmp / "model"), store.spectra[test], store.velocity[test],
                                    store.ground_elevation[test], store.station_xy)
    sigma = calibration(record, be["network"]).sigma(network_spread(estimates))
    err = np.abs(estimates[be["network"]] - store.boundary_elevation[test])
    u = be["uncertainty"]
    assert u["within_2_sigma"] == pytest.approx(np.mean(err <= 2 * sigma))
    assert u["n_misses"] == int((err >= 2.0).sum())
    assert u["misses_flagged"] == int(((err >= 2.0) & (2 * sigma > 2.0)).sum())
    assert be["within_tolerance"] == pytest.approx(np.mean(err < 2.0))   # the existing keys stay
