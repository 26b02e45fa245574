"""The inverse estimator: one trained inverse network, or the mean of all of them, chosen on validation.

Candidates are each trained inverse network alone and, where more than one is
trained, the equal-weight mean of their estimates ("ensemble": networks that
err differently average to a lower variance). A network may have members: the
same task trained again with other seeds, in DIR/TASK.K/ beside DIR/TASK/
(K = 1, 2, ...; the workflow's train.members); its estimate is the mean of its
members' (a deep ensemble of seeds). `select` scores every candidate
on the validation split with the loss the networks were trained on (mean over
boundaries of the squared depth error divided by the variance of that
boundary's depth over the training models) and records the lowest in
DIR/inverse.json, with a digest of each network's model.npz; `evaluate` and
`invert` read that choice. The test split is never looked at.

The same record holds what the estimate's uncertainty and the invert guard
need, both from the store `select` reads: `uncertainty`, every candidate's
calibration of sigma on the validation split (surrogate.uncertainty), and
`feature_range`, the min/max of each network input over the training split's
stations (surrogate.guard.feature_flag).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surrogate.dataset import TRAIN, VALIDATION, Store, load_store
from surrogate.errors import SurrogateInputError
from surrogate.features import INVERSE_TASKS, boundary_depth, inverse_inputs, waveform_components
from surrogate.guard import feature_envelope
from surrogate.generate import write_text_atomic
from surrogate.inference import Trained, estimate_boundaries, find_model, load_trained
from surrogate.modelfile import NAME, read_meta
from surrogate import uncertainty

ENSEMBLE = "ensemble"
CHOICE_FILE = "inverse.json"
#: what `invert --network` and inverse.json may name
ESTIMATORS = (*INVERSE_TASKS, ENSEMBLE)


@dataclass(frozen=True)
class InverseEstimator:
    name: str                       #: an inverse task, or "ensemble"
    members: tuple[Trained, ...]    #: networks whose estimates are averaged (a task's seeds; all tasks' for the ensemble)

    @property
    def time(self) -> np.ndarray:
        return self.members[0].time

    @property
    def frequency(self) -> np.ndarray:
        return self.members[0].frequency

    def __call__(self, spectra: np.ndarray, velocity: np.ndarray, ground: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """(N, B, R) boundary elevations, m: the mean over tasks of the mean of each task's members'
        estimate_boundaries (every task weighs the same, however many seeds it has)."""
        by_task: dict[str, list[np.ndarray]] = {}
        for m in self.members:
            by_task.setdefault(m.spec.task, []).append(estimate_boundaries(m, spectra, velocity, ground, xy))
        return np.mean([np.mean(e, axis=0) for e in by_task.values()], axis=0)


def trained_inverse(model_dir: str | Path) -> dict[str, tuple[Path, ...]]:
    """model.npz of every member of every inverse task trained in model_dir, in INVERSE_TASKS order."""
    found = {}
    for task in INVERSE_TASKS:
        try:
            first = find_model(model_dir, (task,))
        except SurrogateInputError:
            continue
        found[task] = (first, *member_models(model_dir, task))
    if not found:
        raise SurrogateInputError(f"{model_dir}: holds no trained inverse network (run `train` first)")
    return found


def member_models(model_dir: str | Path, task: str) -> list[Path]:
    """model.npz of the task's extra members DIR/TASK.K/ (K = 1, 2, ...), in K order; each checked to be `task`."""
    out = []
    for folder in Path(model_dir).glob(f"{task}.*"):
        k = folder.name[len(task) + 1:]
        path = folder / NAME
        if not (k.isdigit() and int(k) > 0 and path.is_file()):
            continue
        if read_meta(path)["spec"]["task"] != task:
            raise SurrogateInputError(f"{path}: a member of {task} holds a network of task {read_meta(path)['spec']['task']}")
        out.append((int(k), path))
    return [path for _, path in sorted(out)]


def _member_names(paths: dict[str, tuple[Path, ...]]) -> dict[str, Path]:
    """{TASK or TASK.K: model.npz} of trained_inverse's output."""
    return {path.parent.name if i else task: path for task, members in paths.items()
            for i, path in enumerate(members)}


def _estimator(name: str, members: tuple[Trained, ...]) -> InverseEstimator:
    for m in members[1:]:
        if m.time.shape != members[0].time.shape or not np.allclose(m.time, members[0].time) \
                or not np.allclose(m.frequency, members[0].frequency):
            raise SurrogateInputError(f"the networks of {name} were trained on differently sampled records")
    return InverseEstimator(name, members)


def candidates(model_dir: str | Path) -> dict[str, InverseEstimator]:
    """Each trained inverse network, and their mean where there are two or more."""
    nets = {task: tuple(load_trained(p) for p in paths) for task, paths in trained_inverse(model_dir).items()}
    out = {task: _estimator(task, members) for task, members in nets.items()}
    if len(nets) > 1:
        out[ENSEMBLE] = _estimator(ENSEMBLE, tuple(m for members in nets.values() for m in members))
    return out


def candidate_estimates(found: dict[str, InverseEstimator], spectra: np.ndarray, velocity: np.ndarray,
                        ground: np.ndarray, xy: np.ndarray) -> dict[str, np.ndarray]:
    """Each candidate's (N, B, R) estimate; the ensemble's is the equal-weight mean of the tasks' estimates
    (each the mean of its members), not computed again."""
    out = {name: est(spectra, velocity, ground, xy) for name, est in found.items() if name != ENSEMBLE}
    if ENSEMBLE in found:
        out[ENSEMBLE] = np.mean([out[task] for task in dict.fromkeys(m.spec.task for m in found[ENSEMBLE].members)],
                                axis=0)
    return out


def network_spread(estimates: dict[str, np.ndarray]) -> np.ndarray:
    """(N, B, R) disagreement (std) of the trained inverse networks among candidate_estimates' output."""
    return uncertainty.spread([e for name, e in estimates.items() if name != ENSEMBLE])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def validation_loss(estimate: np.ndarray, store: Store, models: np.ndarray) -> float:
    """The training loss of elevation estimates (N, B, R) of `models`: standardised depth MSE."""
    train = store.models(TRAIN)
    depth = boundary_depth(store.ground_elevation[train], store.boundary_elevation[train])    # (N, R, B)
    variance = np.maximum(depth.reshape(-1, depth.shape[-1]).var(axis=0), 1e-12)
    error = estimate - store.boundary_elevation[models]
    return float(((error ** 2).mean(axis=(0, 2)) / variance).mean())


def select(store_path: str | Path, model_dir: str | Path) -> dict:
    """Score the candidates on the validation split; write model_dir/inverse.json; return its content."""
    store = load_store(store_path)
    val = store.models(VALIDATION)
    if len(val) == 0:
        raise SurrogateInputError(f"{store_path}: the validation split is empty (nothing to choose on)")
    estimates = candidate_estimates(candidates(model_dir), store.spectra[val], store.velocity[val],
                                    store.ground_elevation[val], store.station_xy)
    losses = {name: validation_loss(estimate, store, val) for name, estimate in estimates.items()}
    paths = _member_names(trained_inverse(model_dir))
    choice = min(losses, key=losses.get)
    spread = network_spread(estimates)
    truth = store.boundary_elevation[val]
    calibrations = {name: uncertainty.fit(estimate - truth, spread).to_dict() for name, estimate in estimates.items()}
    train = store.models(TRAIN)
    features = inverse_inputs(store.spectra[train], store.velocity[train], store.ground_elevation[train],
                              waveform_components(store.source))
    record = {"choice": choice, "validation_loss": losses,
              "uncertainty": {"method": uncertainty.METHOD, "coverage": uncertainty.COVERAGE,
                              "by_estimator": calibrations},
              "feature_range": feature_envelope(features),
              "networks": {name: {"path": str(p.relative_to(model_dir)), "sha256": _digest(p)}
                           for name, p in paths.items()}}
    write_text_atomic(Path(model_dir) / CHOICE_FILE, json.dumps(record, indent=2))
    return record


def chosen(model_dir: str | Path) -> str:
    """Name of the estimator `invert` uses by default: inverse.json's choice if `select` ran, else
    the single inverse network with the lowest validation loss; one line if inverse.json is stale."""
    record = selection(model_dir)
    if record is None:
        paths = trained_inverse(model_dir)
        return min(paths, key=lambda task: read_meta(paths[task][0])["best_val"])
    return record["choice"]


def calibration(record: dict | None, name: str) -> uncertainty.Calibration | None:
    """The sigma calibration of estimator `name` in a select record (None: no record, or one from before)."""
    try:
        return uncertainty.Calibration.from_dict(record["uncertainty"]["by_estimator"][name])
    except (TypeError, KeyError):
        return None


def selection(model_dir: str | Path) -> dict | None:
    """inverse.json's content, checked against the networks it chose among; None if `select` never ran."""
    record_path = Path(model_dir) / CHOICE_FILE
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
        _, networks = record["choice"], record["networks"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SurrogateInputError(f"{record_path}: not an inverse choice written by `select` ({exc})") from None
    held = _member_names(trained_inverse(model_dir))
    if set(networks) != set(held):
        raise SurrogateInputError(f"{record_path}: chose among {', '.join(networks)}, the folder now holds "
                                  f"{', '.join(held)}; run `python -m surrogate select` again")
    for task, net in networks.items():
        path = Path(model_dir) / net["path"]
        if not path.is_file() or _digest(path) != net["sha256"]:
            raise SurrogateInputError(f"{record_path}: {task} was retrained or removed since `select` ran; "
                                      "run `python -m surrogate select` again")
    return record


def load_inverse(model_dir: str | Path, name: str | None = None) -> InverseEstimator:
    """The named estimator (a task or "ensemble"), or the chosen one (see `chosen`) when name is None."""
    name = name or chosen(model_dir)
    if name not in ESTIMATORS:
        raise SurrogateInputError(f"unknown inverse estimator '{name}'; choose one of {', '.join(ESTIMATORS)}")
    paths = trained_inverse(model_dir)
    if name == ENSEMBLE:
        if len(paths) < 2:
            raise SurrogateInputError(f"{model_dir}: an ensemble needs two trained inverse networks, "
                                      f"it holds {', '.join(paths)}")
        return _estimator(name, tuple(load_trained(p) for members in paths.values() for p in members))
    if name not in paths:
        raise SurrogateInputError(f"{model_dir}: holds no trained {name} network (run `train` first)")
    return _estimator(name, tuple(load_trained(p) for p in paths[name]))
