"""fem.bspline against scipy's FITPACK splines, and the B-spline identities it must satisfy."""
import subprocess
import sys

import numpy as np
import pytest
from scipy.interpolate import BSpline, NdBSpline, RectBivariateSpline

from fem.bspline import design_matrix, evaluate_2d, interpolate_2d, interpolation_knots, point_basis

BOX = ((0.0, 400.0), (0.0, 300.0))


def sites(n: int, seed: int = 0) -> np.ndarray:
    """n increasing, unevenly spaced sites on [0, 400] m."""
    return np.sort(np.r_[0.0, 400.0, np.random.default_rng(seed).uniform(1.0, 399.0, n - 2)])


def scipy_interpolant(gx, gy, values, kx, ky) -> RectBivariateSpline:
    return RectBivariateSpline(gx, gy, values, kx=kx, ky=ky, s=0)


@pytest.mark.parametrize("n", range(2, 9))
@pytest.mark.parametrize("even_degree", [False, True])   # k = 2 tests FITPACK's midpoint knots
def test_interpolation_knots_are_fitpacks(n, even_degree):
    # n = 1 (degree 0) FITPACK refuses; the model takes a 1x1 grid as a flat surface instead
    k = min(2 if even_degree else 3, n - 1)
    gx, gy = sites(n), np.linspace(0.0, 300.0, 4)
    tx, _ = scipy_interpolant(gx, gy, np.zeros((n, 4)), k, 3).get_knots()
    np.testing.assert_array_equal(interpolation_knots(gx, k), tx)


def interpolant(gx: np.ndarray, gy: np.ndarray, values: np.ndarray):
    """(tx, kx, ty, ky, coef) of the spline interpolating (nx, ny) `values` on gx x gy, the model's degrees."""
    kx, ky = min(3, len(gx) - 1), min(3, len(gy) - 1)
    tx, ty = interpolation_knots(gx, kx), interpolation_knots(gy, ky)
    return tx, kx, ty, ky, interpolate_2d(design_matrix(tx, kx, gx), design_matrix(ty, ky, gy), values)


@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (6, 4), (8, 7)])
def test_interpolation_coefficients_are_fitpacks(shape):
    gx, gy = sites(shape[0], 1), np.linspace(*BOX[1], shape[1])
    values = np.random.default_rng(2).normal(size=shape) * 10.0      # m
    tx, kx, ty, ky, coef = interpolant(gx, gy, values)
    reference = scipy_interpolant(gx, gy, values, kx, ky).get_coeffs().reshape(shape)
    np.testing.assert_allclose(coef, reference, atol=1e-9 * 10.0)


@pytest.mark.parametrize("n, k", [(2, 1), (3, 2), (4, 3), (7, 3), (8, 2)])
def test_basis_is_a_partition_of_unity_inside_and_scipys_design_matrix_everywhere(n, k):
    t = interpolation_knots(sites(n, 3), k)
    x = np.r_[np.random.default_rng(4).uniform(-100.0, 500.0, 200), t]          # outside too, and every knot
    basis = point_basis(t, k, x)
    inside = (x >= t[0]) & (x <= t[-1])
    np.testing.assert_allclose(basis.values.sum(axis=0)[inside], 1.0, atol=1e-13)
    assert np.all(basis.values[:, inside] >= -1e-15)
    assert basis.first.min() >= 0 and basis.first.max() <= basis.n_coef - k - 1
    np.testing.assert_allclose(design_matrix(t, k, x), BSpline.design_matrix(x, t, k, extrapolate=True).toarray(),
                               atol=1e-12)


@pytest.mark.parametrize("n, k", [(2, 1), (3, 2), (5, 3), (8, 3)])
def test_splines_reproduce_polynomials_of_their_degree_inside_and_outside(n, k):
    x_sites = sites(n, 5)
    t = interpolation_knots(x_sites, k)
    for degree in range(k + 1):
        # a random polynomial in u = (x - 200 m) / 200 m: O(1) over the sites, up to O(2^degree) at |u| = 2
        poly = np.polynomial.Polynomial(np.random.default_rng(degree).normal(size=degree + 1), domain=[0.0, 400.0])
        coef = np.linalg.solve(design_matrix(t, k, x_sites), poly(x_sites))
        x = np.linspace(-200.0, 600.0, 81)
        np.testing.assert_allclose(design_matrix(t, k, x) @ coef, poly(x), atol=1e-10 * max(1.0, abs(poly(x)).max()))


def interpolated_surface(shape):
    """(tx, kx, gx, ty, ky, gy, values, coef): the interpolant of random ~10 m values on an even grid over BOX."""
    gx, gy = np.linspace(*BOX[0], shape[0]), np.linspace(*BOX[1], shape[1])
    values = np.random.default_rng(6).normal(size=shape) * 10.0
    tx, kx, ty, ky, coef = interpolant(gx, gy, values)
    return tx, kx, gx, ty, ky, gy, values, coef


@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (6, 4), (8, 7)])
def test_interpolant_passes_through_the_data(shape):
    tx, kx, gx, ty, ky, gy, values, coef = interpolated_surface(shape)
    x, y = (a.ravel() for a in np.meshgrid(gx, gy, indexing="ij"))
    np.testing.assert_allclose(evaluate_2d(coef, tx, kx, x, ty, ky, y), values.ravel(), atol=1e-10)


@pytest.mark.parametrize("n_points", [300, 20_000])        # one block; several, the last one partial
@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (6, 4), (8, 7)])
def test_evaluation_is_scipys_tensor_spline_inside_and_outside_the_box(shape, n_points):
    tx, kx, _, ty, ky, _, _, coef = interpolated_surface(shape)
    x, y = np.random.default_rng(7).uniform(-100.0, 500.0, (2, n_points))     # a quarter or so beyond the box
    reference = NdBSpline((tx, ty), coef, (kx, ky), extrapolate=True)(np.column_stack([x, y]))
    np.testing.assert_allclose(evaluate_2d(coef, tx, kx, x, ty, ky, y), reference, atol=1e-10)


def test_at_the_end_knots_only_the_end_basis_functions_are_nonzero():
    # clamped knots: exactly at each end, the last knot included, the spline takes the corner data
    tx, kx, _, ty, ky, _, values, coef = interpolated_surface((6, 4))
    x, y = np.array([tx[0], tx[-1], tx[-1], tx[0]]), np.array([ty[0], ty[0], ty[-1], ty[-1]])
    ends = point_basis(tx, kx, x[:2])                                        # x = first knot, last knot
    np.testing.assert_array_equal(ends.first, [0, ends.n_coef - kx - 1])
    np.testing.assert_array_equal(ends.values, [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(evaluate_2d(coef, tx, kx, x, ty, ky, y),
                               [values[0, 0], values[-1, 0], values[-1, -1], values[0, -1]], atol=1e-12)


def test_reading_a_scenario_imports_no_scipy():
    # scipy.interpolate alone takes ~0.6 s to import: more than `surrogate predict` may spend starting up
    check = ("import sys, fem.model, fem.scenario, fem.stations; "
             "print([m for m in sys.modules if m.startswith('scipy')])")
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout == "[]\n"
