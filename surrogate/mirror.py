"""Mirror symmetry of plane-wave records: free extra training samples for the grid networks.

Let u(x, t) be the FEM's displacement in a ground model m under a vertically
incident plane wave polarised along the unit axis p. Mirroring axis a of the
box about its centre, M = I - 2 e_a e_a^T, maps an isotropic elastic medium
and its free surface, absorbing bottom and free-field sides to the mirrored
model m'(x) = m(Mx), and a solution to a solution: u'(x, t) = M u(Mx, t)
solves the equations in m' under the incident wave M p. M p = -p when a is the
polarisation axis and +p otherwise, so by linearity the record of m' under the
original wave p at station x is

    v'(x) = s_a M v(Mx),   s_a = -1 if a = p else +1,

component c getting the sign s_a * (-1 if c = a else +1):

| source p | mirror x (x -> -x) | mirror y (y -> -y) |
|---|---|---|
| x (S) | (vx, -vy, -vz) | (vx, -vy, vz) |
| y (S) | (-vx, vy, vz) | (-vx, vy, -vz) |
| z (P) | (-vx, vy, vz) | (vx, -vy, vz) |

The receiver grid (cell centres of an evenly divided box) is mirrored onto
itself, station (i, j) onto (i, nx-1-j) for x, (ny-1-i, j) for y. The ground
model's maps are flipped with it; the station positions are not (they are
where the stations are, in both models). A point source moves under a mirror
and a tensor source changes sign pattern with it: refused here.

Both grid networks use it. `forward_spatial` maps the model to the records: its
input maps flip (the station positions do not), its target records flip and
take the signs. `inverse_spatial` maps the records to the model: its input
channels (3F log spectra | 3T waveforms | ground elevation) all flip and the
waveforms take the signs (amplitude spectra and elevations have none); its
target depth maps only flip. Its inputs are standardised per channel with a
mean that is not zero, so a sign s acts on a standardised waveform channel
z = (v - m) / sd as z' = s z + (s - 1) m / sd (`Mirrors.input_offset`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fem.scenario import PlaneWave, load_yaml, parse_source
from surrogate.errors import SurrogateInputError
from surrogate.features import N_POSITION_CHANNELS

AXES = "xy"   #: the mirrors: x -> -x (grid axis -1, along nx) and y -> -y (grid axis -2, along ny)


#: the tasks whose samples mirror
TASKS = ("forward_spatial", "inverse_spatial")


@dataclass(frozen=True)
class Mirrors:
    signs: np.ndarray    #: (2, 3) float32 sign of (vx, vy, vz) under the x mirror (row 0) and the y mirror (row 1)
    n_samples: int       #: T, time samples per component of the records
    task: str = "forward_spatial"   #: one of TASKS: which side of the sample holds the records
    n_frequencies: int = 0          #: F, inverse_spatial: spectral samples per component (channels before the waves)
    #: inverse_spatial on standardised inputs: (2, C) offset added to each input channel under each mirror
    input_offset: np.ndarray | None = None

    def input_signs(self, axis: str, n_channels: int) -> np.ndarray:
        """(C,) sign of each inverse_spatial input channel under the mirror `axis`."""
        sign = np.ones(n_channels)
        start = 3 * self.n_frequencies
        sign[start:start + 3 * self.n_samples] = np.repeat(self.signs[AXES.index(axis)], self.n_samples)
        return sign

    def standardised(self, mean: np.ndarray, std: np.ndarray) -> "Mirrors":
        """These mirrors acting on inverse_spatial inputs standardised with per-channel mean and std (C,)."""
        offset = np.stack([(self.input_signs(a, mean.size) - 1.0) * mean / std for a in AXES])
        return replace(self, input_offset=offset)


def component_signs(polarisation: str, axis: str) -> np.ndarray:
    """(3,) sign of each velocity component of the mirrored model's record (module docstring)."""
    if polarisation not in "xyz" or axis not in AXES or len(polarisation) != 1 or len(axis) != 1:
        raise ValueError(f"polarisation {polarisation!r} / mirror axis {axis!r}")
    s = -1.0 if polarisation == axis else 1.0
    return np.array([-s if c == axis else s for c in "xyz"], dtype=np.float32)


def store_mirrors(source_yaml: str, station_xy: np.ndarray, grid: tuple[int, int], n_samples: int,
                  task: str = "forward_spatial", n_frequencies: int = 0) -> Mirrors:
    """The mirrors of a store's records for `task`'s samples; SurrogateInputError where they are not
    derived (point source, a receiver grid not symmetric about its centre)."""
    if task not in TASKS:
        raise SurrogateInputError(f"mirror augmentation is for {' and '.join(TASKS)}, not {task}")
    source = parse_source(load_yaml(source_yaml))
    if not isinstance(source, PlaneWave):
        raise SurrogateInputError("mirror augmentation holds for vertically incident plane waves only "
                                  "(this store's source is a point source): train with mirror: false")
    nx, ny = grid
    xy = station_xy[: nx * ny].reshape(ny, nx, 2)
    centre = (xy.reshape(-1, 2).max(0) + xy.reshape(-1, 2).min(0)) / 2
    span = max(float(np.ptp(xy[..., 0])), float(np.ptp(xy[..., 1])), 1.0)
    flipped_x = 2 * centre[0] - xy[:, ::-1, 0]
    flipped_y = 2 * centre[1] - xy[::-1, :, 1]
    if not (np.allclose(flipped_x, xy[..., 0], atol=1e-6 * span) and np.allclose(flipped_y, xy[..., 1],
                                                                                   atol=1e-6 * span)):
        raise SurrogateInputError("mirror augmentation needs a receiver grid symmetric about its centre")
    signs = np.stack([component_signs(source.component, a) for a in AXES])
    return Mirrors(signs, n_samples, task, n_frequencies)


def mirror_inputs(inputs: np.ndarray, axis: str, mirrors: Mirrors) -> np.ndarray:
    """The mirrored model's inputs (..., C, ny, nx), physical or standardised (see `mirror`)."""
    dim = _grid_axis(axis)
    if mirrors.task == "inverse_spatial":
        x = np.flip(inputs, dim) * mirrors.input_signs(axis, inputs.shape[-3]).astype(inputs.dtype)[:, None, None]
        if mirrors.input_offset is not None:
            x = x + mirrors.input_offset[AXES.index(axis)].astype(inputs.dtype)[:, None, None]
        return x
    n_model = inputs.shape[-3] - N_POSITION_CHANNELS
    return np.concatenate([np.flip(inputs[..., :n_model, :, :], dim), inputs[..., n_model:, :, :]], axis=-3)


def mirror_targets(targets: np.ndarray, axis: str, mirrors: Mirrors) -> np.ndarray:
    """The mirrored model's targets (..., K, ny, nx), physical or standardised (see `mirror`)."""
    if mirrors.task == "inverse_spatial":
        return np.flip(targets, _grid_axis(axis))
    sign = np.repeat(mirrors.signs[AXES.index(axis)], mirrors.n_samples).astype(targets.dtype)
    return np.flip(targets, _grid_axis(axis)) * sign[:, None, None]


def mirror(inputs: np.ndarray, targets: np.ndarray, axis: str, mirrors: Mirrors) -> tuple[np.ndarray, np.ndarray]:
    """The mirrored model's sample: inputs (..., C, ny, nx), targets (..., K, ny, nx), physical or
    standardised (the normalisers are per channel; forward_spatial's targets have zero mean, and
    inverse_spatial's standardised inputs need `Mirrors.standardised`)."""
    return mirror_inputs(inputs, axis, mirrors), mirror_targets(targets, axis, mirrors)


def _grid_axis(axis: str) -> int:
    return -1 if axis == "x" else -2


def random_mirrors(inputs: np.ndarray, targets: np.ndarray, flips: np.ndarray,
                   mirrors: Mirrors) -> tuple[np.ndarray, np.ndarray]:
    """Samples (N, C, ny, nx), (N, K, ny, nx) each mirrored where flips (N, 2) bool says (x, then y)."""
    x, y = inputs.copy(), targets.copy()
    for k, axis in enumerate(AXES):
        if flips[:, k].any():
            x[flips[:, k]], y[flips[:, k]] = mirror(x[flips[:, k]], y[flips[:, k]], axis, mirrors)
    return x, y
