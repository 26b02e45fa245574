"""Network inputs and targets for each learning task, from a store or from one model's data.

Tasks:
* `inverse_pointwise`: one station alone. Input (3F + CT + 1): its three log
  spectra, the velocity waveforms of the C components the source excites
  (`waveform_components`) and its ground elevation. Target (B,): depth of each
  boundary below the ground, m (the elevation is ground - depth; depths are
  what the records see). The spectra show the column's resonances; the
  waveforms keep what amplitude spectra of a 2 s record at 0.5 Hz spacing blur,
  the delays of the reflections. On the benchmark's FEM data (210 training
  models, one training each, same test models): spectra alone 93.4 % within
  2 m; with the x waveform of an x-polarised plane wave 96.8 %; with all three
  components 94.2 % (y and z hold only scattered energy: noise to the network).
  Each waveform sample is standardised on its own, as every feature is: the
  late, weak reflections count as much as the direct arrival (one scale for the
  whole waveform instead: 94.3 %).
* `inverse_spatial`: the station grid as an image. Input (3F + CT + 1, ny, nx), target (B, ny, nx).
* `forward`: one station's local ground model: ground elevation, boundary
  depths and all layer properties (1 + B + 4L); target its velocity (3T), m/s,
  scaled by one RMS so that the loss is a relative waveform misfit.
"""
from __future__ import annotations

import numpy as np

from fem.scenario import PlaneWave, load_yaml, parse_source

TASKS = ("inverse_pointwise", "inverse_spatial", "forward")
INVERSE_TASKS = TASKS[:2]


def waveform_components(source_yaml: str) -> tuple[int, ...]:
    """Velocity components (0 x, 1 y, 2 z) the inverse networks read: those the source drives.

    A plane wave drives its own polarisation; the other components hold only
    what the lateral variations scatter. A point source drives all three."""
    source = parse_source(load_yaml(source_yaml))
    return ("xyz".index(source.component),) if isinstance(source, PlaneWave) else (0, 1, 2)


def inverse_inputs(spectra: np.ndarray, velocity: np.ndarray, ground: np.ndarray,
                   components: tuple[int, ...]) -> np.ndarray:
    """(..., R, 3F + CT + 1) station features.

    spectra (..., R, 3, F) log10 amplitude, velocity (..., R, 3, T) m/s of which
    the C `components` are read, ground (..., R) m.
    """
    flat = lambda a: a.reshape(*a.shape[:-2], -1)   # noqa: E731
    waves = velocity[..., list(components), :]
    return np.concatenate([flat(spectra), flat(waves), ground[..., None]], axis=-1).astype(np.float64)



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
