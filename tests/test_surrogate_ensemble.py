"""The inverse estimator: the ensemble is the members' mean, `select` chooses on validation with the
training loss, evaluate and invert follow the recorded choice, a stale choice is refused."""
import json
import shutil

import h5py
import numpy as np
import pytest

from surrogate.cli import main
from surrogate.dataset import TEST, VALIDATION, build_store, load_store
from surrogate.ensemble import CHOICE_FILE, ENSEMBLE, candidates, chosen, load_inverse, select, validation_loss
from surrogate.inference import estimate_boundaries, find_model, load_trained
from surrogate.modelfile import read_meta, read_model, write_model
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import fem_runs

QUICK = dict(epochs=3, batch_size=16, hidden=(16,), width=4, levels=1, log_every=1000)
INVERSE = ("inverse_pointwise", "inverse_spatial")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensemble")
    runs = fem_runs(6)
    store = build_store(runs, tmp / "store.h5", Band(0.5, 5.0, 8), (0.5, 0.25, 0.25))
    for task in INVERSE:
        train(TrainConfig(task=task, **QUICK), store, tmp / "model")
    return tmp, runs


def _inputs(store, models):
    return store.spectra[models], store.velocity[models], store.ground_elevation[models], store.station_xy


def test_the_ensemble_is_the_mean_of_its_members(trained):
    tmp, _ = trained
    store = load_store(tmp / "store.h5")
    test = store.models(TEST)
    found = candidates(tmp / "model")
    assert set(found) == {*INVERSE, ENSEMBLE}
    members = [estimate_boundaries(load_trained(find_model(tmp / "model", (t,))), *_inputs(store, test))
               for t in INVERSE]
    assert not np.allclose(members[0], members[1])
    np.testing.assert_allclose(found[ENSEMBLE](*_inputs(store, test)), (members[0] + members[1]) / 2, rtol=0,
                               atol=1e-9)
    for i, task in enumerate(INVERSE):
        np.testing.assert_array_equal(found[task](*_inputs(store, test)), members[i])


def test_the_validation_loss_is_the_loss_the_network_was_trained_on(trained):
    """The point-wise net's best validation loss, recomputed from its elevation estimates in metres."""
    tmp, _ = trained
    store = load_store(tmp / "store.h5")
    val = store.models(VALIDATION)
    path = find_model(tmp / "model", ("inverse_pointwise",))
    estimate = estimate_boundaries(load_trained(path), *_inputs(store, val))
    assert validation_loss(estimate, store, val) == pytest.approx(read_meta(path)["best_val"], rel=1e-4)
    # and an exact estimate scores zero
    assert validation_loss(store.boundary_elevation[val], store, val) == 0.0


def test_select_records_the_lowest_validation_loss_and_evaluate_and_invert_follow_it(trained, tmp_path, capsys):
    tmp, runs = trained
    model = tmp_path / "model"
    shutil.copytree(tmp / "model", model)
    assert main(["select", "--store", str(tmp / "store.h5"), "--model", str(model)]) == 0
    record = json.loads((model / CHOICE_FILE).read_text())
    assert json.loads(capsys.readouterr().out) == record
    assert set(record["validation_loss"]) == {*INVERSE, ENSEMBLE}
    assert record["choice"] == min(record["validation_loss"], key=record["validation_loss"].get)
    store = load_store(tmp / "store.h5")
    val = store.models(VALIDATION)
    for name, est in candidates(model).items():
        assert record["validation_loss"][name] == pytest.approx(validation_loss(est(*_inputs(store, val)), store, val))
    # every choice is followed, whichever it is: rewrite the record's choice
    for name in (*INVERSE, ENSEMBLE):
        (model / CHOICE_FILE).write_text(json.dumps({**record, "choice": name}))
        assert chosen(model) == name
        assert main(["invert", str(runs[1][1]), "--model", str(model), "-o", str(tmp_path / "e.h5")]) == 0
        with h5py.File(runs[1][1]) as f:
            velocity, xyz = f["receivers/velocity"][...], f["receivers/xyz"][...]
        with h5py.File(tmp_path / "e.h5") as f:
            assert f.attrs["network"] == name
            estimate = f["boundaries/elevation"][...]
        inverse = load_inverse(model, name)
        from surrogate.spectra import log_amplitude_spectra
        f = inverse.frequency
        spectra = log_amplitude_spectra(velocity, float(inverse.time[1] - inverse.time[0]), Band(f[0], f[-1], len(f)))
        np.testing.assert_allclose(estimate, inverse(spectra[None], velocity[None], xyz[None, :, 2], xyz[:, :2])[0])
        assert main(["evaluate", "--store", str(tmp / "store.h5"), "--model", str(model),
                     "--out", str(tmp_path / "eval")]) == 0
        be = json.loads((tmp_path / "eval/metrics.json").read_text())["boundary_elevation"]
        assert be["network"] == name and set(be["by_network"]) == {*INVERSE, ENSEMBLE}
        assert be["within_tolerance"] == be["by_network"][name]["within_tolerance"]
        assert be["by_network"][name]["validation_loss"] == pytest.approx(record["validation_loss"][name])


def test_without_select_the_network_with_the_lowest_validation_loss_is_chosen(trained):
    tmp, _ = trained
    losses = {t: read_meta(find_model(tmp / "model", (t,)))["best_val"] for t in INVERSE}
    assert not (tmp / "model" / CHOICE_FILE).exists()
    assert chosen(tmp / "model") == min(losses, key=losses.get)


def test_a_stale_or_impossible_choice_is_one_clear_line(trained, tmp_path, capsys):
    tmp, runs = trained
    model = tmp_path / "model"
    shutil.copytree(tmp / "model", model)
    select(tmp / "store.h5", model)
    saved = read_model(model / "inverse_spatial/model.npz")
    saved.meta["step"] += 1                                        # as if trained further
    write_model(model / "inverse_spatial/model.npz", saved)
    only = tmp_path / "only"
    shutil.copytree(tmp / "model" / "inverse_pointwise", only / "inverse_pointwise")
    out = tmp_path / "e.h5"
    cases = [
        (["invert", runs[1][1], "--model", model, "-o", out], "inverse_spatial was retrained or removed since"),
        (["evaluate", "--store", tmp / "store.h5", "--model", model, "--out", tmp_path / "ev"],
         "inverse_spatial was retrained or removed since"),
        (["invert", runs[1][1], "--model", only, "--network", "ensemble", "-o", out],
         "an ensemble needs two trained inverse networks"),
        (["invert", runs[1][1], "--model", only, "--network", "inverse_spatial", "-o", out],
         "holds no trained inverse_spatial network"),
    ]
    (only / CHOICE_FILE).write_text("{not json")
    cases.append((["invert", runs[1][1], "--model", only, "-o", out], "not an inverse choice written by `select`"))
    for args, message in cases:
        assert main(list(map(str, args))) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, lines)
    assert not out.exists() and not (tmp_path / "ev" / "metrics.json").exists()


def test_a_network_with_seed_members_estimates_their_mean_and_select_guards_each(trained, tmp_path, capsys):
    """DIR/inverse_spatial.1/ (the same task, another seed) joins inverse_spatial: its estimate is the two
    networks' mean, the ensemble still weighs the two tasks equally, and select records and checks both."""
    tmp, runs = trained
    model = tmp_path / "model"
    shutil.copytree(tmp / "model", model)
    train(TrainConfig(task="inverse_spatial", seed=1, **QUICK), tmp / "store.h5", tmp_path / "seed1")
    shutil.copytree(tmp_path / "seed1" / "inverse_spatial", model / "inverse_spatial.1")
    store = load_store(tmp / "store.h5")
    test = store.models(TEST)
    one = {name: estimate_boundaries(load_trained(model / name / "model.npz"), *_inputs(store, test))
           for name in ("inverse_pointwise", "inverse_spatial", "inverse_spatial.1")}
    assert not np.allclose(one["inverse_spatial"], one["inverse_spatial.1"])
    found = candidates(model)
    assert set(found) == {*INVERSE, ENSEMBLE} and len(found["inverse_spatial"].members) == 2
    spatial = (one["inverse_spatial"] + one["inverse_spatial.1"]) / 2
    np.testing.assert_allclose(found["inverse_spatial"](*_inputs(store, test)), spatial, rtol=0, atol=1e-9)
    np.testing.assert_allclose(found[ENSEMBLE](*_inputs(store, test)), (spatial + one["inverse_pointwise"]) / 2,
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(load_inverse(model, "inverse_spatial")(*_inputs(store, test)), spatial, atol=1e-9)
    record = select(tmp / "store.h5", model)
    assert set(record["networks"]) == {*INVERSE, "inverse_spatial.1"}
    # a member retrained since select is refused like a network
    saved = read_model(model / "inverse_spatial.1/model.npz")
    saved.meta["step"] += 1
    write_model(model / "inverse_spatial.1/model.npz", saved)
    assert main(["invert", str(runs[1][1]), "--model", str(model), "-o", str(tmp_path / "e.h5")]) == 2
    assert "inverse_spatial.1 was retrained or removed since" in capsys.readouterr().err
    # a member folder holding another task is refused
    shutil.rmtree(model / "inverse_spatial.1")
    shutil.copytree(tmp / "model" / "inverse_pointwise", model / "inverse_spatial.1")
    with pytest.raises(Exception, match="a member of inverse_spatial holds a network of task inverse_pointwise"):
        candidates(model)
