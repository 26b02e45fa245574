"""The gradient inversion through either forward network (surrogate.optimise, `invert --optimise`), and its
benchmark beside the inverse network (benchmarks/surrogate_optimise.py; issue #11 item 7).

(a) A known answer: a forward network with fixed random weights (no training) makes "observed" records of a
known boundary control grid; through the same network the misfit is zero at the truth (so the misfit's inputs
are built exactly as predict_velocity builds them: channel order, grid order, both normalisers), and a descent
from a perturbed grid lowers it by orders of magnitude and moves the boundaries toward the truth.
(b) On a small synthetic store (tests.test_surrogate_trace_std: analytic waveforms, no FEM) with a point-wise
inverse and a spatial forward network: `invert --optimise` descends through the spatial network, and the
benchmark script runs and writes its scores.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from surrogate.errors import SurrogateInputError
from surrogate.features import forward_inputs, forward_spatial_inputs
from surrogate.inference import Trained, predict_velocity
from surrogate.nets import NetworkSpec, build_network
from surrogate.normalise import Normaliser
from surrogate.optimise import interpolation_matrix, optimise_boundaries

ROOT = Path(__file__).resolve().parents[1]
NX = NY = 6
T, B = 10, 2
BOX = (0.0, 50.0)
SHAPE = (4, 4)
LAYERS = np.array([[500.0, 200.0, 1700.0, 0.02], [1000.0, 450.0, 1900.0, 0.01], [1800.0, 900.0, 2100.0, 0.005]])


def _case(task: str):
    """A random forward network of `task`, the stations (a 6 x 6 grid and one off-grid station), W, ground
    and a true control grid."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    g = np.linspace(5.0, 45.0, NX)
    gx, gy = np.meshgrid(g, g)
    xy = np.concatenate([np.stack([gx.ravel(), gy.ravel()], axis=1), [[27.0, 23.0]]])
    weights = interpolation_matrix(BOX, BOX, SHAPE, xy)
    ground = 0.5 * np.sin(xy[:, 0] / 10.0)
    truth = np.stack([-10.0 + 2 * rng.normal(size=SHAPE), -25.0 + 2 * rng.normal(size=SHAPE)])
    elevation = truth.reshape(B, -1) @ weights.T
    draws = [elevation + 3 * rng.normal(size=elevation.shape) for _ in range(20)]
    if task == "forward_spatial":
        samples = np.stack([forward_spatial_inputs(ground, d, LAYERS, xy, (NX, NY)) for d in draws])
        samples = np.moveaxis(samples, 1, -1).reshape(-1, samples.shape[1])
        spec, gain = NetworkSpec(task, samples.shape[1], 3 * T, width=8, levels=1), 2.0
        # per component, a mean that is not zero: the records must be standardised channel by channel
        target_norm = Normaliser(np.repeat([1e-3, 0.0, -1e-4], T), np.repeat([1e-2, 1e-3, 5e-4], T))
    else:
        samples = np.concatenate([forward_inputs(ground, d, LAYERS) for d in draws])
        spec, gain = NetworkSpec(task, samples.shape[1], 3 * T, hidden=(32, 32)), 1.0
        target_norm = Normaliser(np.zeros(3 * T), np.full(3 * T, 1e-2))
    # a random U-Net at its initial scale barely responds to its inputs; a gain on the weights makes it respond
    state = {k: (gain * v if k.endswith("weight") else v).numpy() for k, v in build_network(spec).state_dict().items()}
    model = Trained(state, spec, Normaliser.fit(samples), target_norm, np.ones(3), 0.02 * np.arange(T), xy,
                    (NX, NY), "source")
    return model, xy, weights, ground, truth, elevation


@pytest.mark.parametrize("task", ["forward_spatial", "forward"])
def test_descent_through_the_forward_network_recovers_a_known_grid(task):
    torch.set_num_threads(1)
    model, xy, weights, ground, truth, elevation = _case(task)
    observed = predict_velocity(model, ground, elevation, LAYERS, xy)
    assert observed.shape == (NX * NY + 1, 3, T)
    at_truth = optimise_boundaries(model, observed, ground, LAYERS, weights, truth, steps=0, xy=xy)
    assert at_truth.start_misfit == at_truth.misfit < 1e-9          # the records of the truth, exactly
    start = truth + 3 * np.random.default_rng(1).normal(size=truth.shape)
    est = optimise_boundaries(model, observed, ground, LAYERS, weights, start, steps=300, lr=0.2, xy=xy)
    assert est.control.shape == truth.shape
    assert est.elevation.shape == (B, NX * NY + 1)                  # every station, the off-grid one too
    np.testing.assert_allclose(est.elevation, est.control.reshape(B, -1) @ weights.T, atol=1e-9)
    assert est.start_misfit > 1e-6                                  # the perturbation shows in the records
    assert est.misfit < est.start_misfit / 100
    rms = lambda e: np.sqrt(((e - elevation) ** 2).mean())           # noqa: E731
    assert rms(est.elevation) < 0.5 * rms(start.reshape(B, -1) @ weights.T)


def test_spatial_descent_refuses_stations_off_the_training_grid():
    model, xy, weights, ground, truth, elevation = _case("forward_spatial")
    observed = predict_velocity(model, ground, elevation, LAYERS, xy)
    moved = xy.copy()
    moved[0, 0] += 1.0
    with pytest.raises(SurrogateInputError, match="training grid"):
        optimise_boundaries(model, observed, ground, LAYERS, weights, truth, steps=1, xy=moved)
    with pytest.raises(SurrogateInputError, match="training grid"):
        optimise_boundaries(model, observed[:10], ground[:10], LAYERS, weights[:10], truth, steps=1)


# ---------------------------------------------------------------- (b) invert and the benchmark on a small store

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from surrogate.dataset import build_store
    from surrogate.spectra import Band
    from surrogate.train import TrainConfig, train
    from tests.test_surrogate_trace_std import _synthetic_runs
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("optimise")
    runs = _synthetic_runs(tmp)
    store = build_store(runs, tmp / "store.h5", Band(0.5, 5.0, 8), (0.5, 0.25, 0.25))
    quick = dict(epochs=3, batch_size=16, hidden=(16,), width=4, levels=1, log_every=1000)
    for task in ("inverse_pointwise", "forward_spatial"):
        train(TrainConfig(task=task, **quick), store, tmp / "model")
    return tmp, runs


def test_invert_optimises_through_the_spatial_forward_network(trained, tmp_path, capsys):
    from surrogate.cli import main
    tmp, runs = trained
    assert main(["invert", str(runs[0][1]), "--model", str(tmp / "model"), "--optimise",
                 "-o", str(tmp_path / "e.h5")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["forward_network"] == "forward_spatial"
    assert summary["misfit_final"] < summary["misfit_start"]


def test_optimise_benchmark_scores_both_estimates(trained, tmp_path):
    tmp, _ = trained
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "surrogate_optimise.py"), "--store",
                           str(tmp / "store.h5"), "--model", str(tmp / "model"), "--control-grid", "5", "5",
                           "--steps", "20", "--out", str(tmp_path / "o.json")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["n_models"] == 2 and out["forward_network"] == "forward_spatial"
    assert out["inverse_network"] == "inverse_pointwise"
    for name in ("network", "network_on_grid", "optimised"):
        assert 0.0 <= out[name]["within_tolerance"] <= 1.0 and out[name]["rmse_m"] >= 0
        assert set(out[name]["per_boundary"]) == {"b12", "b23"}
        assert all(0.0 <= b["within_tolerance"] <= 1.0 for b in out[name]["per_boundary"].values())
        assert name in proc.stdout
    misfit = out["misfit"]
    assert len(misfit["start"]["per_model"]) == len(misfit["optimised"]["per_model"]) == 2
    assert misfit["optimised"]["mean"] <= misfit["start"]["mean"]   # 20 Adam steps do not raise the misfit
    assert out["optimised_minus_network"] == pytest.approx(
        out["optimised"]["within_tolerance"] - out["network"]["within_tolerance"])


def test_invert_optimise_without_a_forward_network_says_so_in_one_line(trained, tmp_path, capsys):
    import shutil

    from surrogate.cli import main
    tmp, runs = trained
    shutil.copytree(tmp / "model" / "inverse_pointwise", tmp_path / "model" / "inverse_pointwise")
    assert main(["invert", str(runs[0][1]), "--model", str(tmp_path / "model"), "--optimise",
                 "-o", str(tmp_path / "e.h5")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no trained forward_spatial or forward network" in err
