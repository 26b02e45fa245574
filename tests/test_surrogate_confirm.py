"""The FEM confirms an estimate: the confirmation scenario carries the estimated boundaries on the truth's
spline space (a flat or an exact estimate gives the truth back), crossing or too thin boundaries are
refused in one line, the misfit of identical records is zero; and engine auto's choice follows the guard."""
import json

import numpy as np
import pytest
import yaml

from fem.result import Result, write_result
from surrogate.cli import OUTSIDE, main
from surrogate.confirm import confirmation_misfit, confirmation_scenario
from surrogate.guard import Verdict
from surrogate.resultfile import write_estimate
from surrogate.scenario import parse_scenario, station_xyz, surface_elevations
from tests.surrogate_fem_runs import BASE

#: BASE (flat b12 at -10 m, b23 at -22 m, 5 x 5 stations) with 5 x 5 control grids on its boundaries
GRID_B12 = (-10.0 + 2.0 * np.sin(np.linspace(0, 3, 25))).reshape(5, 5)
GRID_B23 = (-22.0 + 1.5 * np.cos(np.linspace(0, 4, 25))).reshape(5, 5)


def scenario_with(b12, b23) -> str:
    tree = yaml.safe_load(BASE)
    tree["model"]["surfaces"][1]["elevation"] = b12
    tree["model"]["surfaces"][2]["elevation"] = b23
    return yaml.safe_dump(tree, sort_keys=False)


def observed_and_estimate(tmp_path, scenario_text: str, elevation: np.ndarray):
    """An observed result file of the scenario (records: noise, their values play no part here) and an
    estimate file with `elevation` (B, R) at its stations."""
    xyz = station_xyz(parse_scenario(scenario_text))
    t = np.arange(81) * 0.02
    velocity = np.random.default_rng(0).normal(size=(xyz.shape[0], 3, t.size)).astype(np.float32)
    write_result(tmp_path / "observed.h5", Result(xyz, t, velocity, scenario_text, "fem", 1, 10, 0.0))
    write_estimate(tmp_path / "estimate.h5", xyz, elevation, {"network": "test"})
    return tmp_path / "observed.h5", tmp_path / "estimate.h5"


def test_flat_estimate_gives_the_flat_truths_scenario(tmp_path):
    xy = station_xyz(parse_scenario(BASE))[:, :2]
    flat = np.array([np.full(len(xy), -10.0), np.full(len(xy), -22.0)])
    observed, estimate = observed_and_estimate(tmp_path, BASE, flat)
    assert main(["confirm", str(observed), str(estimate), "-o", str(tmp_path / "confirm.yaml")]) == 0
    # the whole scenario: boundaries flat numbers again, ground, layers, acquisition untouched
    assert yaml.safe_load((tmp_path / "confirm.yaml").read_text()) == yaml.safe_load(BASE)
    assert not list(tmp_path.glob(".confirm.yaml*")), "written under a temporary name, then renamed"


def test_exact_estimate_of_a_3d_truth_gives_its_control_grids_back():
    truth = scenario_with(GRID_B12.tolist(), GRID_B23.tolist())
    scenario = parse_scenario(truth)
    xy = station_xyz(scenario)[:, :2]
    text = confirmation_scenario(truth, xy, surface_elevations(scenario, xy)[1:])
    surfaces = yaml.safe_load(text)["model"]["surfaces"]
    np.testing.assert_allclose(surfaces[1]["elevation"], GRID_B12, atol=2e-4)
    np.testing.assert_allclose(surfaces[2]["elevation"], GRID_B23, atol=2e-4)
    assert surfaces[0] == yaml.safe_load(truth)["model"]["surfaces"][0]


def test_fewer_stations_than_control_points_fit_a_grid_of_the_station_grids_shape():
    tree = yaml.safe_load(scenario_with(GRID_B12.tolist(), GRID_B23.tolist()))
    tree["receivers"]["grid"] = {"nx": 4, "ny": 3}                     # 12 stations < 25 control points
    text = yaml.safe_dump(tree, sort_keys=False)
    scenario = parse_scenario(text)
    xy = station_xyz(scenario)[:, :2]
    estimate = surface_elevations(scenario, xy)[1:]
    out = parse_scenario(confirmation_scenario(text, xy, estimate))
    assert out.model.surfaces[1].control.shape == (3, 4)
    # 12 control values through 12 stations: the estimate is interpolated exactly
    np.testing.assert_allclose(surface_elevations(out, xy)[1:], estimate, atol=1e-3)


@pytest.mark.parametrize("b12, b23, named", [(-25.0, -22.0, "crosses"), (-21.8, -22.0, "too thin")])
def test_crossing_or_too_thin_estimates_are_refused_in_one_line(tmp_path, capsys, b12, b23, named):
    r = station_xyz(parse_scenario(BASE)).shape[0]
    observed, estimate = observed_and_estimate(tmp_path, BASE, np.array([np.full(r, b12), np.full(r, b23)]))
    assert main(["confirm", str(observed), str(estimate), "-o", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err and "estimate.h5" in err
    assert not (tmp_path / "c.yaml").exists()


def test_misfit_of_identical_records_is_zero_and_the_boundary_error_is_the_estimates(tmp_path):
    truth = scenario_with(GRID_B12.tolist(), GRID_B23.tolist())
    scenario = parse_scenario(truth)
    xy = station_xyz(scenario)[:, :2]
    estimate = surface_elevations(scenario, xy)[1:] + np.array([[1.0], [-3.0]])   # 1 m and 3 m off
    observed, estimate_file = observed_and_estimate(tmp_path, truth, estimate)
    assert main(["misfit", str(observed), str(observed), "--estimate", str(estimate_file),
                 "-o", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m == confirmation_misfit(observed, observed, estimate_file)
    assert m["relative_l2"] == {"x": 0.0, "y": 0.0, "z": 0.0, "all": 0.0}
    assert m["gof"]["mean"] == pytest.approx(10.0) and m["observed_engine"] == "fem"
    be = m["boundary_error"]
    assert be["rmse_m"] == pytest.approx(np.sqrt(5.0)) and be["max_m"] == pytest.approx(3.0)
    assert be["within_tolerance"] == pytest.approx(0.5)


def test_a_refused_estimate_records_why_and_its_boundary_error(tmp_path):
    truth = scenario_with(GRID_B12.tolist(), GRID_B23.tolist())
    scenario = parse_scenario(truth)
    estimate = surface_elevations(scenario, station_xyz(scenario)[:, :2])[1:] + np.array([[1.0], [-3.0]])
    observed, estimate_file = observed_and_estimate(tmp_path, truth, estimate)
    assert main(["misfit", str(observed), "--refused", "b12 crosses b23", "--estimate", str(estimate_file),
                 "-o", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["refused"] == "b12 crosses b23" and m["observed_engine"] == "fem" and "relative_l2" not in m
    assert m["boundary_error"]["max_m"] == pytest.approx(3.0)
    assert main(["misfit", str(observed), "--estimate", str(estimate_file), "-o", str(tmp_path / "n.json")]) == 2
    assert not (tmp_path / "n.json").exists()


class _Forward:
    """A stand-in for the trained forward network: only what the guard reads."""
    def __init__(self, model_dir):
        self.model = type("Trained", (), {"ranges": {}, "source": ""})()


@pytest.mark.parametrize("verdict, engine, status", [
    (Verdict(), "surrogate", 0),
    (Verdict(flagged=["boundary 1 depth 2-3 m outside the training range 5-9 m"]), "fem", OUTSIDE),
    (Verdict(refused=["layer 1 vs 90 m/s outside the training range 140-160 m/s"]), "fem", OUTSIDE),
])
def test_engine_auto_runs_the_surrogate_inside_and_the_fem_outside(tmp_path, monkeypatch, capsys, verdict, engine,
                                                                     status):
    import surrogate.predict as predict
    monkeypatch.setattr(predict, "ForwardSurrogate", _Forward)
    monkeypatch.setattr(predict, "scenario_verdict", lambda scenario, ranges, source: verdict)
    (tmp_path / "s.yaml").write_text(BASE)
    assert predict.choose_engine(tmp_path / "s.yaml", tmp_path) == (engine, verdict.reason)
    assert main(["check", str(tmp_path / "s.yaml"), "--model", str(tmp_path)]) == status
    assert capsys.readouterr().out.strip() == (engine if status == 0 else f"fem: {verdict.reason}")
