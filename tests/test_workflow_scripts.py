"""The workflow's own scripts: the per-model scenario writer and the HTML report."""
import importlib.util
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "workflow/scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scenario = _load("scenario")
report = _load("report")
BASE = (ROOT / "config/scenarios/tiny.yaml").read_text()


def test_model_i_equals_the_library_generators_model_i(tmp_path):
    from surrogate.generate import generate_scenarios
    paths = generate_scenarios(BASE, 4, seed=7, out_dir=tmp_path)
    for i, path in enumerate(paths):
        assert yaml.safe_load(scenario.scenario_text(BASE, 7, i, False, {})) == yaml.safe_load(path.read_text())


def test_family_set_model_i_equals_the_library_generators_model_i(tmp_path):
    """One drawer: the models stage's script and `python -m surrogate generate --family` agree."""
    from surrogate.distribution import distribution_from_settings
    from surrogate.generate import generate_scenarios
    config = yaml.safe_load((ROOT / "config/benchmark3d.yaml").read_text())
    base, settings = (ROOT / config["base_scenario"]).read_text(), config["scenarios"]["distribution"]
    paths = generate_scenarios(base, 3, 5, tmp_path, distribution_from_settings(settings), True, family="basin")
    for i, path in enumerate(paths):
        assert yaml.safe_load(scenario.scenario_text(base, 5, i, True, {}, settings, "basin")) == \
               yaml.safe_load(path.read_text())


def test_override_changes_only_its_keys():
    plain = yaml.safe_load(scenario.scenario_text(BASE, 1, 2, False, {}))
    changed = yaml.safe_load(scenario.scenario_text(BASE, 1, 2, False, {"time": {"duration": 1.25},
                                                                      "mesh": {"f_max": 3.0}}))
    assert changed["time"] == {**plain["time"], "duration": 1.25}
    assert changed["mesh"] == {**plain["mesh"], "f_max": 3.0}
    assert {k: v for k, v in changed.items() if k not in ("time", "mesh")} == \
           {k: v for k, v in plain.items() if k not in ("time", "mesh")}


def test_bad_override_is_refused_naming_the_key(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(BASE)
    out = tmp_path / "s.yaml"
    rc = scenario.main([str(tmp_path / "base.yaml"), "--seed", "1", "--index", "0",
                        "--override", json.dumps({"time": {"durration": 1.0}}), "-o", str(out)])
    assert rc == 2 and "durration" in capsys.readouterr().err and not out.exists()


def test_stage_times_sum_the_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for stage, name, seconds, rss in [("simulate", "a", 10.5, 300), ("simulate", "b", 4.5, 500), ("train", "x", 7.0, 900)]:
        (tmp_path / stage).mkdir(exist_ok=True)
        (tmp_path / stage / f"{name}.tsv").write_text(header + f"{seconds}\t0:00:10\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    times = {t["stage"]: t for t in report.stage_times(tmp_path)}
    assert times["simulate"] == {"stage": "simulate", "jobs": 2, "total_s": 15.0, "longest_s": 10.5, "peak_rss_mb": 500.0}
    assert times["train"]["total_s"] == 7.0


def test_report_shows_the_boundary_errors_of_the_confirm_json_not_its_own(tmp_path):
    # The confirm stage scores each estimate once (surrogate.confirm.boundary_error); the report
    # reads those numbers. Deliberately odd values: any recomputation would not give them.
    for stem in ("n000", "n001"):
        with h5py.File(tmp_path / f"{stem}.h5", "w") as f:
            f["receivers/xyz"] = np.zeros((4, 3))
            f["boundaries/elevation"] = np.zeros((2, 4))
    (tmp_path / "n000.json").write_text(json.dumps({
        "observed_engine": "fem", "relative_l2": {"x": 0.1, "y": 0.2, "z": 0.3, "all": 0.2},
        "gof": {"mean": 7.5, "min": 6.0},
        "boundary_error": {"rmse_m": 1.2345, "max_m": 6.789, "within_tolerance": 0.4321, "tolerance_m": 2.5}}))
    rows = report.inversion_scores([tmp_path / "n000.json"], [tmp_path / "n000.h5", tmp_path / "n001.h5"])
    assert rows[0] == {"model": "n000", "stations": 4, "within_tolerance": 0.4321, "rmse_m": 1.2345,
                       "max_error_m": 6.789, "tolerance_m": 2.5}
    assert rows[1]["model"] == "n001" and "no confirm JSON" in rows[1]["within_tolerance"]

    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"boundary_elevation": {"within_tolerance": 0.5, "tolerance_m": 2.0}}))
    config = tmp_path / "config.yaml"
    config.write_text("engine: fem\n")
    out = tmp_path / "index.html"
    assert report.main(["--metrics", str(metrics), "--benchmarks", str(tmp_path / "none"), "--config", str(config),
                        "--estimates", str(tmp_path / "n000.h5"), str(tmp_path / "n001.h5"),
                        "--confirm", str(tmp_path / "n000.json"), "-o", str(out)]) == 0
    inversion = out.read_text().split("<h2>Inversion of the new models</h2>")[1].split("<h2>")[0]
    for text in ("n000", "0.4321", "1.234", "6.789", "2.5", "n001", "not confirmed (no confirm JSON)"):
        assert text in inversion


def test_report_page_holds_scores_marks_times_and_provenance(tmp_path):
    metrics = {"boundary_elevation": {"within_tolerance": 0.8125, "tolerance_m": 2.0, "rmse_m": 1.4}}
    page = report.render(metrics, [], [{"stage": "simulate", "jobs": 2, "total_s": 15.0, "longest_s": 10.5,
                                        "peak_rss_mb": 500.0}], [], "engine: fem\n", {"host": "h", "numpy": "2"})
    for text in ("81.2 %", "89.1 %", "99.4 %", "boundary_elevation.rmse_m", "simulate", "engine: fem", "numpy"):
        assert text in page
