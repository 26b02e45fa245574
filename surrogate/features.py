"""Network inputs and targets for each learning task, from a store or from one model's data.

Tasks:
* `inverse_pointwise`: one station alone. Input (3F + 1): its three log spectra
  and its ground elevation. Target (B,): depth of each boundary below the
  ground, m (the elevation is ground - depth; depths are what the spectra see).
* `inverse_spatial`: the station grid as an image. Input (3F + 1, ny, nx), target (B, ny, nx).
* `forward`: one station's local ground model: ground elevation, boundary
  depths and all layer properties (1 + B + 4L); target its velocity (3T), m/s,
  scaled by one RMS so that the loss is a relative waveform misfit.
"""
from __future__ import annotations

import numpy as np

TASKS = ("inverse_pointwise", "inverse_spatial", "forward")
INVERSE_TASKS = TASKS[:2]


def inverse_inputs(spectra: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """(..., R, 3F + 1) station features from spectra (..., R, 3, F) and ground elevation (..., R), m."""
    flat = spectra.reshape(*spectra.shape[:-2], -1)
    return np.concatenate([flat, ground[..., None]], axis=-1).astype(np.float64)


def boundary_depth(ground: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """(..., R, B) depth below ground, m, from ground (..., R) and boundary elevations (..., B, R)."""
    return np.swapaxes(ground[..., None, :] - boundary, -1, -2)


def forward_inputs(ground: np.ndarray, boundary: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """(..., R, 1 + B + 4L) local ground model per station.

    ground (..., R) m, boundary (..., B, R) m, layers (..., L, 4).
    """
    depth = boundary_depth(ground, boundary)
    props = np.broadcast_to(layers.reshape(*layers.shape[:-2], 1, -1), (*ground.shape, layers.shape[-2] * 4))
    return np.concatenate([ground[..., None], depth, props], axis=-1).astype(np.float64)


def to_grid(station_values: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(..., C, ny, nx) channel-first grid from per-station values (..., R, C), first nx*ny stations."""
    nx, ny = grid
    g = station_values[..., : nx * ny, :].reshape(*station_values.shape[:-2], ny, nx, station_values.shape[-1])
    return np.moveaxis(g, -1, -3)


def from_grid(grid_values: np.ndarray) -> np.ndarray:
    """Inverse of `to_grid`: (..., C, ny, nx) -> (..., ny*nx, C)."""
    g = np.moveaxis(grid_values, -3, -1)
    return g.reshape(*g.shape[:-3], -1, g.shape[-1])
