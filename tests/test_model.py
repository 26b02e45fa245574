"""The ground model: surface interpolation and validation."""
import numpy as np
import pytest

from fem.model import GroundModel, Layer, ModelError, Surface

BOX = ((0.0, 400.0), (0.0, 300.0))


def surface(control) -> Surface:
    return Surface("s", np.atleast_2d(np.asarray(control, float)), *BOX)


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (4, 5), (6, 4)])
def test_spline_passes_through_every_control_point(shape):
    control = np.random.default_rng(1).normal(size=shape) * 10.0
    s = surface(control)
    gx, gy = np.meshgrid(np.linspace(*BOX[0], shape[1]), np.linspace(*BOX[1], shape[0]))
    np.testing.assert_allclose(s.elevation(gx, gy), control, atol=1e-10)


def test_cubic_spline_reproduces_a_cubic_exactly():
    f = lambda x, y: 1e-6 * x**3 - 2e-6 * y**3 + 1e-4 * x * y + 3.0   # noqa: E731
    gx, gy = np.meshgrid(np.linspace(*BOX[0], 5), np.linspace(*BOX[1], 6))
    s = surface(f(gx, gy))
    x, y = np.random.default_rng(2).uniform(0, 300, (2, 50))
    np.testing.assert_allclose(s.elevation(x, y), f(x, y), atol=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 5), (6, 4), (8, 7)])
def test_spline_data_is_fitpacks_interpolant(shape):
    from scipy.interpolate import RectBivariateSpline
    control = np.random.default_rng(6).normal(size=shape) * 10.0
    b = surface(control).bspline
    if shape == (1, 1):             # FITPACK has no degree 0: a flat surface is a constant bilinear patch
        assert (b.kx, b.ky) == (1, 1)
        np.testing.assert_array_equal(np.concatenate([b.tx, b.ty]), [0.0, 0.0, 400.0, 400.0, 0.0, 0.0, 300.0, 300.0])
        np.testing.assert_array_equal(b.coef, np.full((2, 2), control[0, 0]))
        return
    ny, nx = shape
    reference = RectBivariateSpline(np.linspace(*BOX[0], nx), np.linspace(*BOX[1], ny), control.T,
                                    kx=min(3, nx - 1), ky=min(3, ny - 1), s=0)
    np.testing.assert_array_equal(np.concatenate([b.tx, b.ty]), np.concatenate(reference.get_knots()))
    np.testing.assert_allclose(b.coef.ravel(), reference.get_coeffs(), atol=1e-9 * 10.0)


def test_flat_surface_is_constant_everywhere():
    s = surface([[-20.0]])
    assert s.is_flat
    np.testing.assert_allclose(s.elevation([0.0, 123.0, 400.0], [0.0, 45.0, 300.0]), -20.0)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 5), (6, 4)])
def test_grid_evaluation_equals_pointwise_evaluation(shape):
    s = surface(np.random.default_rng(3).normal(size=shape) * 10.0)
    gx, gy = np.linspace(*BOX[0], 37), np.linspace(*BOX[1], 23)     # box edges included
    np.testing.assert_allclose(s.grid_elevation(gx, gy), s.elevation(*np.meshgrid(gx, gy)), atol=1e-10)


@pytest.mark.parametrize("n_points", [50, 5000])        # the cached station-set path and the large one
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 5), (6, 4)])
def test_pointwise_evaluation_is_scipys_tensor_spline_inside_and_outside_the_box(shape, n_points):
    from scipy.interpolate import NdBSpline
    s = surface(np.random.default_rng(4).normal(size=shape) * 10.0)
    b = s.bspline
    x, y = np.random.default_rng(5).uniform(-50.0, 450.0, (2, n_points))    # some points beyond the box
    reference = NdBSpline((b.tx, b.ty), b.coef, (b.kx, b.ky), extrapolate=True)(np.column_stack([x, y]))
    np.testing.assert_allclose(s.elevation(x, y), reference, atol=1e-10)
    np.testing.assert_allclose(s.elevation(x.reshape(-1, 10), y.reshape(-1, 10)), reference.reshape(-1, 10), atol=1e-10)


def three_layers(b12=-20.0, b23=-50.0, z_bottom=-120.0, vs=150.0) -> GroundModel:
    layers = (Layer(500.0, vs, 1700.0, 0.02), Layer(1200.0, 400.0, 1900.0, 0.01), Layer(2000.0, 800.0, 2100.0, 0.0))
    surfaces = (surface([[0.0]]), surface(b12), surface(b23))
    return GroundModel(*BOX, z_bottom, surfaces, layers)


def test_layer_index_on_and_between_boundaries():
    model = three_layers()
    z = np.array([5.0, 0.0, -10.0, -20.0, -30.0, -50.0, -100.0, -130.0])
    np.testing.assert_array_equal(model.layer_index(100.0, 50.0, z), [-1, 0, 0, 1, 1, 2, 2, 2])


@pytest.mark.parametrize("kwargs, message", [
    ({"b12": [[-20.0, -20.0], [-60.0, -60.0]]}, "crosses"),
    ({"b23": -20.5}, "too thin"),
    ({"z_bottom": -40.0}, "crosses"),
    ({"vs": -1.0}, "vs and rho must be positive"),
    ({"vs": 480.0}, "bulk modulus"),
])
def test_invalid_models_are_refused_with_a_named_problem(kwargs, message):
    with pytest.raises(ModelError, match=message):
        three_layers(**kwargs).validate()
