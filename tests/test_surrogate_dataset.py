"""The training store: targets from the scenario surfaces, a split by ground model, train-only statistics,
clear refusals of malformed runs."""
import h5py
import numpy as np
import pytest
import yaml

from fem.result import Result, write_result
from surrogate.dataset import TEST, TRAIN, VALIDATION, build_store, load_store, split_models
from surrogate.errors import SurrogateInputError
from surrogate.features import waveform_components
from surrogate.resultfile import read_result
from surrogate.scenario import load_scenario, station_xy
from surrogate.spectra import Band, log_amplitude_spectra
from surrogate.taskdata import prepare, task_arrays
from tests.surrogate_fem_runs import fem_runs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("store")
    runs = fem_runs(6)
    build_store(runs, tmp / "store.h5", Band(0.25, 6.0, 16), (0.5, 0.25, 0.25), seed=5)
    return runs, load_store(tmp / "store.h5"), tmp / "store.h5"


def test_split_is_by_ground_model_and_covers_all(built):
    runs, store, path = built
    assert set(np.unique(store.split)) == {TRAIN, VALIDATION, TEST}
    parts = [set(store.models(p)) for p in (TRAIN, VALIDATION, TEST)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set.union(*parts) == set(range(len(runs)))
    # no ground model appears twice under another index either: provenance is unique per split member
    with h5py.File(path) as f:
        files = f["provenance/result_file"].asstr()[...]
    assert len(set(files)) == len(files)
    # station samples of one task come from whole models only
    n_r = store.station_xy.shape[0]
    assert task_arrays(store, "inverse_pointwise", store.models(TEST)).inputs.shape[0] == n_r * len(parts[2])


def test_split_is_seeded_and_never_leaks_for_many_sizes():
    for m in (3, 4, 10, 57, 1000):
        a, b = split_models(m, (0.8, 0.1, 0.1), 1), split_models(m, (0.8, 0.1, 0.1), 1)
        assert np.array_equal(a, b) and a.shape == (m,)
        assert (a == VALIDATION).sum() >= 1 and (a == TEST).sum() >= 1 and (a == TRAIN).sum() >= 1
    with pytest.raises(SurrogateInputError, match="at least 3"):
        split_models(2, (0.8, 0.1, 0.1), 0)


def test_targets_are_the_scenario_surfaces_beneath_the_stations(built):
    runs, store, _ = built
    for i in (0, 4):
        s = load_scenario(runs[i][0])
        xy = station_xy(s)
        # the FEM's own surface spline, evaluated one surface at a time, and the FEM's station height
        z = np.stack([surf.elevation(xy[:, 0], xy[:, 1]) for surf in s.model.surfaces])
        np.testing.assert_allclose(store.ground_elevation[i], z[0])
        np.testing.assert_allclose(store.ground_elevation[i], read_result(runs[i][1]).xyz[:, 2], atol=1e-9)
        np.testing.assert_allclose(store.boundary_elevation[i], z[1:])
        np.testing.assert_allclose(store.layers[i, :, 1], [l.vs for l in s.model.layers])
        assert (store.ground_elevation[i] - store.boundary_elevation[i]).min() >= 6.0 - 1e-6


def test_inputs_are_the_spectra_of_the_recorded_velocity(built):
    runs, store, _ = built
    with h5py.File(runs[4][1]) as f:
        v = f["receivers/velocity"][...]
    np.testing.assert_allclose(store.spectra[4], log_amplitude_spectra(v, 0.02, Band(0.25, 6.0, 16)), atol=1e-6)
    np.testing.assert_array_equal(store.velocity[4], v)


def test_normalisation_uses_the_training_models_only(built):
    _, store, _ = built
    prep = prepare(store, "inverse_pointwise")
    train = task_arrays(store, "inverse_pointwise", store.models(TRAIN))
    np.testing.assert_allclose(prep.target_norm.mean, train.targets.mean(axis=0))
    everything = task_arrays(store, "inverse_pointwise", np.arange(len(store.split)))
    assert not np.allclose(prep.target_norm.mean, everything.targets.mean(axis=0))
    assert abs(prep.train.targets.mean()) < 1e-6 and prep.train.targets.std() == pytest.approx(1.0, rel=1e-5)


def test_inverse_inputs_are_spectra_the_driven_waveform_and_ground(built):
    """Layout 3F + T + 1 for an x-polarised plane wave (its x waveform), each feature standardised."""
    _, store, _ = built
    assert yaml.safe_load(store.source)["component"] == "x"
    f, t = store.frequency.shape[0], store.time.shape[0]
    train = task_arrays(store, "inverse_pointwise", store.models(TRAIN))
    first = store.models(TRAIN)[0]
    assert train.inputs.shape[1] == 3 * f + t + 1
    np.testing.assert_allclose(train.inputs[0, : 3 * f], store.spectra[first, 0].ravel(), rtol=1e-6)
    np.testing.assert_allclose(train.inputs[0, 3 * f: -1], store.velocity[first, 0, 0], rtol=1e-6)
    assert train.inputs[0, -1] == store.ground_elevation[first, 0]
    norm = prepare(store, "inverse_pointwise").input_norm
    np.testing.assert_allclose(norm.mean, train.inputs.mean(axis=0), rtol=1e-9, atol=1e-12)
    # the spatial network reads all three components' waveforms: the cross components carry the 3D structure
    grid = task_arrays(store, "inverse_spatial", store.models(TRAIN))
    nx, ny = store.grid
    assert grid.inputs.shape[1:] == (3 * f + 3 * t + 1, ny, nx)
    np.testing.assert_allclose(grid.inputs[0, 3 * f: -1, 0, 0], store.velocity[first, 0].ravel(), rtol=1e-6)


@pytest.mark.parametrize("source, components", [
    ({"type": "plane_wave", "component": "y", "wavelet": {"type": "ricker", "f0": 1.5, "t0": 0.8, "amplitude": 0.01}},
     (1,)),
    ({"type": "moment_tensor", "position": [0.0, 0.0, -50.0], "tensor": {"mxy": 1.0e12},
      "time_function": {"type": "brune", "rise_time": 0.1}}, (0, 1, 2))])
def test_inverse_networks_read_the_components_the_source_drives(source, components):
    assert waveform_components(yaml.safe_dump(source)) == components


def test_spectrum_of_a_ricker_peaks_at_its_centre_frequency():
    t = np.arange(0, 4, 0.01)
    a = (np.pi * 2.0 * (t - 1.0)) ** 2
    spec = log_amplitude_spectra(((1 - 2 * a) * np.exp(-a))[None], 0.01, Band(0.5, 6.0, 551))[0]
    assert Band(0.5, 6.0, 551).frequencies()[spec.argmax()] == pytest.approx(2.0, abs=0.02)


def test_malformed_runs_are_refused_with_the_file_named(built, tmp_path):
    runs, _, _ = built
    with pytest.raises(SurrogateInputError, match="not found"):
        build_store([(None, tmp_path / "missing.h5")], tmp_path / "s.h5")
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["receivers/xyz"] = np.zeros((3, 3))
    with pytest.raises(SurrogateInputError, match="missing 'receivers/t'"):
        build_store([(None, bad)], tmp_path / "s.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(SurrogateInputError, match="not a readable HDF5"):
        build_store([(None, tmp_path / "junk.h5")], tmp_path / "s.h5")
    with pytest.raises(SurrogateInputError, match="different ground model"):
        build_store([(runs[1][0], runs[0][1])], tmp_path / "s.h5")
    other = yaml.safe_load(runs[2][0].read_text())
    other["source"]["wavelet"]["f0"] = 3.0
    rec = read_result(runs[2][1])
    write_result(tmp_path / "o.h5", Result(rec.xyz, rec.t, rec.velocity, yaml.safe_dump(other), "fem", 1, 1, 0.0))
    with pytest.raises(SurrogateInputError, match="o.h5: source differs"):
        build_store([runs[0], runs[1], (None, tmp_path / "o.h5")], tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()   # nothing half-written
    assert not list(tmp_path.glob(".s.h5*"))
