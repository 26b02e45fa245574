"""The report page a person reads: its sections in decision order, the headline beside its baselines and
marks, the next-step line only when a score misses its mark, built from small synthetic stage outputs."""
import importlib.util
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from fem.result import Result, write_result
from surrogate.modelfile import ARRAYS, ModelFile, write_model

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("report", ROOT / "workflow/scripts/report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)

SECTIONS = ["headline", "next-steps", "test-figures", "training", "cost", "inversion", "run-time", "provenance",
            "all-metrics"]


def metrics(within: float) -> dict:
    """metrics.json as surrogate.evaluate writes it, with the inverse score `within`."""
    def scores(w):
        return {"within_tolerance": w, "rmse_m": 1.7,
                "per_boundary": {"b12": {"within_tolerance": w + 0.01, "rmse_m": 1.5},
                                 "b23": {"within_tolerance": w - 0.01, "rmse_m": 1.9}}}

    def ci(w):
        return {"within_tolerance": w, "ci_low": w - 0.05, "ci_high": w + 0.03, "level": 0.95, "n_models": 12,
                "per_boundary": {"b12": {"within_tolerance": w, "ci_low": w - 0.06, "ci_high": w + 0.04}}}
    component = {"relative_l2_median": 0.12, "gof_median": 7.1, "envelope_gof_above_6": 0.93,
                 "phase_gof_above_8": 0.88, "within_2sigma": 0.94}
    return {"n_test_models": 12, "n_stations": 16,
            "boundary_elevation": {
                "tolerance_m": 2.0, "network": "inverse_pointwise", **scores(within), "bootstrap": ci(within),
                "baselines": {"trivial": {**scores(0.4321), "bootstrap": ci(0.4321)},
                              "mean_depth_oracle": {**scores(0.6543), "bootstrap": ci(0.6543)}},
                "by_roughness": [{"spread_m": [0.0, 2.0], "within_tolerance": min(within + 0.05, 1.0), "n": 8},
                                 {"spread_m": [2.0, 9.0], "within_tolerance": within - 0.2, "n": 8}],
                "uncertainty": {"within_2_sigma": 0.9321, "n_estimates": 384, "n_misses": 10, "misses_flagged": 7,
                                "misses_flagged_fraction": 0.7, "flagged_fraction": 0.1, "sigma_median_m": 0.8}},
            "ground_motion": {"network": "forward", "relative_l2_median": 0.2, "pgv_tolerance_m_s": 0.02,
                              "pgv_within_tolerance": 0.9, "gof_median": 7.0,
                              "per_component": {"x": component, "y": {**component, "relative_l2_median": 0.3},
                                                "z": {**component, "relative_l2_median": 0.25}}}}


def network(folder: Path, val_losses: list[float], train_losses: list[float], epochs: int) -> Path:
    """A trained-network folder whose model.npz records this per-epoch history (weights are irrelevant here)."""
    history = [{"epoch": e, "step": 10 * (e + 1), "train_loss": t, "val_loss": v}
               for e, (t, v) in enumerate(zip(train_losses, val_losses))]
    best = int(np.argmin(val_losses))
    meta = {"spec": {}, "config": {"epochs": epochs, "patience": 3}, "best_val": val_losses[best],
            "epoch": best + 1, "step": 10 * (best + 1), "history": history}
    write_model(folder / "model.npz", ModelFile(meta, {k: np.zeros(2) for k in ARRAYS}, {"w": np.zeros(1)}))
    return folder


@pytest.fixture
def run(tmp_path):
    """The report's inputs from a small run: two networks, two new models (one observed by the FEM, one by
    the surrogate), their estimates, confirmations and logs, a plot and the benchmarks."""
    nets = [network(tmp_path / "inverse_pointwise", [1.0, 0.6, 0.4, 0.3], [0.9, 0.4, 0.2, 0.1], epochs=4),
            network(tmp_path / "forward", [1.0, 0.5, 0.6, 0.7], [1.0, 0.5, 0.45, 0.4], epochs=10)]
    xyz = np.array([[x, y, 0.0] for y in (0.0, 100.0, 200.0) for x in (0.0, 100.0, 200.0)])
    sims, estimates, confirm = [], [], []
    for i, (stem, engine, dofs, wall) in enumerate((("n000", "fem", 12345, 61.5), ("n001", "surrogate", 0, 0.8))):
        velocity = np.zeros((9, 3, 5), np.float32)
        sims.append(tmp_path / "simulations/new" / f"{stem}.h5")
        write_result(sims[-1], Result(xyz, np.arange(5.0), velocity, "scenario", engine, 2, dofs, wall))
        write_result(tmp_path / "confirm" / f"{stem}.h5",
                     Result(xyz, np.arange(5.0), velocity, "scenario", "fem", 2, 23456, 77.25))
        estimates.append(tmp_path / "inversion" / f"{stem}.h5")
        estimates[-1].parent.mkdir(exist_ok=True)
        with h5py.File(estimates[-1], "w") as f:
            f["receivers/xyz"] = xyz
            f["boundaries/elevation"] = np.stack([-20 - xyz[:, 0] / 100, -50 + xyz[:, 1] / 100])
            f["boundaries/elevation_std"] = np.full((2, 9), 0.5 + i)
        confirm.append(tmp_path / "confirm" / f"{stem}.json")
        confirm[-1].write_text(json.dumps({
            "observed_engine": engine, "confirmed_engine": "fem", "relative_l2": {"x": 0.1, "y": 0.2, "z": 0.3},
            "gof": {"mean": 7.5}, "boundary_error": {"rmse_m": 1.25, "max_m": 3.5, "within_tolerance": 0.875,
                                                     "tolerance_m": 2.0}}))
    logs = tmp_path / "logs"
    for folder, stem, cg in (("simulate/new", "n000", 17.5), ("confirm", "n000", 21.25), ("confirm", "n001", 19.0)):
        (logs / folder).mkdir(parents=True, exist_ok=True)
        out = "simulations/new" if folder.startswith("simulate") else "confirm"
        (logs / folder / f"{stem}.log").write_text(
            f"step 10/10\nfem: wrote results/{out}/{stem}.h5; mean CG iterations/step {cg}, 0.1 s/step\n")
    (tmp_path / "benchmarks/simulate").mkdir(parents=True)
    (tmp_path / "benchmarks/simulate/n000.tsv").write_text("s\tmax_rss\n61.5\t300\n")
    plot = tmp_path / "boundary_errors.png"
    from surrogate.plots import plt
    plt.imsave(plot, np.zeros((4, 4)))
    (tmp_path / "config.yaml").write_text("engine: fem\n")
    return {"dir": tmp_path, "networks": nets, "simulations": sims, "estimates": estimates, "confirm": confirm,
            "logs": logs, "plot": plot}


def build(run, within: float) -> str:
    d = run["dir"]
    (d / "metrics.json").write_text(json.dumps(metrics(within)))
    out = d / f"report_{within}.html"
    assert report.main(["--metrics", str(d / "metrics.json"), "--plots", str(run["plot"]),
                        "--benchmarks", str(d / "benchmarks"), "--config", str(d / "config.yaml"),
                        "--networks", *map(str, run["networks"]), "--simulations", *map(str, run["simulations"]),
                        "--logs", str(run["logs"]), "--estimates", *map(str, run["estimates"]),
                        "--confirm", *map(str, run["confirm"]), "-o", str(out)]) == 0
    return out.read_text()


def section(page: str, id_: str) -> str:
    return page.split(f"<section id='{id_}'>")[1].split("</section>")[0]


def test_a_low_score_report_leads_with_the_headline_and_says_what_to_do_next(run):
    page = build(run, 0.8125)
    ids = re.findall(r"<section id='([a-z-]+)'>", page)
    assert ids == SECTIONS
    head = section(page, "headline")
    # the headline with its interval and per boundary, beside the baselines, the target and the published marks
    for text in ("81.2 % (CI 76.2-84.2 %)", "82.2 %", "80.2 %", "43.2 %", "65.4 %", "mean-depth oracle",
                 "95.0 %", "89.1 %", "99.4 %", "below target", "93.2 %", "7 are flagged"):
        assert text in head, text
    # ground motion per component against its marks: x, y, z rows, the published 3D surrogate's shares
    for text in ("<td>x</td>", "<td>y</td>", "<td>z</td>", "93.0 %", "88.0 %", "87.0 %", "80.0 %"):
        assert text in head, text
    steps = section(page, "next-steps")
    # the inverse network's validation loss still fell at its last epoch; the forward one's turned up (no step)
    assert "train inverse_pointwise longer" in steps and "train forward longer" not in steps
    assert "3.0x its training loss" in steps                      # 0.3 / 0.1 at the saved epoch
    assert "most 3D models" in steps and "confirm flagged estimates with the FEM" in steps
    assert "Ground motion" not in steps                            # every forward score meets its mark
    training = section(page, "training")
    assert "data:image/png;base64," in training and "inverse_pointwise" in training and "forward" in training
    cost = section(page, "cost")
    for text in ("<td>n000</td><td>fem</td><td>12345</td><td>2</td><td class='num'>17.5</td><td class='num'>61.5",
                 "<td>n001</td><td>surrogate</td><td>-</td>", "23456", "21.25", "19", "77.25"):
        assert text in cost, text
    inversion = section(page, "inversion")
    assert "data:image/png;base64," in inversion and "FEM confirmation of the estimates" in inversion
    assert "<td>n001</td><td>surrogate</td>" in inversion
    assert "simulate" in section(page, "run-time") and "engine: fem" in section(page, "provenance")
    assert "boundary_elevation.baselines.trivial.rmse_m" in section(page, "all-metrics")


def test_a_report_whose_scores_meet_their_marks_has_no_next_step(run):
    page = build(run, 0.97)
    assert "<section id='next-steps'>" not in page and "What to do next" not in page
    assert "97.0 %" in section(page, "headline") and "meets the 95.0 % target" in section(page, "headline")


def test_a_missed_forward_mark_names_ground_motion_and_its_network(run):
    m = metrics(0.97)
    m["ground_motion"]["per_component"]["y"]["phase_gof_above_8"] = 0.5
    states = report.training_states(run["networks"])
    steps = report.next_steps(m, states)
    assert steps and all(s.startswith("Ground motion") for s in steps)
    assert report.forward_misses(m["ground_motion"]) == ["y: phase GOF above 8 for 50.0 % < 85.0 %"]


def test_a_model_file_without_history_falls_back_to_where_it_was_saved(tmp_path):
    folder = tmp_path / "inverse_pointwise"
    write_model(folder / "model.npz", ModelFile({"config": {"epochs": 40, "patience": 10}, "epoch": 40,
                                                 "best_val": 0.2}, {k: np.zeros(2) for k in ARRAYS}, {}))
    state = report.training_states([folder])["inverse_pointwise"]
    assert state["history"] == [] and report.still_improving(state)   # saved after its last allowed epoch
    assert report.generalisation_gap(state) is None
    assert "not recorded" in report.training_section({"inverse_pointwise": state})
