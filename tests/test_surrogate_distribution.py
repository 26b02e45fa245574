"""The 3D training distribution: the shapes' geometry, valid and reproducible draws per family, the
held-out family, the spread that makes +-2 m a test of 3D structure, the unchanged near-1D default,
and settings refused in one line naming the key."""
from pathlib import Path

import numpy as np
import pytest
import yaml

from surrogate import shapes
from surrogate.cli import main as surrogate_main
from surrogate.distribution import FAMILIES, Distribution, distribution_from_settings, draw_mixture
from surrogate.errors import SurrogateInputError
from surrogate.generate import draw_ground_model, generate_scenarios
from surrogate.scenario import load_scenario, parse_scenario, station_xy

ROOT = Path(__file__).resolve().parents[1]
CONFIG_3D = yaml.safe_load((ROOT / "config" / "benchmark3d.yaml").read_text())
BASE_3D_TEXT = (ROOT / CONFIG_3D["base_scenario"]).read_text()
BOX = parse_scenario(BASE_3D_TEXT).model
DIST_3D = distribution_from_settings(CONFIG_3D["scenarios"]["distribution"])


def draw(dist: Distribution, n: int, seed: int = 5, box=BOX) -> list:
    return [draw_ground_model(np.random.default_rng([seed, i]), dist, box) for i in range(n)]


def dense(model, n: int = 61) -> np.ndarray:
    """(S + 1, n, n) surfaces and z_bottom on a grid denser than the generator's 41-point check, m."""
    g = [s.grid_elevation(np.linspace(*model.x, n), np.linspace(*model.y, n)) for s in model.surfaces]
    return np.stack(g + [np.full_like(g[0], model.z_bottom)])


def test_unit_shapes_have_their_stated_scale():
    grid = shapes.ControlGrid.of_box((0.0, 64.0), (0.0, 64.0), (17, 17))
    rng = np.random.default_rng(0)
    plane = shapes.dipping(rng, grid)
    np.testing.assert_allclose(np.hypot(*np.gradient(plane, 4.0)), 1.0, atol=1e-12)   # unit gradient
    field = shapes.multiscale(rng, grid, 1.0, (16.0, 128.0))
    assert abs(field.mean()) < 1e-12 and np.isclose(field.std(), 1.0)
    step = shapes.fault(rng, grid)
    assert step.min() == 0.0 and step.max() == 1.0     # both sides of the fault lie in the box
    ridge = shapes.ridge(rng, grid, (8.0, 8.0))
    assert 0.9 < np.abs(ridge).max() <= 1.0
    bowls = shapes.basin(rng, grid, (20.0, 30.0), (1, 1))
    assert np.abs(bowls).max() <= 1.0 and (bowls == 0.0).any()   # compact: zero beyond the rim


def test_higher_hurst_exponent_gives_smoother_multiscale_fields():
    grid = shapes.ControlGrid.of_box((0.0, 64.0), (0.0, 64.0), (17, 17))
    roughness = {h: np.mean([np.abs(np.diff(shapes.multiscale(np.random.default_rng(i), grid, h, (16.0, 128.0)),
                                            2, axis=1)).mean() for i in range(30)]) for h in (0.0, 1.5)}
    assert roughness[1.5] < 0.6 * roughness[0.0]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_draws_valid_varied_models(family):
    dist = DIST_3D.single_family(family)
    for model in draw(dist, 12):
        z = dense(model)
        assert (z[:-2] - z[1:-1]).min() >= dist.min_thickness_m - 0.1   # layers 1 and 2
        assert (z[-2] - z[-1]).min() >= dist.bottom_clearance_m - 0.1
        assert z[1:-1].std(axis=(1, 2)).min() > 1.0                     # the family shapes each boundary


def test_draws_are_reproducible_and_seeded(tmp_path):
    a, b, c = draw(DIST_3D, 3, seed=5), draw(DIST_3D, 3, seed=5), draw(DIST_3D, 3, seed=6)
    for x, y, z in zip(a, b, c):
        assert all(np.array_equal(s.control, t.control) for s, t in zip(x.surfaces, y.surfaces))
        assert not np.array_equal(x.surfaces[1].control, z.surfaces[1].control)
    assert a[0].surfaces[1].control.shape == DIST_3D.control_grid


def test_holdout_family_is_never_drawn_for_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the held-out family was drawn")
    monkeypatch.setattr(shapes, "fault", refuse)
    assert DIST_3D.holdout_family == "fault"
    draw(DIST_3D, 40)
    mixtures = [draw_mixture(np.random.default_rng(i), DIST_3D) for i in range(300)]
    assert {len(m) for m in mixtures} == {1, 2, 3}                     # families_per_model
    assert {f for m in mixtures for f in m} == set(FAMILIES) - {"fault"}


def test_family_set_draws_that_family_alone_from_the_command_line(tmp_path, monkeypatch):
    for other in set(FAMILIES) - {"fault"}:
        monkeypatch.setattr(shapes, other, lambda *a, **k: pytest.fail("another family was drawn"))
    config = tmp_path / "benchmark3d.yaml"
    config.write_text(yaml.safe_dump({**CONFIG_3D, "base_scenario": str(ROOT / CONFIG_3D["base_scenario"])}))
    assert surrogate_main(["generate", "--config", str(config), "--n", "4", "--seed", "9", "--family", "fault",
                           "--out", str(tmp_path / "cli")]) == 0
    library = generate_scenarios(BASE_3D_TEXT, 4, 9, tmp_path / "lib", DIST_3D, fixed_layers=True, family="fault")
    assert [p.read_text() for p in library] == [p.read_text() for p in sorted((tmp_path / "cli").glob("*.yaml"))]
    assert all(load_scenario(p).model.surfaces[2].control.shape == (8, 8) for p in library)


def test_3d_boundaries_spread_far_beyond_the_tolerance_and_defeat_the_mean_depth_oracle():
    """Near-1D: each model's true mean depth puts most station estimates within 2 m. 3D: the
    boundaries vary within a model by several metres and the same oracle fails."""
    xy = station_xy(parse_scenario(BASE_3D_TEXT))[:64]
    near_1d = distribution_from_settings({"correlation_length": 1.5})
    oracle, spread = {}, {}
    for name, dist in (("near_1d", near_1d), ("3d", DIST_3D)):
        models = draw(dist, 80)
        z = np.stack([m.elevations(xy[:, 0], xy[:, 1]) for m in models])         # (M, 3, R)
        depth = z[:, :1] - z[:, 1:]
        oracle[name] = (np.abs(depth - depth.mean(axis=2, keepdims=True)) < 2.0).mean()
        spread[name] = np.stack([dense(m)[1:3].std(axis=(1, 2)) for m in models])   # (M, B)
    assert oracle["near_1d"] > 0.8 and oracle["3d"] < 0.45
    assert (np.median(spread["3d"], axis=0) > 4.0).all()                   # each boundary: std > 4 m, median
    assert (np.percentile(spread["3d"], 10, axis=0) > 2.5).all()
    assert (np.median(spread["near_1d"], axis=0) < 2.0).all()


def test_default_draws_are_unchanged():
    """Model (3, i) of the default distribution as drawn before the families existed."""
    tiny = parse_scenario((ROOT / "config/scenarios/tiny.yaml").read_text()).model
    bench = parse_scenario((ROOT / "config/scenarios/benchmark.yaml").read_text()).model
    expected = {0: ([-3.890729182634, -12.200180208011, -30.513890478654], [136.47814736338, 541.307855209344,
                                                                             1052.979521493443]),
                1: ([2.126900428005, -8.737620370181, -33.246897071694], [244.75519397823, 487.301903113025,
                                                                          868.229291974023])}
    for i, (centre, vs) in expected.items():
        model = draw_ground_model(np.random.default_rng([3, i]), distribution_from_settings({"families": []}), tiny)
        np.testing.assert_allclose([s.control[2, 2] for s in model.surfaces], centre, rtol=1e-10)
        np.testing.assert_allclose([l.vs for l in model.layers], vs, rtol=1e-10)
    dist = distribution_from_settings({"correlation_length": 1.5}).with_fixed_layers(bench.layers)
    model = draw_ground_model(np.random.default_rng([3, 5]), dist, bench)
    np.testing.assert_allclose([s.control[2, 2] for s in model.surfaces],
                               [-0.231034140663, -21.46689440764, -28.415736260388], rtol=1e-10)


@pytest.mark.parametrize("settings, named", [
    ({"families": ["faults"]}, "families"),
    ({"families": "fault"}, "families"),
    ({"families": ["fault", "fault"]}, "families"),
    ({"families": ["basin"], "holdout_family": "fault"}, "holdout_family"),
    ({"families": ["basin"], "holdout_family": "ridges"}, "holdout_family"),
    ({"families": ["fault"], "holdout_family": "fault"}, "families_per_model"),
    ({"dip_deg": [10.0, 50.0]}, "dip_deg"),
    ({"fault_throw_m": [14.0, 6.0]}, "fault_throw_m"),
    ({"basin_count": [0, 2]}, "basin_count"),
    ({"families_per_model": [1.5, 2]}, "families_per_model"),
    ({"ridge_height_m": [6.0, "14"]}, "ridge_height_m"),
    ({"families": ["multiscale"], "control_grid": [5, 5], "multiscale_wavelength_frac": [0.3, 2.0]},
     "multiscale_wavelength_frac"),
])
def test_bad_family_settings_are_refused_in_one_line_naming_the_key(settings, named):
    with pytest.raises(SurrogateInputError, match=f"distribution.{named}") as err:
        distribution_from_settings(settings)
    assert "\n" not in str(err.value)


def test_unknown_family_for_a_held_out_set_is_refused():
    with pytest.raises(SurrogateInputError, match="unknown family 'faults'"):
        DIST_3D.single_family("faults")
    with pytest.raises(SurrogateInputError, match="multiscale_wavelength_frac"):   # 5 x 5 grid: too coarse
        distribution_from_settings({"multiscale_wavelength_frac": [0.3, 2.0]}).single_family("multiscale")
