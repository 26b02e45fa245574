"""Shapes of the layer boundaries' lateral structure: one random unit shape per family.

Each function draws a (rows, cols) field on a box's control grid, in units the
caller scales (surrogate.distribution draws the amplitudes): `multiscale` has
unit standard deviation, `dipping` unit gradient (m per m), the others unit
height. The surfaces through these control values are the FEM's interpolating
cubic B-splines (fem.model), so a shape narrower than about two control
spacings is smoothed into a ramp or bump of that width.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ControlGrid:
    x: np.ndarray   #: (rows, cols) x of each control point, m (columns span the box in x)
    y: np.ndarray   #: (rows, cols) y of each control point, m (rows span the box in y)

    @classmethod
    def of_box(cls, x: tuple[float, float], y: tuple[float, float], shape: tuple[int, int]) -> "ControlGrid":
        """The evenly spaced (rows, cols) grid spanning the box x, y (m), row 0 at y0, column 0 at x0."""
        yy, xx = np.meshgrid(np.linspace(*y, shape[0]), np.linspace(*x, shape[1]), indexing="ij")
        return cls(xx, yy)

    @property
    def spacing(self) -> float:
        """The larger of the two control spacings, m."""
        rows, cols = self.x.shape
        return max(np.ptp(self.x) / (cols - 1), np.ptp(self.y) / (rows - 1))

    def random_point(self, rng: np.random.Generator, inner: float = 1.0) -> np.ndarray:
        """(2,) a point uniform in the box shrunk about its centre to the fraction `inner` of each side, m."""
        centre = np.array([self.x.mean(), self.y.mean()])
        half = 0.5 * inner * np.array([np.ptp(self.x), np.ptp(self.y)])
        return rng.uniform(centre - half, centre + half)

    def distance_to_line(self, point: np.ndarray, strike: float) -> np.ndarray:
        """(rows, cols) signed distance, m, from the line through `point` along azimuth `strike` (rad from x)."""
        return -(self.x - point[0]) * np.sin(strike) + (self.y - point[1]) * np.cos(strike)


def multiscale(rng: np.random.Generator, grid: ControlGrid, hurst: float,
               wavelength: tuple[float, float]) -> np.ndarray:
    """Zero-mean, unit-std field with a von Karman-like power-law spectrum.

    A sum of plane waves on the wavenumber lattice 2 pi (m, n) / wavelength[1] with
    wavelengths in [wavelength[0], wavelength[1]] (m), each with Gaussian cosine and
    sine amplitudes of std |k|^-(hurst + 1): the 2D von Karman amplitude spectrum
    above its corner wavenumber. hurst 0 puts equal variance in every octave (rough),
    hurst 1 most of it at the longest wavelengths (smooth). The lattice's period,
    wavelength[1], exceeds the box, so the field does not repeat within it."""
    shortest, longest = wavelength
    n = int(longest // shortest)
    m, l = np.meshgrid(np.arange(-n, n + 1), np.arange(n + 1), indexing="ij")
    radius = np.hypot(m, l)
    keep = ((l > 0) | (m > 0)) & (radius <= longest / shortest)   # k and -k are one plane wave
    kx, ky = (2.0 * np.pi / longest) * np.stack([m[keep], l[keep]]).astype(float)
    std = np.hypot(kx, ky) ** -(hurst + 1.0)
    cos_amp, sin_amp = rng.standard_normal((2, std.size)) * std
    phase = grid.x[..., None] * kx + grid.y[..., None] * ky
    field = np.cos(phase) @ cos_amp + np.sin(phase) @ sin_amp
    field -= field.mean()
    return field / field.std()


def dipping(rng: np.random.Generator, grid: ControlGrid) -> np.ndarray:
    """Plane of unit gradient through the box centre, rising towards a uniformly random azimuth."""
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    return (grid.x - grid.x.mean()) * np.cos(azimuth) + (grid.y - grid.y.mean()) * np.sin(azimuth)


def basin(rng: np.random.Generator, grid: ControlGrid, semi_axis: tuple[float, float],
          count: tuple[int, int]) -> np.ndarray:
    """Sum of `count` (drawn from the range) elliptical bowls (-1 at the centre) or domes (+1), even odds.

    Each has a raised-cosine profile 0.5 (1 + cos(pi r)) of its elliptical radius r < 1
    (smooth at the rim), semi-axes drawn from `semi_axis` (m), a uniformly random
    orientation and a centre uniform in the box (a centre near a side makes a basin edge)."""
    field = np.zeros_like(grid.x)
    for _ in range(rng.integers(count[0], count[1] + 1)):
        centre = grid.random_point(rng)
        a, b = rng.uniform(*semi_axis, 2)
        angle = rng.uniform(0.0, np.pi)
        along = grid.distance_to_line(centre, angle + 0.5 * np.pi)
        across = grid.distance_to_line(centre, angle)
        r = np.minimum(np.hypot(along / a, across / b), 1.0)
        field += rng.choice([-1.0, 1.0]) * 0.5 * (1.0 + np.cos(np.pi * r))
    return field


def fault(rng: np.random.Generator, grid: ControlGrid) -> np.ndarray:
    """Unit step across a line of uniformly random strike through the central half of the box.

    The step is a linear ramp one control spacing wide: the steepest the control grid
    carries (the spline through a sharper step overshoots)."""
    distance = grid.distance_to_line(grid.random_point(rng, inner=0.5), rng.uniform(0.0, 2.0 * np.pi))
    return np.clip(distance / grid.spacing + 0.5, 0.0, 1.0)


def ridge(rng: np.random.Generator, grid: ControlGrid, width: tuple[float, float]) -> np.ndarray:
    """Buried ridge (+1) or channel (-1), even odds: a Gaussian profile exp(-d^2 / 2 w^2) of the
    distance d from a line of random strike through the central half of the box, w drawn from
    `width` (m)."""
    distance = grid.distance_to_line(grid.random_point(rng, inner=0.5), rng.uniform(0.0, np.pi))
    w = rng.uniform(*width)
    return rng.choice([-1.0, 1.0]) * np.exp(-0.5 * (distance / w) ** 2)
