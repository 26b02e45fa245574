"""The training distribution: geometry invariants, spread, reproducibility; estimates back into scenarios."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from surrogate.distribution import GEOMETRY_SETTINGS, Distribution, distribution_from_settings
from surrogate.errors import SurrogateInputError
from surrogate.generate import draw_ground_model, generate_scenarios, scenario_with_boundaries
from surrogate.optimise import fit_control_grid, interpolation_matrix
from surrogate.scenario import layer_table, load_scenario, parse_scenario, station_xy, surface_elevations

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
    gx, gy = np.meshgrid(np.linspace(*s.model.x, n), np.linspace(*s.model.y, n))
    return surface_elevations(s, np.stack([gx.ravel(), gy.ravel()], axis=1))


def test_layers_never_cross_and_keep_minimum_thickness(scenarios):
    d = Distribution()
    for s in scenarios:
        z = dense_surfaces(s)   # denser than the generator's own check grid
        assert (z[:-1] - z[1:]).min() >= d.min_thickness_m - 0.1
        assert (z[-1] - s.model.z_bottom).min() >= d.bottom_clearance_m - 0.1


def test_boundary_spread_makes_two_metres_a_real_test(scenarios):
    xy = station_xy(scenarios[0])
    z = np.stack([surface_elevations(s, xy) for s in scenarios])   # (M, 3, R)
    for b in (1, 2):
        assert np.ptp(z[:, b]) >= 10.0
        assert z[:, b].std() >= 4.0   # not just a few outliers
    assert np.ptp(z[:, 0]) > 2.0      # topography varies too


def test_layer_properties_are_in_their_ranges_and_stiffen_with_depth(scenarios):
    for s in scenarios:
        vs = [l.vs for l in s.model.layers]
        rho = [l.rho for l in s.model.layers]
        assert vs == sorted(vs) and rho == sorted(rho)
        for layer, r in zip(s.model.layers, Distribution().layers):
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
        np.testing.assert_allclose(layer_table(sc), layer_table(base))


def test_stations_sit_at_cell_centres_x_fastest():
    xy = station_xy(parse_scenario(BASE))
    assert xy.shape == (13, 2)
    np.testing.assert_allclose(xy[:4, 0], [50, 150, 250, 350])
    np.testing.assert_allclose(xy[[0, 4, 8], 1], [50, 150, 250])
    np.testing.assert_allclose(xy[12], [200, 150])


def test_interpolation_matrix_is_the_fem_spline():
    """The spline is linear in its control values: W c equals the FEM surface through c, for any c."""
    s = parse_scenario(BASE)
    xy = np.random.default_rng(0).uniform([0, 0], [400, 300], (50, 2))
    w = interpolation_matrix(s.model.x, s.model.y, (4, 5), xy)
    control = np.random.default_rng(1).normal(-30.0, 5.0, (4, 5))
    tree = yaml.safe_load(BASE)
    tree["model"]["surfaces"][2]["elevation"] = (control - 40.0).tolist()
    tree["model"]["surfaces"][1]["elevation"] = control.tolist()
    z = surface_elevations(parse_scenario(yaml.safe_dump(tree)), xy)
    np.testing.assert_allclose(w @ control.ravel(), z[1], atol=1e-9)
    # and least squares recovers the grid from enough stations
    np.testing.assert_allclose(fit_control_grid(w, z[1:2])[0], control.ravel(), atol=1e-7)


def test_estimate_becomes_a_scenario_with_those_boundaries(tmp_path):
    s = parse_scenario(BASE)
    control = np.stack([np.full((3, 3), -25.0) + np.arange(3), np.full((3, 3), -60.0) - np.arange(3)[:, None]])
    text = scenario_with_boundaries(BASE, control)
    out = parse_scenario(text)
    xy = station_xy(out)
    w = interpolation_matrix(s.model.x, s.model.y, (3, 3), xy)
    np.testing.assert_allclose(surface_elevations(out, xy)[1:], control.reshape(2, -1) @ w.T, atol=1e-9)
    np.testing.assert_allclose(surface_elevations(out, xy)[0], surface_elevations(s, xy)[0])
    for key in ("mesh", "time", "source", "receivers", "output"):
        assert yaml.safe_load(text)[key] == yaml.safe_load(BASE)[key]
    with pytest.raises(SurrogateInputError, match="crosses"):   # the FEM's own check refuses crossing layers
        scenario_with_boundaries(BASE, control[::-1])


def test_distribution_settings_replace_only_the_named_fields():
    dist = distribution_from_settings({"correlation_length": 1.5, "thickness1_frac": [0.1, 0.2], "control_grid": [4, 6]})
    assert dist == replace(Distribution(), correlation_length=1.5, thickness1_frac=(0.1, 0.2), control_grid=(4, 6))
    assert distribution_from_settings({}) == Distribution()


@pytest.mark.parametrize("settings, named", [({"corelation_length": 1.0}, "corelation_length"),
                                             ({"thickness1_frac": [0.1]}, "thickness1_frac"),
                                             ({"min_thickness_m": "4"}, "min_thickness_m"),
                                             ({"correlation_length": 0.0}, "correlation_length")])
def test_bad_distribution_settings_are_named(settings, named):
    with pytest.raises(SurrogateInputError, match=named):
        distribution_from_settings(settings)


def test_schema_defaults_are_the_distribution_defaults():
    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    fields = schema["properties"]["scenarios"]["properties"]["distribution"]["properties"]
    assert set(fields) == set(GEOMETRY_SETTINGS)
    defaults = {k: v["default"] for k, v in fields.items()}
    assert distribution_from_settings(defaults) == Distribution()


def test_longer_correlation_gives_smoother_surfaces():
    base = parse_scenario(BASE).model
    roughness = {}
    for length in (0.35, 1.5):
        dist = distribution_from_settings({"correlation_length": length})
        steps = []
        for i in range(20):
            model = draw_ground_model(np.random.default_rng([3, i]), dist, base)
            z = model.elevations(np.linspace(0.0, 400.0, 41), np.full(41, 150.0))[1]
            steps.append(np.abs(np.diff(z, 2)).mean())
        roughness[length] = np.mean(steps)
    assert roughness[1.5] < 0.5 * roughness[0.35]
