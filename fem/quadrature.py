"""Quadrature rules on the reference tetrahedron and the reference triangle.

Reference tetrahedron: vertices (0,0,0), (1,0,0), (0,1,0), (0,0,1), volume 1/6.
Reference triangle: vertices (0,0), (1,0), (0,1), area 1/2.

Low degrees use small symmetric rules with positive weights (fewer points where
assembly spends its time); every other degree uses Stroud's conical product of
Gauss-Jacobi rules, which is exact to any requested degree and has positive
weights, so a rule never turns a positive integrand negative.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations

import numpy as np
from scipy.special import roots_jacobi


@dataclass(frozen=True)
class QuadratureRule:
    points: np.ndarray   #: (q, dim) float64, reference coordinates
    weights: np.ndarray  #: (q,) float64, positive; sum = 1/6 (tetrahedron) or 1/2 (triangle)
    degree: int          #: every polynomial of total degree <= degree is integrated exactly


def _gauss_jacobi_01(n: int, alpha: int) -> tuple[np.ndarray, np.ndarray]:
    """n-point rule on [0, 1] for the weight (1 - t)^alpha, exact to degree 2n - 1."""
    x, w = roots_jacobi(n, alpha, 0.0)
    return 0.5 * (x + 1.0), w / 2.0 ** (alpha + 1)


def _orbit(barycentric: tuple[float, ...]) -> np.ndarray:
    """Distinct permutations of barycentric coordinates -> Cartesian reference points."""
    unique = np.array(sorted(set(permutations(barycentric))))
    return unique[:, 1:]


def _symmetric(dim: int, orbits: list[tuple[tuple[float, ...], float]], degree: int) -> QuadratureRule:
    """Rule from (barycentric generator, weight per point) orbits."""
    pts, wts = [], []
    for generator, weight in orbits:
        p = _orbit(generator)
        pts.append(p)
        wts.append(np.full(len(p), weight))
    points, weights = np.concatenate(pts), np.concatenate(wts)
    assert points.shape[1] == dim
    return QuadratureRule(points, weights, degree)


def stroud_tetrahedron(degree: int) -> QuadratureRule:
    """Conical product rule: x = a(1-b)(1-c), y = b(1-c), z = c, Jacobian (1-b)(1-c)^2."""
    n = degree // 2 + 1
    a, wa = _gauss_jacobi_01(n, 0)
    b, wb = _gauss_jacobi_01(n, 1)
    c, wc = _gauss_jacobi_01(n, 2)
    A, B, C = np.meshgrid(a, b, c, indexing="ij")
    points = np.stack([A * (1 - B) * (1 - C), B * (1 - C), C], axis=-1).reshape(-1, 3)
    weights = (wa[:, None, None] * wb[None, :, None] * wc[None, None, :]).ravel()
    return QuadratureRule(points, weights, 2 * n - 1)


def stroud_triangle(degree: int) -> QuadratureRule:
    """Conical product rule: x = a(1-b), y = b, Jacobian (1-b)."""
    n = degree // 2 + 1
    a, wa = _gauss_jacobi_01(n, 0)
    b, wb = _gauss_jacobi_01(n, 1)
    A, B = np.meshgrid(a, b, indexing="ij")
    points = np.stack([A * (1 - B), B], axis=-1).reshape(-1, 2)
    weights = (wa[:, None] * wb[None, :]).ravel()
    return QuadratureRule(points, weights, 2 * n - 1)


def _tet_symmetric(degree: int) -> QuadratureRule | None:
    if degree <= 1:
        return _symmetric(3, [((0.25,) * 4, 1.0 / 6.0)], 1)
    if degree == 2:
        # Hammer-Marlowe-Stroud 4-point rule: b = (5 - sqrt 5)/20
        b = (5.0 - np.sqrt(5.0)) / 20.0
        return _symmetric(3, [((1 - 3 * b, b, b, b), 1.0 / 24.0)], 2)
    if degree in (4, 5):
        # 14-point degree-5 rule with positive weights (Walkington 2000; Keast 1986)
        a1, a2, c = 0.09273525031089123, 0.31088591926330061, 0.04550370412564965
        return _symmetric(3, [((1 - 3 * a1, a1, a1, a1), 0.01224884051939366),
                              ((1 - 3 * a2, a2, a2, a2), 0.01878132095300264),
                              ((c, c, 0.5 - c, 0.5 - c), 0.007091003462846911)], 5)
    return None


def _triangle_symmetric(degree: int) -> QuadratureRule | None:
    if degree <= 1:
        return _symmetric(2, [((1 / 3,) * 3, 0.5)], 1)
    if degree == 2:
        return _symmetric(2, [((2 / 3, 1 / 6, 1 / 6), 1.0 / 6.0)], 2)
    if degree <= 5:
        # Radon's 7-point degree-5 rule, closed form
        s = np.sqrt(15.0)
        a1, a2 = (6 - s) / 21, (6 + s) / 21
        return _symmetric(2, [((1 / 3,) * 3, 9.0 / 80.0),
                              ((1 - 2 * a1, a1, a1), (155 - s) / 2400),
                              ((1 - 2 * a2, a2, a2), (155 + s) / 2400)], 5)
    return None


@lru_cache(maxsize=None)
def tetrahedron_rule(degree: int) -> QuadratureRule:
    """A positive-weight rule on the reference tetrahedron exact to total degree `degree`."""
    if degree < 0:
        raise ValueError(f"quadrature degree must be >= 0, got {degree}")
    return _tet_symmetric(degree) or stroud_tetrahedron(degree)


@lru_cache(maxsize=None)
def triangle_rule(degree: int) -> QuadratureRule:
    """A positive-weight rule on the reference triangle exact to total degree `degree`."""
    if degree < 0:
        raise ValueError(f"quadrature degree must be >= 0, got {degree}")
    return _triangle_symmetric(degree) or stroud_triangle(degree)
