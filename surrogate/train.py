"""One training script for one process or many (torchrun, srun, mpiexec): DDP, resumable.

    python -m surrogate train --store S.h5 --task inverse_pointwise --out results/surrogate
    torchrun --standalone --nproc_per_node=2 -m surrogate train ...

`batch_size` is the global batch: each of W processes takes batch_size / W
samples per step from a DistributedSampler, and DDP averages the gradients,
so W processes take exactly the steps one process would (up to round-off).
Output folder `OUT/<task>/`: `checkpoint.pt` (everything to resume: model,
optimizer, scheduler, epoch, batch within the epoch, step, early-stopping
state, RNG states, normalisation, config) and `model.npz` (the best network by
validation loss, with what inference needs: surrogate.modelfile, and the training
split's ranges that predict's guard checks: surrogate.guard). A job that
finds `checkpoint.pt` resumes from it; SIGTERM (Slurm's preemption signal) or
`max_steps` makes it write the checkpoint and leave.

The grid networks' samples (`forward_spatial`, `inverse_spatial`) are mirrored at random
(surrogate.mirror; `mirror`):
each sample of a global batch flips x and y with probability 1/2 each, drawn
from a generator seeded by (seed, step) and dealt by the sample's place in the
global batch, so W processes flip what one process flips and a resumed job
flips what an uninterrupted one does.

Forward networks (`forward`, `forward_spatial`) leave with a calibrated standard
deviation of their traces (`fit_trace_std`): whenever model.npz is written, the
network being saved predicts the whole validation split (float32, no autocast:
as `predict` runs it), and from the residuals pred - truth in m/s per validation
station trace (N, 3, T)

    sigma(c, t) = k_c * rms(c, t)

rms(c, t): the RMS of the residual at component c and time sample t over the
validation traces; k_c: the smallest factor such that 95 % of the validation
samples (station, t) of component c lie within +-2 sigma. The arrays go into
model.npz's optional `trace_std/...` entries, the numbers into meta["trace_std"]
(surrogate.modelfile). Under DDP only rank 0 writes model.npz, so only rank 0
computes it, with the unwrapped network (no collective calls) on all the
validation data every rank holds.
"""
from __future__ import annotations

import math
import random
import signal
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from surrogate import distributed
from surrogate.checkpoint import load, restore_rng_states, rng_states, save_atomic
from surrogate.dataset import load_store
from surrogate.errors import SurrogateInputError
from surrogate.features import FORWARD_TASKS, from_grid
from surrogate.guard import RANGES_KEY, training_ranges
from surrogate.mirror import TASKS as MIRROR_TASKS, Mirrors, random_mirrors, store_mirrors
from surrogate.modelfile import NAME as MODEL_FILE, ModelFile, read_model, write_model
from surrogate.nets import NetworkSpec, build_network
from surrogate.normalise import revert
from surrogate.taskdata import prepare


@dataclass(frozen=True)
class TrainConfig:
    task: str = "inverse_pointwise"     #: one of surrogate.features.TASKS
    epochs: int = 200                   #: upper bound; early stopping usually ends sooner
    batch_size: int = 256               #: global batch (all processes together), samples
    lr: float = 2e-3                    #: peak AdamW learning rate, cosine-annealed per step
    weight_decay: float = 1e-5          #: AdamW weight decay
    patience: int = 25                  #: epochs without validation improvement before stopping
    hidden: tuple[int, ...] = (256, 256, 256)   #: MLP widths
    width: int = 32                     #: U-Net base channels
    levels: int = 2                     #: U-Net levels
    #: U-Net: hidden widths of the per-station lift before it; None: the task's (TASK_LIFT)
    lift: tuple[int, ...] | None = None
    seed: int = 0                       #: seeds initialisation and the sampler's shuffles
    log_every: int = 50                 #: steps between progress lines (rank 0)
    checkpoint_every: int = 200         #: steps between checkpoints (also at every epoch end)
    max_steps: int = 0                  #: stop (checkpointed) after this global step; 0: no limit
    mirror: bool = True                 #: grid networks: random mirror flips of the training samples
    #: inverse tasks: "standardised" (each boundary's squared error over its depth variance) or "metres"
    #: (every boundary's squared error in m^2, scaled by the mean variance); None: the task's (TASK_LOSS)
    loss: str | None = None


#: the per-station lift of each U-Net task unless the config sets one. inverse_spatial's stations carry
#: 3F + 3T + 1 = 400 channels (spectra, waveforms, ground) that one 1 x 1 layer of 32 compressed linearly;
#: a hidden layer of 256 lowered its validation loss from 0.033 to 0.028 and raised the 3D benchmark's
#: test score from 92.3 to 93.0 % (benchmarks/README.md). forward_spatial's 25 input maps need none.
TASK_LIFT = {"inverse_spatial": (256,), "forward_spatial": ()}

#: how the loss weighs the target channels unless the config says (TrainConfig.loss). The +-2 m score counts
#: metres on every boundary alike; the standardised loss weighs the shallow boundary, whose depth varies least,
#: most per metre (2.5x on the 3D benchmark), where the deeper one has the most misses.
LOSSES = ("standardised", "metres")
TASK_LOSS = {"inverse_spatial": "metres"}


@dataclass
class Progress:
    epoch: int = 0                      #: current epoch
    batch: int = 0                      #: batches of this epoch already taken
    step: int = 0                       #: optimizer steps taken in total
    best_val: float = math.inf          #: lowest validation loss so far (standardised MSE)
    since_best: int = 0                 #: epochs since it improved
    history: list = field(default_factory=list)   #: per-epoch {epoch, step, train_loss, val_loss}


class _Sigterm:
    """Remembers a SIGTERM so the loop can checkpoint at the next step boundary.

    The run then returns stopped == "signal" (on every rank, whichever rank was signalled), and
    `python -m surrogate train` exits with surrogate.cli.UNFINISHED, not 0: the network in OUT/TASK/
    is not final, and the next run with the same OUT resumes from the checkpoint."""

    def __init__(self):
        self.received = False
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, *_):
        self.received = True


def train(config: TrainConfig, store_path: str | Path, out_dir: str | Path) -> dict:
    """Train one task; return a summary {task, stopped, step, epoch, best_val, model}."""
    placement = distributed.read_placement()
    distributed.start(placement)
    try:
        return _train(config, store_path, Path(out_dir) / config.task, placement)
    finally:
        distributed.stop()


def _train(cfg: TrainConfig, store_path, out: Path, placement) -> dict:
    random.seed(cfg.seed), np.random.seed(cfg.seed), torch.manual_seed(cfg.seed)
    store = load_store(store_path)
    data = prepare(store, cfg.task)
    world, dev = placement.world_size, placement.device
    n_train = data.train.inputs.shape[0]
    batch = min(cfg.batch_size, n_train) // world * world
    if batch == 0:
        raise SurrogateInputError(f"train: {n_train} training samples cannot feed {world} processes")
    steps_per_epoch = n_train // batch
    spec = NetworkSpec(cfg.task, data.train.inputs.shape[1], data.train.targets.shape[1],
                       tuple(cfg.hidden), cfg.width, cfg.levels,
                       tuple(TASK_LIFT.get(cfg.task, ()) if cfg.lift is None else cfg.lift))
    net = build_network(spec).to(dev)
    model = DistributedDataParallel(net, device_ids=[dev] if dev.type == "cuda" else None) if world > 1 else net
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * steps_per_epoch)
    progress = Progress()
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.is_file():
        progress = _resume(load(ckpt_path), net, spec, optimizer, scheduler, cfg)
    x_train, y_train = torch.from_numpy(data.train.inputs), torch.from_numpy(data.train.targets)
    weight = loss_weight(cfg, data.target_norm, y_train.ndim).to(dev)
    mirrors = _mirrors(cfg, store, data)
    sampler = DistributedSampler(range(n_train), num_replicas=world, rank=placement.rank, shuffle=True,
                                 seed=cfg.seed, drop_last=True)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else nullcontext()
    sigterm, local = _Sigterm(), batch // world
    ranges = training_ranges(store_path)
    bundle = lambda: _bundle(net, spec, cfg, data, store, progress, ranges)
    save = lambda: placement.is_root and save_atomic(_checkpoint(net, spec, optimizer, scheduler, progress, cfg, data),
                                                     ckpt_path)
    clock, seen, stopped = time.perf_counter(), 0, "epochs"
    while progress.epoch < cfg.epochs:
        sampler.set_epoch(progress.epoch)
        order = torch.tensor(list(sampler))
        model.train()
        losses = []
        while progress.batch < steps_per_epoch:
            idx = order[progress.batch * local:(progress.batch + 1) * local]
            x, y = x_train[idx], y_train[idx]
            if mirrors is not None:   # the sampler deals global batch place rank + world * j to this rank's j
                flips = np.random.default_rng([cfg.seed, progress.step]).random((batch, 2)) < 0.5
                x, y = map(torch.from_numpy, random_mirrors(x.numpy(), y.numpy(), flips[placement.rank::world],
                                                            mirrors))
            with autocast:
                loss = torch.mean(weight * (model(x.to(dev)).float() - y.to(dev)) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            progress.batch, progress.step, seen = progress.batch + 1, progress.step + 1, seen + batch
            losses.append(loss.item())
            if placement.is_root and progress.step % cfg.log_every == 0:
                _report(progress, cfg, steps_per_epoch, loss.item(), seen, time.perf_counter() - clock)
            halt = _agree(sigterm.received or (cfg.max_steps and progress.step >= cfg.max_steps), dev)
            if halt or progress.step % cfg.checkpoint_every == 0:
                save()
            if halt:   # the reason, agreed too: a rank that was not signalled must not report "max_steps"
                signalled = _agree(sigterm.received, dev)
                distributed.barrier()
                return _summary(cfg, "signal" if signalled else "max_steps", progress, out)
        val = _validation_loss(model, data.validation, placement, autocast, weight)
        progress.history.append({"epoch": progress.epoch, "step": progress.step,
                                 "train_loss": float(np.mean(losses)) if losses else None, "val_loss": val})
        progress.epoch, progress.batch = progress.epoch + 1, 0
        if val < progress.best_val:
            progress.best_val, progress.since_best = val, 0
            if placement.is_root:
                write_model(out / MODEL_FILE, bundle())
        else:
            progress.since_best += 1
        save()
        if progress.since_best >= cfg.patience:
            stopped = "early_stopping"
            break
    if placement.is_root:
        if (out / MODEL_FILE).is_file():   # the best epoch's network, with the whole run's learning curve
            best = read_model(out / MODEL_FILE)
            best.meta["history"] = progress.history
            write_model(out / MODEL_FILE, best)
        else:
            write_model(out / MODEL_FILE, bundle())
    distributed.barrier()
    return _summary(cfg, stopped, progress, out)


def _mirrors(cfg: TrainConfig, store, data) -> Mirrors | None:
    """The mirrors acting on the task's standardised training samples, or None (no augmentation)."""
    if cfg.task not in MIRROR_TASKS or not cfg.mirror:
        return None
    mirrors = store_mirrors(store.source, store.station_xy, store.grid, store.time.shape[0], cfg.task,
                            store.frequency.shape[0])
    return mirrors.standardised(data.input_norm.mean, data.input_norm.std) if cfg.task == "inverse_spatial" else mirrors


def _agree(flag, dev) -> bool:
    """True on every rank if any rank wants to stop (ranks may see SIGTERM at different steps)."""
    return bool(distributed.all_sum(torch.tensor([1.0 if flag else 0.0], device=dev)).item() > 0)


def loss_weight(cfg: TrainConfig, target_norm, ndim: int) -> torch.Tensor:
    """Per-channel weight of the standardised squared error, shaped to broadcast over (N, C, ...) targets.

    "metres" (inverse tasks) weighs each boundary's error by its depth variance over the mean variance:
    the loss is then the squared error in m^2 (over a constant), as the +-2 m score counts it, instead of
    favouring the boundary whose depth varies least."""
    kind = cfg.loss or TASK_LOSS.get(cfg.task, "standardised")
    if kind not in LOSSES:
        raise SurrogateInputError(f"train: unknown loss '{kind}'; choose one of {', '.join(LOSSES)}")
    std = np.asarray(target_norm.std, dtype=np.float64).reshape(-1)
    if kind == "standardised" or cfg.task not in ("inverse_pointwise", "inverse_spatial"):
        if kind == "metres":
            raise SurrogateInputError(f"train: loss 'metres' is for the inverse tasks, not {cfg.task}")
        return torch.ones(())
    w = std ** 2 / np.mean(std ** 2)
    return torch.tensor(w, dtype=torch.float32).reshape(1, -1, *([1] * (ndim - 2)))


def _validation_loss(model, val, placement, autocast, weight) -> float:
    """Mean (weighted: loss_weight) squared error over the whole validation split, shared across ranks."""
    model.eval()
    mine = np.array_split(np.arange(val.inputs.shape[0]), placement.world_size)[placement.rank]
    dev = placement.device
    total = torch.zeros(2, dtype=torch.float64, device=dev)
    with torch.no_grad():
        for chunk in np.array_split(mine, max(1, len(mine) // 4096)):
            if len(chunk):
                with autocast:
                    pred = model(torch.from_numpy(val.inputs[chunk]).to(dev)).float()
                err = weight * (pred - torch.from_numpy(val.targets[chunk]).to(dev)) ** 2
                total += torch.stack([err.sum().double(), torch.tensor(err.numel(), dtype=torch.float64, device=dev)])
    total = distributed.all_sum(total)
    return float(total[0] / total[1])


def _report(progress, cfg, steps_per_epoch, loss, seen, elapsed) -> None:
    rate = seen / max(elapsed, 1e-9)
    left = (cfg.epochs * steps_per_epoch - progress.step) * (seen / max(progress.step, 1)) / rate
    print(f"epoch {progress.epoch} step {progress.step} loss {loss:.4g} {rate:.0f} samples/s "
          f"ETA {left / 60:.1f} min (at most; early stopping ends sooner)", flush=True)


def _checkpoint(net, spec, optimizer, scheduler, progress, cfg, data) -> dict:
    return {"model": net.state_dict(), "spec": spec.to_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "progress": asdict(progress), "rng": rng_states(), "config": asdict(cfg),
            "input_norm": data.input_norm.to_dict(), "target_norm": data.target_norm.to_dict(),
            "world_size": _world_size()}


def _world_size() -> int:
    """The number of processes of this run (the launcher's variables: surrogate.distributed)."""
    return distributed.read_placement().world_size


def _resume(ckpt, net, spec, optimizer, scheduler, cfg) -> Progress:
    """Progress of the checkpoint, its state loaded into net, optimizer, scheduler and the RNGs.

    Only a run with as many processes as wrote the checkpoint resumes (its batch rounding, sampler
    shards and per-rank random streams depend on the count); another count is refused with one line,
    and so is a checkpoint that records no count (written before checkpoints recorded it)."""
    if ckpt["config"]["task"] != cfg.task:
        raise SurrogateInputError(f"checkpoint is for task {ckpt['config']['task']}, not {cfg.task}")
    if "spec" in ckpt and NetworkSpec.from_dict(ckpt["spec"]) != spec:
        raise SurrogateInputError(f"checkpoint {cfg.task}/checkpoint.pt holds another network "
                                  f"({ckpt['spec']}, this run builds {spec.to_dict()}): delete it to start afresh")
    written, world = ckpt.get("world_size"), _world_size()
    if written != world:
        by = f"was written by {written} processes" if written else "records no process count (an older one)"
        raise SurrogateInputError(f"checkpoint {cfg.task}/checkpoint.pt {by}; this run has {world}: resume it "
                                  f"with {written or 'the same number of'} processes, or delete it to start afresh")
    net.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    restore_rng_states(ckpt["rng"])
    return Progress(**ckpt["progress"])


def _bundle(net, spec, cfg, data, store, progress, ranges) -> ModelFile:
    """What inference needs: weights, network spec, normalisation, the store's acquisition and training ranges."""
    meta = {"spec": spec.to_dict(), "config": asdict(cfg), "grid": list(store.grid), "source": store.source,
            "n_boundaries": int(store.boundary_elevation.shape[1]), "best_val": progress.best_val,
            "step": progress.step, "epoch": progress.epoch, RANGES_KEY: ranges,
            "history": progress.history}   # per-epoch losses (the report's training curves)
    arrays = {"frequency": store.frequency, "time": store.time, "station_xy": store.station_xy,
              "input_norm/mean": data.input_norm.mean, "input_norm/std": data.input_norm.std,
              "target_norm/mean": data.target_norm.mean, "target_norm/std": data.target_norm.std}
    weights = {k: v.detach().cpu().float().numpy() for k, v in net.state_dict().items()}
    optional = {}
    residual = validation_residuals(net, data, spec.task) if spec.task in FORWARD_TASKS else None
    if residual is not None and residual.shape[0]:
        optional, meta["trace_std"] = fit_trace_std(residual)
    return ModelFile(meta, arrays, weights, optional)


#: share of validation samples within +-2 sigma that the trace std is calibrated to
TRACE_COVERAGE = 0.95
TRACE_METHOD = ("sigma(c, t) = k_c * rms(c, t), m/s; rms: RMS over the validation station traces of pred - truth "
                "at component c, time sample t; k_c: +-2 sigma covers 95 % of component c's validation samples")


def fit_trace_std(residual: np.ndarray, coverage: float = TRACE_COVERAGE) -> tuple[dict[str, np.ndarray], dict]:
    """Calibrated trace std from validation residuals pred - truth (N, 3, T), m/s.

    Returns the optional model arrays {trace_std/sigma, trace_std/rms} (3, T) m/s and the
    calibration numbers for meta. rms(c, t) is floored at 1e-3 of the component's overall
    RMS (and 1e-30 m/s), so that sigma is positive wherever the validation residual happens
    to vanish; k_c is the `coverage` quantile of |residual| / (2 rms) over component c."""
    r = np.asarray(residual, dtype=np.float64)
    if r.ndim != 3 or r.shape[1] != 3 or r.shape[0] == 0:
        raise ValueError(f"fit_trace_std: want residuals (N > 0, 3, T), got {r.shape}")
    overall = np.sqrt(np.mean(r**2, axis=(0, 2)))                          # (3,)
    rms = np.maximum(np.sqrt(np.mean(r**2, axis=0)), np.maximum(1e-3 * overall, 1e-30)[:, None])
    ratio = np.abs(r) / (2 * rms)                                          # (N, 3, T)
    k = np.array([max(float(np.quantile(ratio[:, c].ravel(), coverage, method="higher")), 1e-3)
                  for c in range(3)])
    sigma = k[:, None] * rms
    within = (np.abs(r) <= 2 * sigma).mean(axis=(0, 2))
    meta = {"method": TRACE_METHOD, "coverage_target": coverage, "k": k.tolist(),
            "within_2sigma_validation": within.tolist(), "n_validation_traces": int(r.shape[0]),
            "components": ["x", "y", "z"]}
    return {"trace_std/sigma": sigma, "trace_std/rms": rms}, meta


def validation_residuals(net, data, task: str, chunk: int = 0) -> np.ndarray | None:
    """(N, 3, T) pred - truth in m/s of every validation station trace (forward_spatial: the grid
    stations of every validation model), with the unwrapped network in float32 as `predict` runs it;
    None without validation samples. Restores the network's train/eval mode."""
    val = data.validation
    n = val.inputs.shape[0]
    if n == 0:
        return None
    chunk = chunk or (4096 if task == "forward" else 16)
    dev = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            pred = np.concatenate([net(torch.from_numpy(val.inputs[i:i + chunk]).to(dev)).float().cpu().numpy()
                                   for i in range(0, n, chunk)])
    finally:
        net.train(was_training)
    res = revert(pred, data.target_norm) - revert(val.targets, data.target_norm)
    if task == "forward_spatial":
        res = from_grid(res)                                               # (N, ny*nx, 3T)
    return res.reshape(-1, 3, res.shape[-1] // 3)


def _summary(cfg, stopped, progress, out) -> dict:
    return {"task": cfg.task, "stopped": stopped, "step": progress.step, "epoch": progress.epoch,
            "best_val": progress.best_val if math.isfinite(progress.best_val) else None,
            "model": str(out / MODEL_FILE) if (out / MODEL_FILE).is_file() else None}
