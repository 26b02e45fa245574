"""Training that stops before it finishes (issue #14, preemption and stops).

SIGTERM mid-training: `python -m surrogate train` writes its checkpoint and exits with
surrogate.cli.UNFINISHED and one line on stderr; the Snakemake rule's command chain
(workflow/rules/train.smk, run here as the rule writes it, through torchrun) publishes
nothing, and the same command then resumes from the checkpoint and publishes the finished
network. --max-steps is unfinished too. A checkpoint written by another number of processes
(or one that records none) is refused with one line naming both numbers.
(That a resumed run equals an uninterrupted one: tests/test_surrogate_ddp.py.)
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from surrogate.cli import UNFINISHED
from surrogate.dataset import build_store
from surrogate.errors import SurrogateInputError
from surrogate.modelfile import read_meta
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import fem_runs

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
#: 200 training stations at batch 8: 25 steps per epoch, 2500 in all (seconds of training), so a
#: SIGTERM sent at the first progress line lands mid-training
LONG = dict(hidden=[32, 32], log_every=1, checkpoint_every=1000, patience=1000)
EPOCHS, BATCH = 100, 8
#: the rule's command: TrainConfig's defaults (a wider network, a progress line every 50 steps), 1000 steps
RULE_EPOCHS = 40


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The store of tests/test_surrogate_ddp.py: 12 small FEM runs, 8 training models (200 stations)."""
    return build_store(fem_runs(12), tmp_path_factory.mktemp("stops") / "store.h5", Band(0.25, 6.0, 24),
                       (0.7, 0.15, 0.15), seed=0)


def ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def wait_for(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 240) -> re.Match:
    """The first match of `pattern` in the growing log file (the process must still be running)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        hit = re.search(pattern, log.read_text()) if log.is_file() else None
        if hit:
            return hit
        assert proc.poll() is None, f"ended ({proc.returncode}) before {pattern!r}:\n{log.read_text()[-3000:]}"
        time.sleep(0.01)
    raise AssertionError(f"no {pattern!r} in {timeout} s")


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_sigterm_mid_training_checkpoints_and_exits_unfinished(store, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(LONG))
    out, log, err = tmp_path / "out", tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(log, "w") as so, open(err, "w") as se:
        proc = subprocess.Popen([sys.executable, "-m", "surrogate", "train", "--store", str(store), "--task",
                                 "inverse_pointwise", "--out", str(out), "--config", str(config), "--epochs",
                                 str(EPOCHS), "--batch-size", str(BATCH)], cwd=ROOT, env=ENV, stdout=so, stderr=se)
        try:
            wait_for(log, r"epoch 0 step 1 ", proc)
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=120)
        finally:
            proc.kill()
    assert rc == UNFINISHED, err.read_text()
    summary = json.loads(log.read_text().splitlines()[-1])
    state = ckpt(out / "inverse_pointwise" / "checkpoint.pt")
    step = state["progress"]["step"]
    assert summary["stopped"] == "signal" and summary["step"] == step
    assert 1 <= step < EPOCHS * 25, "stopped mid-training, checkpoint of the step it stopped at"
    assert state["world_size"] == 1
    lines = stderr_lines(err.read_text())
    assert len(lines) == 1 and lines[0].startswith(f"train: stopped by SIGTERM at step {step} "), lines
    assert str(out / "inverse_pointwise" / "checkpoint.pt") in lines[0]


def rule_command(**values) -> str:
    """The train rule's shell command (workflow/rules/train.smk), its placeholders filled in."""
    text = (ROOT / "workflow/rules/train.smk").read_text().split("shell:", 1)[1]
    return "".join(re.findall(r'^\s*"(.*)"\s*$', text, flags=re.M)).format(**values)


def test_rule_publishes_nothing_when_stopped_and_a_rerun_resumes(store, tmp_path):
    task, work, output, log = "inverse_pointwise", tmp_path / "work", tmp_path / "published", tmp_path / "train.log"
    command = rule_command(
        resources=SimpleNamespace(mpi="torchrun", tasks=1), input=SimpleNamespace(store=store),
        wildcards=SimpleNamespace(network=task), log=log, output=output,
        params=SimpleNamespace(work=work, epochs=RULE_EPOCHS, batch_size=BATCH, learning_rate=1e-3, patience=1000,
                               seed=0, task=task))
    assert "python -m surrogate train" in command and f"{output}.part {output}" in command
    env = dict(ENV, PATH=f"{Path(sys.executable).parent}:{ENV['PATH']}")   # torchrun of this venv
    proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env)
    try:
        hit = wait_for(log, r"epoch \d+ step (\d+) ", proc)    # the default log_every: step 50
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1, children
        os.kill(int(children[0]), signal.SIGTERM)              # the launcher (torchrun) passes it on
        rc = proc.wait(timeout=120)
    finally:
        proc.kill()
    text = log.read_text()
    assert rc != 0, text[-3000:]
    assert not output.exists() and not Path(f"{output}.part").exists(), "an unfinished network was published"
    step = ckpt(work / task / "checkpoint.pt")["progress"]["step"]
    assert int(hit.group(1)) <= step < RULE_EPOCHS * 25
    assert f"train: stopped by SIGTERM at step {step} " in text

    rc = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, timeout=400).returncode
    text = log.read_text()
    assert rc == 0, text[-3000:]
    first = int(re.search(r"epoch \d+ step (\d+) ", text).group(1))
    assert first == (step // 50 + 1) * 50 > 50, "the rerun resumed from the checkpoint, not from step 0"
    final = ckpt(output / "checkpoint.pt")
    assert final["progress"]["step"] == RULE_EPOCHS * 25 and final["progress"]["epoch"] == RULE_EPOCHS
    assert len(final["progress"]["history"]) == RULE_EPOCHS and (output / "model.npz").is_file()
    # the published network carries the whole run's learning curve, across the stop (the report's curves)
    assert read_meta(output / "model.npz")["history"] == final["progress"]["history"]
    assert re.search(r'"stopped": "epochs"', text)


def test_resume_with_another_process_count_is_refused(store, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**LONG, "log_every": 1000}))
    args = [sys.executable, "-m", "surrogate", "train", "--store", str(store), "--task", "inverse_pointwise",
            "--out", str(tmp_path), "--config", str(config), "--epochs", "2", "--batch-size", "32"]
    cut = subprocess.run(args + ["--max-steps", "2"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert cut.returncode == UNFINISHED, cut.stderr
    assert len(stderr_lines(cut.stderr)) == 1 and "stopped at --max-steps 2 at step 2 " in cut.stderr
    path = tmp_path / "inverse_pointwise" / "checkpoint.pt"
    state = ckpt(path)
    assert state["world_size"] == 1 and state["progress"]["step"] == 2

    torch.save({**state, "world_size": 2}, path)
    before = path.read_bytes()
    proc = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert re.search(r"checkpoint \S+ was written by 2 processes; this run has 1: ", lines[0]), lines[0]
    assert path.read_bytes() == before and not (tmp_path / "inverse_pointwise" / "model.npz").exists()

    # a checkpoint from before the count was recorded: refused too (documented in surrogate.train._resume)
    torch.save({k: v for k, v in state.items() if k != "world_size"}, path)
    with pytest.raises(SurrogateInputError, match="records no process count.*this run has 1"):
        train(TrainConfig(task="inverse_pointwise", epochs=2, batch_size=32, **{**LONG, "hidden": (32, 32)}),
              store, tmp_path)

    # a checkpoint of another network shape (e.g. the defaults changed between the runs): refused too
    torch.save(state, path)
    with pytest.raises(SurrogateInputError, match="holds another network"):
        train(TrainConfig(task="inverse_pointwise", epochs=2, batch_size=32, **{**LONG, "hidden": (16, 16)}),
              store, tmp_path)
    assert not (tmp_path / "inverse_pointwise" / "model.npz").exists()
