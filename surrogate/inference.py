"""Trained networks applied to new inputs: the forward surrogate and the structure estimate.

A model folder is what `train` writes: `DIR/<task>/model.npz` for each trained
task (DIR may also be one task's folder itself). The MLPs (point-wise inverse,
forward) are evaluated in numpy; torch is imported only for the U-Nets
(inverse_spatial, forward_spatial) and for gradients through a network
(surrogate.optimise), so `predict` with the point-wise forward network never loads it.

Forward networks trained with a calibrated trace std (surrogate.train
`fit_trace_std`, model.npz's optional `trace_std/sigma`) carry it as
`Trained.trace_std` (3, T) m/s; `predict_velocity_std` gives it per station
(None for networks without it).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from surrogate import modelfile
from surrogate.errors import SurrogateInputError
from surrogate.guard import RANGES_KEY
from surrogate.mirror import mirror_inputs, mirror_targets, store_mirrors
from surrogate.features import (forward_inputs, forward_spatial_inputs, from_grid, inverse_components, inverse_inputs,
                                to_grid)
from surrogate.nets import MLP_TASKS, NetworkSpec, build_network
from surrogate.nets.mlp_numpy import linear_layers, mlp_forward
from surrogate.normalise import Normaliser, revert, standardise


@dataclass(frozen=True)
class Trained:
    weights: dict[str, np.ndarray]   #: the network's state dict, float32 arrays
    spec: NetworkSpec            #: task and sizes
    input_norm: Normaliser       #: from the training split
    target_norm: Normaliser      #: from the training split
    frequency: np.ndarray        #: (F,) Hz of the spectra it reads
    time: np.ndarray             #: (T,) s of the waveforms it reads or writes
    station_xy: np.ndarray       #: (R, 2) m, the training stations
    grid: tuple[int, int]        #: (nx, ny) of the training receiver grid
    source: str                  #: YAML of the source it was trained for
    ranges: dict | None = None   #: the training split's ranges (surrogate.guard); None: trained before they were kept
    trace_std: np.ndarray | None = None   #: (3, T) m/s calibrated std of a forward network's traces; None: not kept

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Physical outputs for physical inputs (N, C) or (N, C, ny, nx)."""
        z = standardise(x, self.input_norm)
        if self.spec.task in MLP_TASKS:
            out = mlp_forward(self._layers, z)
        else:
            import torch
            with torch.no_grad():
                out = self.net(torch.from_numpy(z)).numpy()
        return revert(out, self.target_norm)

    @cached_property
    def _layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return linear_layers(self.weights)

    @cached_property
    def net(self):
        """The torch module with these weights, in eval mode on the CPU (imports torch)."""
        import torch
        net = build_network(self.spec)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in self.weights.items()})
        return net.eval()


def load_trained(path: str | Path) -> Trained:
    m = modelfile.read_model(path)
    a, meta = m.arrays, m.meta
    return Trained(m.weights, NetworkSpec.from_dict(meta["spec"]),
                   Normaliser(a["input_norm/mean"], a["input_norm/std"]),
                   Normaliser(a["target_norm/mean"], a["target_norm/std"]),
                   a["frequency"], a["time"], a["station_xy"], tuple(meta["grid"]), meta["source"],
                   meta.get(RANGES_KEY), _trace_std(m, path))


def _trace_std(m: modelfile.ModelFile, path) -> np.ndarray | None:
    """The optional (3, T) trace std, checked; None where the file has none."""
    sigma = m.optional.get("trace_std/sigma")
    if sigma is None:
        return None
    n_t = m.arrays["time"].shape[0]
    if sigma.shape != (3, n_t) or not np.all(np.isfinite(sigma)) or not np.all(sigma > 0):
        raise SurrogateInputError(f"{path}: trace_std/sigma must be (3, {n_t}) finite and positive, "
                                  f"got shape {sigma.shape}")
    return sigma.astype(np.float64)


def find_model(model_dir: str | Path, tasks: tuple[str, ...]) -> Path:
    """model.npz of the first of `tasks` trained in model_dir (or model_dir itself if it is a task folder)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise SurrogateInputError(f"model folder not found: {model_dir}")
    for task in tasks:
        for candidate in (model_dir / task / modelfile.NAME, model_dir / modelfile.NAME):
            if candidate.is_file() and (candidate.parent.name == task
                                        or modelfile.read_meta(candidate)["spec"]["task"] == task):
                return candidate
    if any(model_dir.glob("model.pt")) or any(model_dir.glob("*/model.pt")):
        raise SurrogateInputError(f"{model_dir}: holds networks in the old torch format (model.pt); "
                                  f"retrain them (`train` writes {modelfile.NAME})")
    raise SurrogateInputError(f"{model_dir}: holds no trained {' or '.join(tasks)} network (run `train` first)")


def predict_velocity(model: Trained, ground: np.ndarray, boundary: np.ndarray, layers: np.ndarray,
                     xy: np.ndarray | None = None) -> np.ndarray:
    """(R, 3, T) float32 station velocity, m/s, from ground (R,), boundaries (B, R) m, layers (L, 4).

    The spatial network (forward_spatial) needs the stations xy (R, 2), the training
    grid first; stations off that grid get the grid's records interpolated
    (linear, nearest beyond the outer stations), as for the spatial inverse.
    """
    if model.spec.task == "forward":
        out = model(forward_inputs(ground, boundary, layers))
        return out.reshape(ground.shape[0], 3, -1).astype(np.float32)
    nx, ny = model.grid
    if xy is None or xy.shape[0] < nx * ny or not np.allclose(xy[: nx * ny], model.station_xy[: nx * ny], atol=1e-6):
        raise SurrogateInputError(f"the spatial forward network needs the training grid of {nx}x{ny} stations first")
    grid_v = model(forward_spatial_inputs(ground[None], boundary[None], layers[None], model.station_xy, model.grid))
    v = np.concatenate([from_grid(grid_v), _off_grid(grid_v, model, xy[nx * ny:])], axis=1)[0]
    return v.reshape(ground.shape[0], 3, -1).astype(np.float32)


def predict_velocity_std(model: Trained, n_stations: int) -> np.ndarray | None:
    """(R, 3, T) float32 calibrated std, m/s, of `predict_velocity`'s traces at n_stations stations;
    None for a network trained without it. One sigma per component and time sample (surrogate.train
    `fit_trace_std`): the same at every station."""
    if model.trace_std is None:
        return None
    return np.broadcast_to(model.trace_std, (n_stations, *model.trace_std.shape)).astype(np.float32)


def estimate_boundaries(model: Trained, spectra: np.ndarray, velocity: np.ndarray, ground: np.ndarray,
                        xy: np.ndarray) -> np.ndarray:
    """(N, B, R) boundary elevations, m, at stations xy (R, 2), from their records.

    spectra (N, R, 3, F) log amplitude, velocity (N, R, 3, T) m/s on the model's
    time grid, ground (N, R) m.

    The spatial network estimates the training grid; stations off that grid
    get the grid estimate interpolated (linear, nearest beyond the outer stations).
    """
    x = inverse_inputs(spectra, velocity, ground, inverse_components(model.spec.task, model.source))
    if x.shape[-1] != model.spec.n_inputs:
        raise SurrogateInputError(f"the {model.spec.task} network reads {model.spec.n_inputs} features per station, "
                                  f"these records give {x.shape[-1]} (other sampling, or a network trained before "
                                  "the inverse inputs held waveforms: retrain it)")
    if model.spec.task == "inverse_pointwise":
        depth = model(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)
    else:
        nx, ny = model.grid
        if xy.shape[0] < nx * ny or not np.allclose(xy[: nx * ny], model.station_xy[: nx * ny], atol=1e-6):
            raise SurrogateInputError(f"the spatial network needs the training grid of {nx}x{ny} stations first")
        grid_depth = mirror_mean(model, to_grid(x, model.grid))          # (N, B, ny, nx)
        depth = np.concatenate([from_grid(grid_depth), _off_grid(grid_depth, model, xy[nx * ny:])], axis=1)
    return ground[:, None, :] - np.swapaxes(depth, 1, 2)


def mirror_mean(model: Trained, grid_inputs: np.ndarray) -> np.ndarray:
    """The spatial inverse's (N, B, ny, nx) depths averaged over the four mirror images of the records.

    Under a vertically incident plane wave the records of the mirrored ground
    (surrogate.mirror) are the mirrored records with sign changes; the network
    estimates each image, the estimate is mirrored back and the four are averaged
    (the network is not mirror-equivariant by construction, so this is an ensemble
    of four views). Where the mirrors do not hold (point source, a grid not
    symmetric about its centre) it is the plain estimate.
    """
    views = mirror_views(model, grid_inputs)
    return np.mean(list(views.values()), axis=0) if views else model(grid_inputs)


def mirror_views(model: Trained, grid_inputs: np.ndarray) -> dict[str, np.ndarray]:
    """The spatial inverse's (N, B, ny, nx) estimate of each mirror image of the records, mirrored back,
    by the axes mirrored ("" the plain estimate, "x", "y", "xy"); {} where the mirrors do not hold."""
    try:
        mirrors = store_mirrors(model.source, model.station_xy, model.grid, model.time.shape[0], model.spec.task,
                                model.frequency.shape[0])
    except SurrogateInputError:
        return {}
    views = {}
    for axes in ("", "x", "y", "xy"):
        x = grid_inputs
        for axis in axes:
            x = mirror_inputs(x, axis, mirrors)
        depth = model(x)
        for axis in axes:
            depth = mirror_targets(depth, axis, mirrors)
        views[axes] = depth
    return views


def _off_grid(grid_depth: np.ndarray, model: Trained, xy: np.ndarray) -> np.ndarray:
    """(N, P, C) grid values (N, C, ny, nx) interpolated to stations xy (P, 2)."""
    nx, ny = model.grid
    if not len(xy):
        return np.zeros((grid_depth.shape[0], 0, grid_depth.shape[1]))
    gx, gy = model.station_xy[:nx, 0], model.station_xy[: nx * ny: nx, 1]
    q = np.stack([np.clip(xy[:, 1], gy[0], gy[-1]), np.clip(xy[:, 0], gx[0], gx[-1])], axis=1)
    from scipy.interpolate import RegularGridInterpolator      # off-grid stations only: not on predict's path
    values = np.moveaxis(grid_depth, 1, -1)                              # (N, ny, nx, B)
    return np.stack([RegularGridInterpolator((gy, gx), v)(q) for v in values])   # one call per model
