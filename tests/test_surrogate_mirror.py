"""Mirror augmentation of the grid networks' samples (surrogate.mirror): the transform of a sample is the
sample of the mirrored ground model, station by station and component by component."""
import numpy as np
import pytest

from surrogate.dataset import Store
from surrogate.errors import SurrogateInputError
from surrogate.features import N_POSITION_CHANNELS
from surrogate.mirror import component_signs, mirror, random_mirrors, store_mirrors
from surrogate.normalise import Normaliser, standardise
from surrogate.taskdata import _channels_last, component_rms, task_arrays

PLANE = "type: plane_wave\ncomponent: {}\nwavelet: {{type: ricker, f0: 2.0, t0: 0.6, amplitude: 0.01}}\n"
POINT = ("type: moment_tensor\nposition: [50.0, 50.0, -30.0]\ntensor: {mxx: 1.0, myy: 1.0, mzz: 1.0, mxy: 0.0, "
         "mxz: 0.0, myz: 0.0}\ntime_function: {type: brune, rise_time: 0.1}\n")
NX, NY, T, B, L = 4, 3, 5, 2, 3


def grid_store(component: str = "x", n_models: int = 2, extra=((17.0, 33.0),)) -> Store:
    """Random arrays on a 4 x 3 cell-centre grid of a 100 m x 60 m box, plus off-grid stations."""
    rng = np.random.default_rng(1)
    gx, gy = (np.arange(NX) + 0.5) * 100.0 / NX, (np.arange(NY) + 0.5) * 60.0 / NY
    xy = np.concatenate([np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2), np.array(extra).reshape(-1, 2)])
    r = xy.shape[0]
    return Store(rng.normal(size=(n_models, r, 3, 4)).astype(np.float32),
                 rng.normal(size=(n_models, r, 3, T)).astype(np.float32), rng.normal(size=(n_models, r)),
                 rng.normal(size=(n_models, B, r)) - 10.0, rng.uniform(1, 2, (n_models, L, 4)), xy,
                 np.arange(4.0), np.arange(T) * 0.1, np.zeros(n_models, np.int8), (NX, NY), PLANE.format(component))


@pytest.mark.parametrize("source, axis, expected", [
    ("x", "y", (1, -1, 1)), ("x", "x", (1, -1, -1)),     # the x-polarised S wave
    ("y", "x", (-1, 1, 1)), ("y", "y", (-1, 1, -1)),     # y-polarised: x and y swap roles
    ("z", "x", (-1, 1, 1)), ("z", "y", (1, -1, 1)),      # the P wave: only the mirrored horizontal flips
])
def test_component_signs(source, axis, expected):
    assert component_signs(source, axis).tolist() == list(expected)


def mirrored_store(store: Store, component: str, axis: str) -> Store:
    """The store of the mirrored models built station by station: station r takes the values of the
    station at M xy_r, its velocity components the signs of the mirror, its spectra none."""
    grid_xy = store.station_xy[: NX * NY]
    centre = (grid_xy.max(0) + grid_xy.min(0)) / 2
    k = "xy".index(axis)
    source_of = [int(np.argmin(np.abs(grid_xy - np.where(np.arange(2) == k, 2 * centre - p, p)).sum(1)))
                 for p in grid_xy]
    signs = component_signs(component, axis)
    velocity = store.velocity.astype(np.float64)[:, source_of] * signs[:, None]
    return Store(np.concatenate([store.spectra[:, source_of], store.spectra[:, NX * NY:]], axis=1),
                 np.concatenate([velocity, store.velocity[:, NX * NY:]], axis=1),
                 np.concatenate([store.ground_elevation[:, source_of], store.ground_elevation[:, NX * NY:]], axis=1),
                 np.concatenate([store.boundary_elevation[..., source_of], store.boundary_elevation[..., NX * NY:]],
                                axis=-1),
                 store.layers, store.station_xy, store.frequency, store.time, store.split, store.grid,
                 store.source)


@pytest.mark.parametrize("component", ["x", "y", "z"])
@pytest.mark.parametrize("axis", ["x", "y"])
def test_mirrored_sample_is_the_mirrored_models_sample(component, axis):
    store = grid_store(component)
    mirrors = store_mirrors(store.source, store.station_xy, store.grid, T)
    arrays = task_arrays(store, "forward_spatial", np.arange(2))
    x, y = mirror(arrays.inputs, arrays.targets, axis, mirrors)
    expected = task_arrays(mirrored_store(store, component, axis), "forward_spatial", np.arange(2))
    np.testing.assert_allclose(x, expected.inputs, atol=1e-12)
    np.testing.assert_allclose(y, expected.targets, atol=1e-6)
    # the station positions stay where the stations are
    np.testing.assert_array_equal(x[:, -N_POSITION_CHANNELS:], arrays.inputs[:, -N_POSITION_CHANNELS:])


def test_mirror_commutes_with_standardisation_and_is_an_involution():
    store = grid_store("x")
    mirrors = store_mirrors(store.source, store.station_xy, store.grid, T)
    a = task_arrays(store, "forward_spatial", np.arange(2))
    norm = component_rms(a.targets)
    assert np.unique(norm.std).size == 3 and not norm.mean.any()
    for axis in "xy":
        x, y = mirror(a.inputs, a.targets, axis, mirrors)
        _, ys = mirror(a.inputs, standardise(a.targets, norm), axis, mirrors)
        np.testing.assert_allclose(ys, standardise(y, norm), atol=1e-6)
        x2, y2 = mirror(x, y, axis, mirrors)
        np.testing.assert_array_equal(x2, a.inputs)
        np.testing.assert_array_equal(y2, a.targets)


def test_random_mirrors_flips_each_sample_as_told():
    store = grid_store("y", n_models=4)
    mirrors = store_mirrors(store.source, store.station_xy, store.grid, T)
    a = task_arrays(store, "forward_spatial", np.arange(4))
    flips = np.array([[False, False], [True, False], [False, True], [True, True]])
    x, y = random_mirrors(a.inputs, a.targets, flips, mirrors)
    np.testing.assert_array_equal(x[0], a.inputs[0])
    np.testing.assert_array_equal(y[1], mirror(a.inputs[1], a.targets[1], "x", mirrors)[1])
    np.testing.assert_array_equal(y[2], mirror(a.inputs[2], a.targets[2], "y", mirrors)[1])
    both = mirror(*mirror(a.inputs[3], a.targets[3], "x", mirrors), "y", mirrors)
    np.testing.assert_array_equal(x[3], both[0])
    np.testing.assert_array_equal(y[3], both[1])


def test_mirrors_are_refused_where_not_derived():
    store = grid_store("x")
    with pytest.raises(SurrogateInputError, match="plane waves"):
        store_mirrors(POINT, store.station_xy, store.grid, T)
    skewed = store.station_xy.copy()
    skewed[0, 0] += 3.0
    with pytest.raises(SurrogateInputError, match="symmetric"):
        store_mirrors(store.source, skewed, store.grid, T)


@pytest.mark.parametrize("component", ["x", "y", "z"])
@pytest.mark.parametrize("axis", ["x", "y"])
def test_mirrored_inverse_sample_is_the_mirrored_models_sample(component, axis):
    """inverse_spatial: records in, depth maps out; physical and standardised (per-channel mean != 0)."""
    store = grid_store(component, n_models=3)
    f = store.frequency.shape[0]
    mirrors = store_mirrors(store.source, store.station_xy, store.grid, T, "inverse_spatial", f)
    arrays = task_arrays(store, "inverse_spatial", np.arange(3))
    assert arrays.inputs.shape[1] == 3 * f + 3 * T + 1
    expected = task_arrays(mirrored_store(store, component, axis), "inverse_spatial", np.arange(3))
    x, y = mirror(arrays.inputs, arrays.targets, axis, mirrors)
    np.testing.assert_allclose(x, expected.inputs, atol=1e-6)
    np.testing.assert_array_equal(y, expected.targets)
    norm = Normaliser.fit(_channels_last(arrays.inputs))
    assert np.abs(norm.mean[3 * f:3 * f + 3 * T]).min() > 1e-3   # the offsets matter
    xs, ys = mirror(standardise(arrays.inputs, norm), arrays.targets, axis, mirrors.standardised(norm.mean, norm.std))
    np.testing.assert_allclose(xs, standardise(expected.inputs, norm), atol=1e-5)
    np.testing.assert_array_equal(ys, expected.targets)


def test_mirrors_are_only_for_the_grid_networks():
    store = grid_store("x")
    with pytest.raises(SurrogateInputError, match="not inverse_pointwise"):
        store_mirrors(store.source, store.station_xy, store.grid, T, "inverse_pointwise")


def test_mirror_mean_estimate_is_mirror_equivariant():
    """The spatial inverse averaged over the four mirror images (surrogate.inference.mirror_mean):
    the records of the mirrored ground give the mirrored estimate, for any network weights."""
    import torch

    from surrogate.inference import Trained, mirror_mean
    from surrogate.nets import NetworkSpec, build_network
    store = grid_store("x", n_models=2)
    f = store.frequency.shape[0]
    arrays = task_arrays(store, "inverse_spatial", np.arange(2))
    torch.manual_seed(0)
    spec = NetworkSpec("inverse_spatial", arrays.inputs.shape[1], B, width=4, levels=1)
    weights = {k: v.numpy() for k, v in build_network(spec).state_dict().items()}
    model = Trained(weights, spec, Normaliser.fit(_channels_last(arrays.inputs)),
                    Normaliser.fit(_channels_last(arrays.targets)), store.frequency, store.time, store.station_xy,
                    store.grid, store.source)
    plain, averaged = model(arrays.inputs), mirror_mean(model, arrays.inputs)
    assert np.abs(plain - averaged).max() > 1e-3   # a random network is not equivariant by itself
    mirrors = store_mirrors(store.source, store.station_xy, store.grid, T, "inverse_spatial", f)
    for axis in "xy":
        x, _ = mirror(arrays.inputs, arrays.targets, axis, mirrors)
        _, expected = mirror(arrays.inputs, averaged, axis, mirrors)
        np.testing.assert_allclose(mirror_mean(model, x), expected, rtol=1e-5, atol=1e-5)
