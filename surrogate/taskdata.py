"""Arrays for one task and one split, standardised with statistics of the training split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surrogate.dataset import TEST, TRAIN, VALIDATION, Store
from surrogate.errors import SurrogateInputError
from surrogate.features import (TASKS, boundary_depth, forward_inputs, forward_spatial_inputs, forward_spatial_targets,
                                inverse_components, inverse_inputs, to_grid)
from surrogate.normalise import Normaliser, standardise


@dataclass(frozen=True)
class TaskArrays:
    inputs: np.ndarray    #: (N, C) or (N, C, ny, nx) float64 physical inputs
    targets: np.ndarray   #: (N, K) or (N, K, ny, nx) float64 physical targets


def task_arrays(store: Store, task: str, models: np.ndarray) -> TaskArrays:
    """Samples of `task` from the given ground models (see surrogate.features for what they are)."""
    if task not in TASKS:
        raise SurrogateInputError(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")
    g, b = store.ground_elevation[models], store.boundary_elevation[models]
    if task == "forward":
        x = forward_inputs(g, b, store.layers[models])
        y = store.velocity[models].reshape(len(models), g.shape[1], -1).astype(np.float64)
        return TaskArrays(x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1]))
    if task == "forward_spatial":
        _need_grid(store, task)
        return TaskArrays(forward_spatial_inputs(g, b, store.layers[models], store.station_xy, store.grid),
                          forward_spatial_targets(store.velocity[models].astype(np.float64), store.grid))
    x = inverse_inputs(store.spectra[models], store.velocity[models], g, inverse_components(task, store.source))
    y = boundary_depth(g, b)
    if task == "inverse_spatial":
        _need_grid(store, task)
        return TaskArrays(to_grid(x, store.grid), to_grid(y, store.grid))
    return TaskArrays(x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1]))


def _need_grid(store: Store, task: str) -> None:
    if store.grid[0] * store.grid[1] == 0:
        raise SurrogateInputError(f"{task} needs a receiver grid in the scenarios")


def component_rms(targets: np.ndarray) -> Normaliser:
    """Zero mean and one RMS per velocity component for forward_spatial targets (N, 3T, ny, nx)."""
    by_component = targets.reshape(targets.shape[0], 3, -1, *targets.shape[-2:])
    rms = np.sqrt(np.mean(by_component**2, axis=(0, 2, 3, 4)))
    rms = np.where(rms > 0, rms, 1.0)
    return Normaliser(np.zeros(targets.shape[1]), np.repeat(rms, targets.shape[1] // 3))


@dataclass(frozen=True)
class Prepared:
    train: TaskArrays        #: standardised training samples
    validation: TaskArrays   #: standardised validation samples
    input_norm: Normaliser   #: over input features/channels, from train
    target_norm: Normaliser  #: over target values/channels, from train


def _channels_last(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]) if a.ndim == 4 else a


def prepare(store: Store, task: str) -> Prepared:
    """Standardised train and validation arrays; statistics from the training models only."""
    train, val = task_arrays(store, task, store.models(TRAIN)), task_arrays(store, task, store.models(VALIDATION))
    input_norm = Normaliser.fit(_channels_last(train.inputs))
    if task == "forward_spatial":   # one scale per component: the cross components weigh as much as the driven one
        target_norm = component_rms(train.targets)
    else:   # waveforms: one scale for every sample, so the loss is a relative misfit and quiet components stay quiet
        target_norm = Normaliser.fit(_channels_last(train.targets), scalar=(task == "forward"))
    std = lambda arr: TaskArrays(standardise(arr.inputs, input_norm), standardise(arr.targets, target_norm))
    return Prepared(std(train), std(val), input_norm, target_norm)


__all__ = ["TaskArrays", "Prepared", "task_arrays", "prepare", "TEST"]
