"""End to end on the 1D stand-in engine: the networks actually learn (beat the training-mean predictor clearly)."""
import json
from pathlib import Path

import pytest
import torch

from surrogate.column1d import simulate_columns
from surrogate.dataset import build_store
from surrogate.evaluate import evaluate
from surrogate.generate import generate_scenarios
from surrogate.resultfile import write_result
from surrogate.scenario import load_scenario
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train

BASE = """
model:
  domain: {x: [0.0, 200.0], y: [0.0, 200.0], z_bottom: -100.0}
  surfaces: [{name: ground, elevation: 0.0}, {name: b12, elevation: -20.0}, {name: b23, elevation: -50.0}]
  layers:
    - {vp: 500.0,  vs: 150.0, rho: 1700.0, damping: 0.02}
    - {vp: 1200.0, vs: 400.0, rho: 1900.0, damping: 0.01}
    - {vp: 2000.0, vs: 800.0, rho: 2100.0, damping: 0.005}
mesh: {order: 1, f_max: 4.0}
time: {duration: 3.0, dt: 0.01}
source: {type: plane_wave, component: x, wavelet: {type: ricker, f0: 2.0, t0: 0.6, amplitude: 0.01}}
receivers: {grid: {nx: 5, ny: 5}}
output: {dt: 0.02}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """End to end in a few lines: generate, run (1D stand-in engine), build the store."""
    tmp = tmp_path_factory.mktemp("train")
    runs = []
    for p in generate_scenarios(BASE, 24, 0, tmp / "scenarios", fixed_layers=True):
        write_result(tmp / f"{p.stem}.h5", simulate_columns(load_scenario(p)), 1, 0, 0.0, "test")
        runs.append((None, tmp / f"{p.stem}.h5"))
    return build_store(runs, tmp / "store.h5", Band(0.25, 6.0, 24), (0.7, 0.15, 0.15), seed=0)


def test_inverse_network_learns_and_beats_the_trivial_predictor(store, tmp_path):
    torch.set_num_threads(2)
    for task in ("inverse_pointwise", "forward"):
        train(TrainConfig(task=task, epochs=30, batch_size=32, lr=3e-3, patience=60, hidden=(128, 128),
                          log_every=10_000, checkpoint_every=10_000), store, tmp_path / "model")
    metrics = evaluate(store, tmp_path / "model", tmp_path / "eval")
    b = metrics["boundary_elevation"]
    assert b["tolerance_m"] == 2.0 and b["network"] == "inverse_pointwise"
    assert b["rmse_m"] < 0.3 * b["trivial"]["rmse_m"]
    assert b["within_tolerance"] > b["trivial"]["within_tolerance"] + 0.3
    assert b["within_tolerance"] > 0.7
    g = metrics["ground_motion"]
    assert g["relative_l2_median"] < 0.3 and g["gof_median"] > 6.0
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == metrics
    for png in ("boundary_maps.png", "boundary_errors.png", "waveforms.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 1000
    print(json.dumps({"within": b["within_tolerance"], "trivial": b["trivial"]["within_tolerance"],
                      "rmse": b["rmse_m"], "l2": g["relative_l2_median"], "gof": g["gof_median"]}))
