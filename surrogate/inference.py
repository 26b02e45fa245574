"""Trained networks applied to new inputs: the forward surrogate and the structure estimate.

A model folder is what `train` writes: `DIR/<task>/model.pt` for each trained
task (DIR may also be one task's folder itself).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.interpolate import RegularGridInterpolator

from surrogate.checkpoint import load
from surrogate.errors import SurrogateInputError
from surrogate.features import forward_inputs, from_grid, inverse_inputs, to_grid, waveform_components
from surrogate.nets import NetworkSpec, build_network
from surrogate.normalise import Normaliser
from surrogate.taskdata import revert, standardise


@dataclass(frozen=True)
class Trained:
    net: torch.nn.Module         #: in eval mode, on the CPU
    spec: NetworkSpec            #: task and sizes
    input_norm: Normaliser       #: from the training split
    target_norm: Normaliser      #: from the training split
    frequency: np.ndarray        #: (F,) Hz of the spectra it reads
    time: np.ndarray             #: (T,) s of the waveforms it reads or writes
    station_xy: np.ndarray       #: (R, 2) m, the training stations
    grid: tuple[int, int]        #: (nx, ny) of the training receiver grid
    source: str                  #: YAML of the source it was trained for

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Physical outputs for physical inputs (N, C) or (N, C, ny, nx)."""
        with torch.no_grad():
            z = self.net(torch.from_numpy(standardise(x, self.input_norm))).numpy()
        return revert(z, self.target_norm)


def load_trained(path: str | Path) -> Trained:
    b = load(path)
    spec = NetworkSpec(**{**b["spec"], "hidden": tuple(b["spec"]["hidden"])})
    net = build_network(spec)
    net.load_state_dict(b["model"])
    return Trained(net.eval(), spec, Normaliser.from_dict(b["input_norm"]), Normaliser.from_dict(b["target_norm"]),
                   np.asarray(b["frequency"]), np.asarray(b["time"]), np.asarray(b["station_xy"]),
                   tuple(b["grid"]), b["source"])


def find_model(model_dir: str | Path, tasks: tuple[str, ...]) -> Path:
    """model.pt of the first of `tasks` trained in model_dir (or model_dir itself if it is a task folder)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise SurrogateInputError(f"model folder not found: {model_dir}")
    for task in tasks:
        for candidate in (model_dir / task / "model.pt", model_dir / "model.pt"):
            if candidate.is_file() and (candidate.parent.name == task or load(candidate)["spec"]["task"] == task):
                return candidate
    raise SurrogateInputError(f"{model_dir}: holds no trained {' or '.join(tasks)} network (run `train` first)")


def predict_velocity(model: Trained, ground: np.ndarray, boundary: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """(R, 3, T) float32 station velocity, m/s, from ground (R,), boundaries (B, R) m, layers (L, 4)."""
    out = model(forward_inputs(ground, boundary, layers))
    return out.reshape(ground.shape[0], 3, -1).astype(np.float32)


def estimate_boundaries(model: Trained, spectra: np.ndarray, velocity: np.ndarray, ground: np.ndarray,
                        xy: np.ndarray) -> np.ndarray:
    """(N, B, R) boundary elevations, m, at stations xy (R, 2), from their records.

    spectra (N, R, 3, F) log amplitude, velocity (N, R, 3, T) m/s on the model's
    time grid, ground (N, R) m.

    The spatial network estimates the training grid; stations off that grid
    get the grid estimate interpolated (linear, nearest beyond the outer stations).
    """
    x = inverse_inputs(spectra, velocity, ground, waveform_components(model.source))
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
        grid_depth = model(to_grid(x, model.grid))                       # (N, B, ny, nx)
        depth = np.concatenate([from_grid(grid_depth), _off_grid(grid_depth, model, xy[nx * ny:])], axis=1)
    return ground[:, None, :] - np.swapaxes(depth, 1, 2)


def _off_grid(grid_depth: np.ndarray, model: Trained, xy: np.ndarray) -> np.ndarray:
    nx, ny = model.grid
    gx, gy = model.station_xy[:nx, 0], model.station_xy[: nx * ny: nx, 1]
    q = np.stack([np.clip(xy[:, 1], gy[0], gy[-1]), np.clip(xy[:, 0], gx[0], gx[-1])], axis=1)
    values = np.moveaxis(grid_depth, 1, -1)                              # (N, ny, nx, B)
    return np.stack([RegularGridInterpolator((gy, gx), v)(q) for v in values])   # one call per model
