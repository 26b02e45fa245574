"""The command line: subcommands listed, predict/invert write the fixed layouts, bad inputs give one clear line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from surrogate.cli import main
from surrogate.dataset import build_store
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import BASE, fem_runs

ROOT = Path(__file__).resolve().parents[1]
QUICK = dict(epochs=2, batch_size=16, hidden=(16,), width=4, levels=1, log_every=1000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    runs = fem_runs(6)
    scen = [s for s, _ in runs]
    store = build_store(runs, tmp / "store.h5", Band(0.5, 5.0, 8), (0.5, 0.25, 0.25))
    for task in ("inverse_pointwise", "inverse_spatial", "forward"):
        train(TrainConfig(task=task, **QUICK), store, tmp / "model")
    return tmp, scen, runs


def cli(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "surrogate", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_help_lists_the_subcommands():
    proc = cli("--help")
    assert proc.returncode == 0
    for name in ("generate", "dataset", "train", "select", "evaluate", "predict", "invert"):
        assert name in proc.stdout


def test_predict_writes_the_fem_result_layout(trained, tmp_path):
    tmp, scen, runs = trained
    assert main(["predict", str(scen[0]), "--model", str(tmp / "model"), "-o", str(tmp_path / "r.h5")]) == 0
    with h5py.File(tmp_path / "r.h5") as f, h5py.File(runs[0][1]) as ref:
        assert f["receivers/xyz"].dtype == np.float64 and f["receivers/xyz"].shape == (25, 3)
        assert f["receivers/t"].dtype == np.float64
        assert f["receivers/velocity"].dtype == np.float32
        assert f["receivers/velocity"].shape == ref["receivers/velocity"].shape
        np.testing.assert_allclose(f["receivers/xyz"][...], ref["receivers/xyz"][...])
        np.testing.assert_allclose(f["receivers/t"][...], ref["receivers/t"][...])
        assert f.attrs["engine"] == "surrogate"
        assert yaml.safe_load(f.attrs["scenario"]) == yaml.safe_load(scen[0].read_text())
        for key in ("version", "ranks", "dofs", "wall_seconds"):
            assert key in f.attrs


def test_predict_of_several_scenarios_equals_one_call_per_scenario(trained, tmp_path):
    """One network load for many scenarios (--output-dir DIR/STEM.h5) changes nothing in the results."""
    tmp, scen, runs = trained
    model = str(tmp / "model")
    assert main(["predict", *map(str, scen[:3]), "--model", model, "--output-dir", str(tmp_path / "many")]) == 0
    for s in scen[:3]:
        assert main(["predict", str(s), "--model", model, "-o", str(tmp_path / "one.h5")]) == 0
        with h5py.File(tmp_path / "many" / f"{s.stem}.h5") as f, h5py.File(tmp_path / "one.h5") as g:
            np.testing.assert_array_equal(f["receivers/velocity"][...], g["receivers/velocity"][...])
            assert f.attrs["scenario"] == g.attrs["scenario"] == s.read_text()


def test_predict_runs_without_torch_or_scipy(trained, tmp_path):
    """The drop-in's start-up is the interpreter, numpy, h5py and YAML: a one-scenario call (a workflow
    job with engine: surrogate) pays no torch import (~2-3 s) and no scipy (~0.7 s)."""
    tmp, scen, _ = trained
    code = ("import sys; from surrogate.cli import main; "
            f"rc = main(['predict', {str(scen[0])!r}, '--model', {str(tmp / 'model')!r}, '-o', {str(tmp_path / 'r.h5')!r}]); "
            "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'scipy', 'matplotlib'}))")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "[]"], proc.stdout
    assert (tmp_path / "r.h5").is_file()


@pytest.mark.parametrize("network", ["inverse_pointwise", "inverse_spatial"])
def test_invert_writes_the_estimate_layout(trained, tmp_path, network):
    tmp, scen, runs = trained
    out = tmp_path / "e.h5"
    assert main(["invert", str(runs[1][1]), "--model", str(tmp / "model"), "--network", network, "-o", str(out)]) == 0
    with h5py.File(out) as f, h5py.File(runs[1][1]) as ref:
        np.testing.assert_allclose(f["receivers/xyz"][...], ref["receivers/xyz"][...])
        est = f["boundaries/elevation"][...]
    assert est.shape == (2, 25) and est.dtype == np.float64 and np.all(np.isfinite(est))
    assert not list(tmp_path.glob(".e.h5*"))


def test_invert_optimises_through_the_forward_surrogate_and_writes_a_confirmation_scenario(trained, tmp_path, capsys):
    """Both estimates are reported; the descent lowers the forward misfit; the scenario holds the estimate."""
    tmp, scen, runs = trained
    out, confirm = tmp_path / "e.h5", tmp_path / "confirm.yaml"
    assert main(["invert", str(runs[1][1]), "--model", str(tmp / "model"), "--network", "inverse_pointwise",
                 "--optimise", "--confirm-scenario", str(confirm), "-o", str(out)]) == 0
    with h5py.File(out) as f:
        est, net, opt = (f[k][...] for k in ("boundaries/elevation", "boundaries/elevation_network",
                                             "boundaries/elevation_optimised"))
        control = f["boundaries/control_grid"][...]
        assert f.attrs["method"] == "optimised"
    np.testing.assert_array_equal(est, opt)
    assert est.shape == net.shape == (2, 25) and not np.allclose(est, net)
    from surrogate.scenario import load_scenario, station_xy, surface_elevations
    s = load_scenario(confirm)
    np.testing.assert_allclose(surface_elevations(s, station_xy(s))[1:], est, atol=1e-3)   # YAML keeps 0.1 mm
    truth = load_scenario(scen[1])
    np.testing.assert_allclose(surface_elevations(s, station_xy(s))[0], surface_elevations(truth, station_xy(s))[0])
    assert control.shape == (2, 5, 5)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["network"] == "inverse_pointwise" and summary["misfit_final"] < summary["misfit_start"]



def test_records_that_do_not_fit_the_inverse_network_are_refused(trained):
    from surrogate.errors import SurrogateInputError
    from surrogate.inference import estimate_boundaries, find_model, load_trained
    tmp, scen, runs = trained
    model = load_trained(find_model(tmp / "model", ("inverse_pointwise",)))
    with h5py.File(runs[1][1]) as f:
        velocity, xyz = f["receivers/velocity"][...], f["receivers/xyz"][...]
    spectra = np.zeros((1, xyz.shape[0], 3, model.frequency.size))
    with pytest.raises(SurrogateInputError, match="reads .* features per station, these records give"):
        estimate_boundaries(model, spectra, velocity[None, :, :, :-1], xyz[None, :, 2], xyz[:, :2])


def test_bad_inputs_give_one_clear_line_and_fail(trained, tmp_path, capsys):
    tmp, scen, runs = trained
    cases = [
        (["predict", tmp_path / "nope.yaml", "--model", tmp / "model", "-o", tmp_path / "x.h5"],
         "scenario file not found"),
        (["predict", scen[0], "--model", tmp_path / "empty", "-o", tmp_path / "x.h5"], "model folder not found"),
        (["invert", tmp_path / "nope.h5", "--model", tmp / "model", "-o", tmp_path / "x.h5"], "result file not found"),
        (["invert", scen[0], "--model", tmp / "model", "-o", tmp_path / "x.h5"], "not a readable HDF5"),
        (["train", "--store", tmp / "store.h5", "--task", "sideways", "--out", tmp_path], "unknown task"),
        (["dataset", tmp_path / "nope.h5", "-o", tmp_path / "s.h5"], "result file not found"),
    ]
    broken = dict(yaml.safe_load(scen[0].read_text()))
    broken["model"]["layers"][1]["vs"] = -5.0
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    cases.append((["predict", tmp_path / "broken.yaml", "--model", tmp / "model", "-o", tmp_path / "x.h5"],
                  "model.layers[1]"))
    other = yaml.safe_load(scen[0].read_text())
    other["source"]["wavelet"]["f0"] = 1.0
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    cases.append((["predict", tmp_path / "other.yaml", "--model", tmp / "model", "-o", tmp_path / "x.h5"],
                  "source differs"))
    cases.append((["predict", scen[0], scen[1], "--model", tmp / "model", "-o", tmp_path / "x.h5"],
                  "-o names one result file but 2 scenarios"))
    cases.append((["predict", scen[0], "--model", tmp / "model"], "give either -o RESULT.h5"))
    (tmp_path / "cfg.yaml").write_text("learning_rate: 1.0\n")
    cases.append((["train", "--store", tmp / "store.h5", "--task", "forward", "--config", tmp_path / "cfg.yaml",
                   "--out", tmp_path], "unknown training setting(s) learning_rate"))
    for args, message in cases:
        assert main(list(map(str, args))) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, lines)
    assert not (tmp_path / "x.h5").exists()
    proc = cli(*cases[0][0])   # and through the interpreter: status and stderr, no traceback
    expected = f"error: {cases[0][1]}: {tmp_path / 'nope.yaml'}"
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [expected]


def test_generate_and_dataset_commands_chain(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    assert main(["generate", "--base", str(tmp_path / "base.yaml"), "--n", "3", "--seed", "1",
                 "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s").glob("model_*.yaml"))) == 3
    runs = fem_runs(3)
    args = [str(r) for _, r in runs] + ["--scenarios"] + [str(s) for s, _ in runs]
    assert main(["dataset", *args, "--band", "0.5", "5", "8", "-o", str(tmp_path / "store.h5")]) == 0
    with h5py.File(tmp_path / "store.h5") as f:
        assert f["spectra"].shape == (3, 25, 3, 8) and f["spectra"].chunks == (1, 25, 3, 8)
        assert f["boundary_elevation"].shape == (3, 2, 25)
