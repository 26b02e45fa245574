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
* `inverse_spatial`: the station grid as an image. Input (3F + 3T + 1, ny, nx), target (B, ny, nx):
  the waveforms of all three components (`inverse_components`). On 3D ground
  the cross components are what the lateral structure scatters out of the
  driven one; a network that sees the neighbours can place that structure,
  where the point-wise network only reads them as noise (above). It trains on
  random mirror images of the samples and estimates as the mean over the four
  mirror images of the records (surrogate.mirror, surrogate.inference.mirror_mean).
* `forward`: one station's local ground model: ground elevation, boundary
  depths and all layer properties (1 + B + 4L); target its velocity (3T), m/s,
  scaled by one RMS so that the loss is a relative waveform misfit.
* `forward_spatial`: the whole ground model as maps on the station grid. Input
  (1 + B + 4L + 2, ny, nx): ground elevation, boundary depths, the layer
  properties as constant channels, then the stations' x and y (positions
  matter: the box's sides act as free-field boundaries); target (3T, ny, nx),
  the velocity of every grid station, component-major (channel c*T + t), each
  component scaled by its own RMS (surrogate.taskdata) so that the weak cross
  components y, z, which only 3D ground excites under a vertically incident
  plane wave, count as much as the driven one.
"""
from __future__ import annotations

import numpy as np

from fem.scenario import PlaneWave, load_yaml, parse_source

#: names of the layer boundaries, top down (stores hold B of them; names beyond these are boundary<b>)
BOUNDARY_NAMES = ("b12", "b23")
TASKS = ("inverse_pointwise", "inverse_spatial", "forward", "forward_spatial")
INVERSE_TASKS = TASKS[:2]
#: the forward networks, in the order `predict` prefers them
FORWARD_TASKS = ("forward_spatial", "forward")
#: input channels of `forward_spatial` after the ground model's: the station x, y
N_POSITION_CHANNELS = 2


def waveform_components(source_yaml: str) -> tuple[int, ...]:
    """Velocity components (0 x, 1 y, 2 z) the inverse networks read: those the source drives.

    A plane wave drives its own polarisation; the other components hold only
    what the lateral variations scatter. A point source drives all three."""
    source = parse_source(load_yaml(source_yaml))
    return ("xyz".index(source.component),) if isinstance(source, PlaneWave) else (0, 1, 2)


def inverse_components(task: str, source_yaml: str) -> tuple[int, ...]:
    """Velocity components whose waveforms the inverse network of `task` reads.

    The point-wise network reads those the source drives (`waveform_components`);
    the spatial network all three."""
    return (0, 1, 2) if task == "inverse_spatial" else waveform_components(source_yaml)


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


def forward_spatial_inputs(ground: np.ndarray, boundary: np.ndarray, layers: np.ndarray, station_xy: np.ndarray,
                           grid: tuple[int, int]) -> np.ndarray:
    """(..., 1 + B + 4L + 2, ny, nx) ground model maps and station positions on the receiver grid.

    ground (..., R) m, boundary (..., B, R) m, layers (..., L, 4), station_xy (R, 2) m
    (the grid first); the positions are scaled to [-1, 1] across the grid.
    """
    model = to_grid(forward_inputs(ground, boundary, layers), grid)
    nx, ny = grid
    xy = station_xy[: nx * ny]
    centre, half = (xy.max(0) + xy.min(0)) / 2, np.maximum((xy.max(0) - xy.min(0)) / 2, 1e-12)
    position = to_grid((xy - centre) / half, grid)
    return np.concatenate([model, np.broadcast_to(position, (*model.shape[:-3], *position.shape))],
                          axis=-3).astype(np.float64)


def forward_spatial_targets(velocity: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(..., 3T, ny, nx) grid velocity, component-major, from station velocity (..., R, 3, T)."""
    return to_grid(velocity.reshape(*velocity.shape[:-2], -1), grid)


def to_grid(station_values: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(..., C, ny, nx) channel-first grid from per-station values (..., R, C), first nx*ny stations."""
    nx, ny = grid
    g = station_values[..., : nx * ny, :].reshape(*station_values.shape[:-2], ny, nx, station_values.shape[-1])
    return np.moveaxis(g, -1, -3)


def from_grid(grid_values: np.ndarray) -> np.ndarray:
    """Inverse of `to_grid`: (..., C, ny, nx) -> (..., ny*nx, C)."""
    g = np.moveaxis(grid_values, -3, -1)
    return g.reshape(*g.shape[:-3], -1, g.shape[-1])
