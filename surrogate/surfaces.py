"""Elevation of a scenario surface beneath given (x, y): the one place that must match the FEM.

The FEM (fem/) builds its mesh on the same surfaces; targets for learning are
the boundary elevations *the FEM saw*, so this interpolation has to be the
FEM's. Until `fem.model` exposes its own evaluator this module implements the
documented choice: an interpolating bicubic spline through the control points
(scipy RectBivariateSpline, degree min(3, n-1) per axis, so a 2-point axis is
linear), rows at y0..y1, columns at x0..x1, evenly spaced. Swap the body of
`surface_elevation` for the FEM's call when it lands; nothing else changes.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import RectBivariateSpline

from surrogate.scenario import Domain, Scenario


def surface_elevation(elevation: np.ndarray, domain: Domain, xy: np.ndarray) -> np.ndarray:
    """(N,) float64 elevation, m, of one surface at the points xy (N, 2), m.

    `elevation` is a scalar (flat surface) or a (rows, cols) control grid.
    Points outside the box are clamped to it (the spline is not extrapolated).
    """
    elevation = np.asarray(elevation, dtype=np.float64)
    if elevation.ndim == 0:
        return np.full(xy.shape[0], float(elevation))
    rows, cols = elevation.shape
    cx = np.linspace(domain.x[0], domain.x[1], cols)
    cy = np.linspace(domain.y[0], domain.y[1], rows)
    spline = RectBivariateSpline(cy, cx, elevation, kx=min(3, rows - 1), ky=min(3, cols - 1), s=0)
    x = np.clip(xy[:, 0], domain.x[0], domain.x[1])
    y = np.clip(xy[:, 1], domain.y[0], domain.y[1])
    return spline.ev(y, x)


def surfaces_at(scenario: Scenario, xy: np.ndarray) -> np.ndarray:
    """(S, N) float64 elevation, m, of every surface (top to bottom) at the points xy (N, 2)."""
    return np.stack([surface_elevation(s.elevation, scenario.domain, xy) for s in scenario.surfaces])
