"""The training distribution: geometry invariants, spread, reproducibility; the 1D stand-in engine's physics."""
import numpy as np
import pytest
import yaml

from surrogate.column1d import ricker, simulate_columns
from surrogate.distribution import Distribution
from surrogate.generate import generate_scenarios
from surrogate.scenario import load_scenario, parse_scenario, station_xy
from surrogate.surfaces import surfaces_at

BASE = """
model:
  domain: {x: [0.0, 400.0], y: [0.0, 300.0], z_bottom: -120.0}
  surfaces:
    - {name: ground, elevation: 0.0}
    - {name: b12, elevation: -20.0}
    - {name: b23, elevation: -50.0}
  layers:
    - {vp: 500.0,  vs: 150.0, rho: 1700.0, damping: 0.02}
    - {vp: 1200.0, vs: 400.0, rho: 1900.0, damping: 0.01}
    - {vp: 2000.0, vs: 800.0, rho: 2100.0, damping: 0.005}
mesh: {order: 2, f_max: 5.0}
time: {duration: 4.0, dt: 0.005}
source:
  type: plane_wave
  component: x
  wavelet: {type: ricker, f0: 2.0, t0: 0.6, amplitude: 0.01}
receivers:
  grid: {nx: 4, ny: 3}
  points: [[200.0, 150.0]]
output: {dt: 0.01}
"""


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenarios")
    return [load_scenario(p) for p in generate_scenarios(BASE, 40, 7, out)]


def dense_surfaces(s, n=61):
    gx, gy = np.meshgrid(np.linspace(*s.domain.x, n), np.linspace(*s.domain.y, n))
    return surfaces_at(s, np.stack([gx.ravel(), gy.ravel()], axis=1))


def test_layers_never_cross_and_keep_minimum_thickness(scenarios):
    d = Distribution()
    for s in scenarios:
        z = dense_surfaces(s)   # denser than the generator's own check grid
        assert (z[:-1] - z[1:]).min() >= d.min_thickness_m - 0.1
        assert (z[-1] - s.domain.z_bottom).min() >= d.bottom_clearance_m - 0.1


def test_boundary_spread_makes_two_metres_a_real_test(scenarios):
    xy = station_xy(scenarios[0])
    z = np.stack([surfaces_at(s, xy) for s in scenarios])   # (M, 3, R)
    for b in (1, 2):
        assert np.ptp(z[:, b]) >= 10.0
        assert z[:, b].std() >= 4.0   # not just a few outliers
    assert np.ptp(z[:, 0]) > 2.0      # topography varies too


def test_layer_properties_are_in_their_ranges_and_stiffen_with_depth(scenarios):
    for s in scenarios:
        vs = [l.vs for l in s.layers]
        rho = [l.rho for l in s.layers]
        assert vs == sorted(vs) and rho == sorted(rho)
        for layer, r in zip(s.layers, Distribution().layers):
            assert r.vs[0] <= layer.vs <= r.vs[1]
            assert r.vp_over_vs[0] - 1e-6 <= layer.vp / layer.vs <= r.vp_over_vs[1] + 1e-6


def test_generation_is_reproducible_and_extends(tmp_path):
    a = generate_scenarios(BASE, 3, 11, tmp_path / "a")
    b = generate_scenarios(BASE, 5, 11, tmp_path / "b")
    c = generate_scenarios(BASE, 3, 12, tmp_path / "c")
    assert [p.read_text() for p in a] == [p.read_text() for p in b[:3]]
    assert a[0].read_text() != c[0].read_text()
    tree, base = yaml.safe_load(a[0].read_text()), yaml.safe_load(BASE)
    for key in ("mesh", "time", "source", "receivers", "output"):
        assert tree[key] == base[key]
    assert tree["model"]["domain"] == base["model"]["domain"]


def test_fixed_layers_keep_the_base_properties(tmp_path):
    s = [load_scenario(p) for p in generate_scenarios(BASE, 3, 1, tmp_path, fixed_layers=True)]
    base = parse_scenario(BASE)
    for sc in s:
        assert all(np.allclose(l.as_array(), b.as_array()) for l, b in zip(sc.layers, base.layers))


def test_stations_sit_at_cell_centres_x_fastest():
    xy = station_xy(parse_scenario(BASE))
    assert xy.shape == (13, 2)
    np.testing.assert_allclose(xy[:4, 0], [50, 150, 250, 350])
    np.testing.assert_allclose(xy[[0, 4, 8], 1], [50, 150, 250])
    np.testing.assert_allclose(xy[12], [200, 150])


def halfspace(text, vs, damping=0.0):
    tree = yaml.safe_load(text)
    for layer in tree["model"]["layers"]:
        layer.update(vs=vs, vp=2 * vs, rho=2000.0, damping=damping)
    return parse_scenario(yaml.safe_dump(tree))


def test_column1d_homogeneous_halfspace_doubles_the_incident_wave():
    s = halfspace(BASE, 800.0)
    rec = simulate_columns(s)
    expected = 2 * ricker(rec.t, 2.0, 0.6 + 120.0 / 800.0, 0.01)   # free surface doubling, travel-time delay
    assert np.abs(rec.velocity[:, 0] - expected).max() < 1e-4 * 0.02
    assert np.abs(rec.velocity[:, 1:]).max() == 0.0


def test_column1d_single_layer_resonance_at_quarter_wavelength():
    from surrogate.column1d import column_transfer
    h, vs_soil, vs_rock = 30.0, 150.0, 900.0
    f = np.linspace(0.2, 3.0, 2801)
    amp = np.abs(column_transfer(2 * np.pi * f, np.array([[h, 1e-9, 50.0]]), np.array([vs_soil, vs_rock, vs_rock]),
                                 np.array([1800.0, 2200.0, 2200.0]), np.zeros(3)))[0]
    # Kramer eq. 7.24 (undamped layer on elastic rock): peak at vs / 4H with amplification 2 / impedance ratio
    assert abs(f[amp.argmax()] - vs_soil / (4 * h)) < 2e-3
    assert amp.max() == pytest.approx(2 * (2200 * 900) / (1800 * 150), rel=1e-3)
