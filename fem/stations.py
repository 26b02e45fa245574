"""Where the receivers are: a grid of stations on the ground surface plus listed points."""
from __future__ import annotations

import numpy as np

from fem.model import GroundModel
from fem.scenario import Receivers


def station_xy(model: GroundModel, receivers: Receivers) -> np.ndarray:
    """(R, 2) station (x, y), m: the grid first, then the listed points.

    Grid stations sit at the cell centres of an nx x ny grid over the box,
    x_i = x0 + (i + 1/2)(x1 - x0)/nx, row-major with x fastest (station
    k = j*nx + i), so none lies on a lateral boundary."""
    fx = (np.arange(receivers.nx) + 0.5) / max(receivers.nx, 1)
    fy = (np.arange(receivers.ny) + 0.5) / max(receivers.ny, 1)
    gx, gy = np.meshgrid(model.x[0] + fx * (model.x[1] - model.x[0]), model.y[0] + fy * (model.y[1] - model.y[0]))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return np.concatenate([grid, receivers.points.reshape(-1, 2)])


def station_xyz(model: GroundModel, receivers: Receivers) -> np.ndarray:
    """(R, 3) station coordinates, m: grid and points on the ground surface, then the interior stations."""
    xy = station_xy(model, receivers)
    z = model.surfaces[0].elevation(xy[:, 0], xy[:, 1])
    return np.concatenate([np.column_stack([xy, z]), receivers.interior.reshape(-1, 3)])
