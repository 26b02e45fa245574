"""B-splines in numpy: interpolation knots, basis functions at points, tensor-product surfaces.

Only what the ground-model surfaces need, written here instead of importing
scipy.interpolate, whose import (~0.6 s) would dominate the start-up of a
process that reads one scenario. The conventions are scipy's (FITPACK's): a
spline of degree k on knots t (len n + k + 1) has n coefficients, and
evaluation outside [t[k], t[n]] continues the end polynomial pieces
(scipy's ``extrapolate=True``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


def interpolation_knots(sites: np.ndarray, k: int) -> np.ndarray:
    """(n + k + 1,) knots of the degree-k spline interpolating at the n increasing `sites`.

    FITPACK's choice for s=0 (what RectBivariateSpline(..., s=0) uses): k + 1
    clamped knots at each end and n - k - 1 interior knots, at the sites for
    odd k ("not-a-knot" for the cubic: the sites next to each end are no knots)
    and midway between sites for even k."""
    sites = np.asarray(sites, float)
    n, start = len(sites), k // 2 + 1
    interior = sites[start:n - k - 1 + start]
    if k % 2 == 0:
        interior = 0.5 * (interior + sites[start - 1:n - k - 2 + start])
    return np.concatenate([np.full(k + 1, sites[0]), interior, np.full(k + 1, sites[-1])])


@dataclass(frozen=True)
class PointBasis:
    """The k + 1 basis functions that can be nonzero at each of N points."""
    first: np.ndarray   #: (N,) int64, index of the first of them at each point
    values: np.ndarray  #: (k + 1, N) float64, B_first+r(x) in row r; columns sum to 1 in the knot range
    n_coef: int         #: number of basis functions of the spline, len(knots) - k - 1

    @cached_property
    def matrix(self) -> np.ndarray:
        """(N, n_coef) design matrix: row p holds every basis function at point p.

        Built once per basis; a cached basis shares it, so it is read-only."""
        matrix = np.zeros((len(self.first), self.n_coef))
        matrix[np.arange(len(self.first)), self.first + np.arange(len(self.values))[:, None]] = self.values
        matrix.flags.writeable = False
        return matrix


def point_basis(knots: np.ndarray, k: int, points: np.ndarray) -> PointBasis:
    """Nonzero degree-k basis functions on `knots` at (N,) `points` (de Boor's triangular recurrence).

    Each point uses the polynomial piece of its knot interval, clipped to the
    first and last nonempty ones, so a point beyond the ends (and one exactly at
    the last knot) gets the end piece continued."""
    knots, points = np.asarray(knots, float), np.asarray(points, float)
    n_coef = len(knots) - k - 1
    interval = np.clip(np.searchsorted(knots, points, side="right") - 1, k, n_coef - 1)
    window = knots[interval + np.arange(1 - k, k + 1)[:, None]]      # (2k, N): t[i+1-k] ... t[i+k]
    left, right = points - window[:k], window[k:] - points          # x - t[i+1-k..i], t[i+1..i+k] - x
    values = np.ones((1, len(points)))
    for j in range(1, k + 1):       # the j + 1 of degree j from the j of degree j - 1 (de Boor)
        ratio = values / (right[:j] + left[k - j:])                   # (j, N); denominators are knot spans
        grown = np.zeros((j + 1, len(points)))
        grown[:j] = right[:j] * ratio
        grown[1:] += left[k - j:] * ratio
        values = grown
    return PointBasis(interval - k, values, n_coef)


def design_matrix(knots: np.ndarray, k: int, points: np.ndarray) -> np.ndarray:
    """(N, len(knots) - k - 1) dense, read-only basis matrix at (N,) points (collocation, small grids)."""
    return point_basis(knots, k, points).matrix


def interpolate_2d(collocation_x: np.ndarray, collocation_y: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(nx, ny) coefficients C of the tensor spline equal to (nx, ny) `values` on a grid gx x gy.

    C solves Bx C By^T = values, with Bx = design_matrix(tx, kx, gx) (nx, nx) and
    By likewise: one 1D solve per direction."""
    return np.linalg.solve(collocation_y, np.linalg.solve(collocation_x, values).T).T


def _evaluate_at_bases(coef: np.ndarray, basis_x: PointBasis, basis_y: PointBasis) -> np.ndarray:
    """(N,) sum_ij coef[i, j] B_i(x) B_j(y) at N points from their 1D bases; coef is (nx, ny).

    One pass per x basis function, gathering (ky + 1, N) coefficients at a time
    rather than (kx + 1, ky + 1, N); point-last layout keeps numpy's inner loops long."""
    flat, ny = coef.ravel(), coef.shape[1]
    corner = basis_x.first * ny + basis_y.first             # (N,) flat index of coef[first_x, first_y]
    column_offsets = np.arange(len(basis_y.values))[:, None]
    total = np.zeros(len(corner))
    for i, along_x in enumerate(basis_x.values):
        row = np.take(flat, corner + (i * ny + column_offsets))                # (ky + 1, N)
        total += along_x * np.einsum("jp,jp->p", row, basis_y.values)
    return total


#: points per block in evaluate_2d: enough to make numpy's per-call overhead small, few enough
#: for the ~20 temporaries to stay in cache (twice as fast as one block for 10^6 points)
_BLOCK_POINTS = 8192


def evaluate_2d(coef: np.ndarray, tx: np.ndarray, kx: int, x: np.ndarray,
                ty: np.ndarray, ky: int, y: np.ndarray) -> np.ndarray:
    """(N,) tensor spline (knots tx, ty; degrees kx, ky; (nx, ny) coef) at (N,) points x, y.

    Outside the knot box the end polynomial pieces continue (scipy's extrapolate=True)."""
    z = np.empty(len(x))
    for start in range(0, len(x), _BLOCK_POINTS):
        block = slice(start, start + _BLOCK_POINTS)
        z[block] = _evaluate_at_bases(coef, point_basis(tx, kx, x[block]), point_basis(ty, ky, y[block]))
    return z
