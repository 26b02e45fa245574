"""End to end on real FEM output: generate 12 small ground models, run the FEM on each, build the store,
train the point-wise inverse network; on the held-out models it must clearly beat the training-mean predictor."""
import json

import h5py
import pytest
import torch

from surrogate.dataset import TEST, TRAIN, build_store, load_store
from surrogate.evaluate import evaluate
from surrogate.resultfile import read_result
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import fem_runs

N_MODELS = 12   # 8 train, 2 validation, 2 test models; 25 stations each


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    runs = fem_runs(N_MODELS)
    return build_store(runs, tmp_path_factory.mktemp("fem_store") / "store.h5", Band(0.5, 8.0, 32),
                       (0.6, 0.2, 0.2), seed=0)


def test_training_data_is_fem_output(store):
    s = load_store(store)
    with h5py.File(store) as f:
        files = f["provenance/result_file"].asstr()[...]
    for path in files[:2]:
        rec = read_result(path)
        assert rec.engine == "fem" and rec.dofs > 5000
    # the boundaries move enough between models that 2 m is a real test
    depth = s.ground_elevation[:, None] - s.boundary_elevation
    assert depth[:, 0].std() > 1.5 and depth[:, 1].std() > 1.5
    assert len(s.models(TEST)) == 2 and len(s.models(TRAIN)) == 8


def test_pointwise_inverse_beats_the_trivial_predictor_on_held_out_fem_models(store, tmp_path):
    torch.set_num_threads(2)
    train(TrainConfig(task="inverse_pointwise", epochs=60, batch_size=32, lr=2e-3, weight_decay=1e-2,
                      patience=20, hidden=(128,), log_every=10_000, checkpoint_every=10_000),
          store, tmp_path / "model")
    b = evaluate(store, tmp_path / "model", tmp_path / "eval")["boundary_elevation"]
    print(json.dumps({"within": b["within_tolerance"], "trivial_within": b["trivial"]["within_tolerance"],
                      "rmse_m": b["rmse_m"], "trivial_rmse_m": b["trivial"]["rmse_m"]}))
    assert b["n_estimates"] == 2 * 2 * 25
    assert b["rmse_m"] < 0.6 * b["trivial"]["rmse_m"]
    assert b["within_tolerance"] > b["trivial"]["within_tolerance"] + 0.15
