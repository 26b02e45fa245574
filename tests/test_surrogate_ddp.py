"""Training mechanics: 2-process DDP (gloo, torchrun) equals one process (forward_spatial: with its random
mirror flips); resume equals an uninterrupted run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from surrogate.dataset import build_store
from surrogate.modelfile import read_model
from surrogate.nets import NetworkSpec, build_network
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import fem_runs

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(hidden=(32, 32), width=8, levels=1, log_every=1000, checkpoint_every=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store of 12 small FEM runs: 8 training models (200 stations, 8 grids)."""
    runs = fem_runs(12)
    return build_store(runs, tmp_path_factory.mktemp("train") / "store.h5", Band(0.25, 6.0, 24), (0.7, 0.15, 0.15),
                       seed=0)


def params(path: Path) -> torch.Tensor:
    """The weights of a checkpoint (torch) or a model file (numpy), flattened in state-dict order."""
    state = read_model(path).weights if path.suffix == ".npz" else \
        torch.load(path, map_location="cpu", weights_only=False)["model"]
    return torch.cat([torch.as_tensor(v).flatten().double() for v in state.values()])


def run_cli(args: list[str], launcher: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([*launcher, "-m", "surrogate", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("task, batch", [("inverse_pointwise", 32), ("inverse_spatial", 4), ("forward_spatial", 4)])
def test_ddp_two_processes_equal_one(store, tmp_path, task, batch):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(SMALL))
    args = ["train", "--store", str(store), "--task", task, "--config", str(config), "--epochs", "4",
            "--batch-size", str(batch), "--max-steps", "7"]
    train(TrainConfig(task=task, epochs=4, batch_size=batch, max_steps=7, **SMALL), store, tmp_path / "one")
    proc = run_cli(args + ["--out", str(tmp_path / "two")],
                   [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"])
    # --max-steps leaves the run unfinished: non-zero (the trainers' UNFINISHED; torchrun's own status)
    assert proc.returncode != 0 and "train: stopped at --max-steps 7 at step 7 " in proc.stderr, \
        proc.stdout[-3000:] + proc.stderr[-3000:]
    assert torch.load(tmp_path / "two" / task / "checkpoint.pt", weights_only=False)["world_size"] == 2
    one, two = params(tmp_path / "one" / task / "checkpoint.pt"), params(tmp_path / "two" / task / "checkpoint.pt")
    start = torch.load(tmp_path / "one" / task / "checkpoint.pt", weights_only=False)["progress"]["step"]
    assert start == 7
    assert (one - two).norm() <= 1e-5 * one.norm()
    # and training moved the weights: the comparison is not between two initial states
    spec = torch.load(tmp_path / "one" / task / "checkpoint.pt", weights_only=False)["spec"]
    torch.manual_seed(TrainConfig().seed)
    init = torch.cat([p.flatten().double() for p in
                      build_network(NetworkSpec.from_dict(spec)).parameters()])
    assert (one - init).norm() > 1e-2 * init.norm()


@pytest.mark.parametrize("task, batch", [("inverse_pointwise", 32), ("forward_spatial", 2)])
def test_interrupt_and_resume_equals_uninterrupted(store, tmp_path, task, batch):
    cfg = TrainConfig(task=task, epochs=4, batch_size=batch, **SMALL)
    whole = train(cfg, store, tmp_path / "whole")
    cut = train(TrainConfig(**{**cfg.__dict__, "max_steps": 5}), store, tmp_path / "cut")   # preempted mid-epoch
    assert cut["stopped"] == "max_steps" and cut["step"] == 5
    resumed = train(cfg, store, tmp_path / "cut")
    assert resumed["step"] == whole["step"] and resumed["epoch"] == whole["epoch"] == 4
    for name in ("checkpoint.pt", "model.npz"):
        a = params(tmp_path / "whole" / task / name)
        b = params(tmp_path / "cut" / task / name)
        assert torch.equal(a, b), name
    ca = torch.load(tmp_path / "whole" / task / "checkpoint.pt", weights_only=False)
    cb = torch.load(tmp_path / "cut" / task / "checkpoint.pt", weights_only=False)
    assert ca["scheduler"] == cb["scheduler"]
    assert [h["val_loss"] for h in ca["progress"]["history"]] == [h["val_loss"] for h in cb["progress"]["history"]]
    for k in ("optimizer", "scheduler", "progress", "rng", "config", "input_norm", "target_norm"):
        assert k in ca
