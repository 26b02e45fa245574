"""Structure estimation by optimisation through the forward surrogate, on the control grid.

The unknowns are the control-grid elevations c (B, rows, cols) of the layer
boundaries. The FEM's surface spline (fem.model.Surface) is linear in its
control values, so the boundary elevation beneath the stations is z = W c with
a fixed (R, rows*cols) matrix W, found once by interpolating unit control
grids. The misfit is the forward network's standardised waveform error,
mean over stations, components and samples,

    J(c) = mean((f(ground, ground - W c, layers) - v_obs)^2) / s^2,

and Adam descends it from a starting grid (e.g. the inverse network's estimate
fitted onto the grid), keeping the grid of the lowest misfit it meets. Either forward network serves:
* `forward` (point-wise MLP): every station, s its one waveform RMS, so J is a
  squared relative misfit;
* `forward_spatial` (U-Net over the receiver grid): the grid stations (the first
  nx*ny; the depth maps are the rows of W of those stations times c), s the RMS
  of each component (its target normaliser, surrogate.taskdata.component_rms),
  so the cross components count as much as the driven one, as in its training.
Ground and layer properties are known; only the boundaries move.
The network knows nothing outside the depths it was trained on, so after each
step every boundary's control values are projected into its training depth
range (mean +- 3 std of the depth feature/channel, below the mean station ground).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fem.model import Surface
from surrogate.errors import SurrogateInputError
from surrogate.features import forward_spatial_inputs, forward_spatial_targets
from surrogate.inference import Trained
from surrogate.normalise import standardise


@dataclass(frozen=True)
class GridEstimate:
    control: np.ndarray     #: (B, rows, cols) float64 boundary elevations on the control grid, m
    elevation: np.ndarray   #: (B, R) float64 boundary elevations beneath the stations, m
    misfit: float           #: final J, squared relative waveform misfit through the forward surrogate
    start_misfit: float     #: J of the starting grid


def interpolation_matrix(x: tuple[float, float], y: tuple[float, float], shape: tuple[int, int],
                         xy: np.ndarray) -> np.ndarray:
    """(R, rows*cols) W with elevation(xy) = W @ control.ravel() for the FEM's spline on a rows x cols grid."""
    rows, cols = shape
    basis = np.eye(rows * cols).reshape(-1, rows, cols)
    return np.stack([Surface("basis", b, x, y).elevation(xy[:, 0], xy[:, 1]) for b in basis], axis=1)


def fit_control_grid(weights: np.ndarray, station_elevation: np.ndarray) -> np.ndarray:
    """(B, rows*cols) least-squares control values whose spline best matches (B, R) station elevations, m.

    weights: (R, rows*cols) from interpolation_matrix."""
    if weights.shape[0] < weights.shape[1]:
        raise SurrogateInputError(f"{weights.shape[0]} stations cannot pin {weights.shape[1]} control points")
    control, *_ = np.linalg.lstsq(weights, station_elevation.T, rcond=None)
    return control.T


def optimise_boundaries(forward: Trained, observed: np.ndarray, ground: np.ndarray, layers: np.ndarray,
                        weights: np.ndarray, start: np.ndarray, steps: int = 200, lr: float = 0.2,
                        xy: np.ndarray | None = None) -> GridEstimate:
    """Descend J from the control grid `start` (B, rows, cols) m; observed (R, 3, T) m/s, ground (R,) m, layers (L, 4).

    lr is in metres per Adam step (Adam's steps are about lr in size whatever the gradient scale).
    The spatial forward network reads the first nx*ny stations as its training grid; xy (R, 2) m,
    where given, is checked against that grid. The returned elevation is W c at all R stations.
    """
    if observed.shape[-1] * 3 != forward.spec.n_outputs:
        raise SurrogateInputError(f"observations have {observed.shape[-1]} samples, the forward surrogate "
                                  f"{forward.spec.n_outputs // 3}")
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)   # noqa: E731
    w, g = f32(weights), f32(ground)
    mean_in, std_in = f32(forward.input_norm.mean), f32(forward.input_norm.std)
    n_b = start.shape[0]
    # depth feature/channel of each boundary: 1..B in features.forward_inputs and forward_spatial_inputs alike
    depth_lo = torch.clamp(mean_in[1:1 + n_b] - 3 * std_in[1:1 + n_b], min=0.0)
    depth_hi = mean_in[1:1 + n_b] + 3 * std_in[1:1 + n_b]
    lowest, highest = (g.mean() - depth_hi)[:, None], (g.mean() - depth_lo)[:, None]
    control = torch.tensor(start.reshape(n_b, -1), dtype=torch.float32)
    control = torch.maximum(torch.minimum(control, highest), lowest).requires_grad_(True)
    if forward.spec.task == "forward_spatial":
        misfit = _spatial_misfit(forward, observed, ground, layers, weights, start, xy, control)
    else:
        scale = float(forward.target_norm.std[0])               # one RMS for all waveform samples (taskdata)
        target = f32(observed.reshape(observed.shape[0], -1) / scale)
        props = f32(layers.reshape(1, -1)).expand(g.shape[0], -1)

        def misfit() -> torch.Tensor:
            depth = g[:, None] - (w @ control.T)                                  # (R, B) m below the ground
            x = (torch.cat([g[:, None], depth, props], dim=1) - mean_in) / std_in  # features.forward_inputs
            return ((forward.net(x) - target) ** 2).mean()

    forward.net.requires_grad_(False)
    optimiser = torch.optim.Adam([control], lr=lr)
    with torch.no_grad():
        first = float(misfit())
    # Adam's steps are ~lr whatever the gradient: keep the grid of the lowest misfit met, not the last
    best, best_control = first, control.detach().clone()
    for step in range(steps + 1):
        optimiser.zero_grad()
        loss = misfit()
        if loss.item() < best:
            best, best_control = loss.item(), control.detach().clone()
        if step == steps:
            break
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            control.copy_(torch.maximum(torch.minimum(control, highest), lowest))
    c = best_control.double().numpy()
    return GridEstimate(c.reshape(start.shape), c @ weights.T, best, first)


def _spatial_misfit(forward: Trained, observed: np.ndarray, ground: np.ndarray, layers: np.ndarray,
                    weights: np.ndarray, start: np.ndarray, xy: np.ndarray | None, control: torch.Tensor):
    """J(control) through the forward_spatial U-Net: its standardised grid output against the grid records
    standardised with its target normaliser, mean over grid stations, components and samples."""
    nx, ny = forward.grid
    n = nx * ny
    if n == 0 or observed.shape[0] < n or weights.shape[0] < n or ground.shape[0] < n:
        raise SurrogateInputError(f"the spatial forward network needs the training grid of {nx}x{ny} stations first")
    if xy is not None and not np.allclose(xy[:n], forward.station_xy[:n], atol=1e-6):
        raise SurrogateInputError(f"the spatial forward network needs the training grid of {nx}x{ny} stations first")
    f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)   # noqa: E731
    n_b = start.shape[0]
    # every channel but the depths is fixed: build them as predict_velocity does, with the start's depths
    start_elevation = start.reshape(n_b, -1) @ weights.T
    fixed = f32(forward_spatial_inputs(ground, start_elevation, layers, forward.station_xy, forward.grid))
    mean_in = f32(forward.input_norm.mean)[:, None, None]
    std_in = f32(forward.input_norm.std)[:, None, None]
    target = f32(standardise(forward_spatial_targets(observed[None].astype(np.float64), forward.grid),
                             forward.target_norm))                                      # (1, 3T, ny, nx)
    w, g = f32(weights[:n]), f32(ground[:n])

    def misfit() -> torch.Tensor:
        depth = g[:, None] - (w @ control.T)                                 # (nx*ny, B) m below the ground
        maps = depth.T.reshape(n_b, ny, nx)                                  # features.to_grid: station iy*nx + ix
        x = torch.cat([fixed[:1], maps, fixed[1 + n_b:]], dim=0)             # features.forward_spatial_inputs
        return ((forward.net(((x - mean_in) / std_in)[None]) - target) ** 2).mean()

    return misfit
