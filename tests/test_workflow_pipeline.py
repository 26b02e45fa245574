"""The real pipeline end to end on this machine (config/ci.yaml: real FEM under `mpiexec -n 2`,
2-process DDP training), shared by every test of this module through one run:

* the run is first killed (SIGKILL to snakemake and all its jobs) while a simulate job
  is in its time loop, then unlocked and re-run, so the results below are those of a
  recovered run;
* then the results layout, the FEM result files, the scores in metrics.json (recomputed
  here from the store and the trained networks), what a scenario change would re-run,
  and `engine: surrogate` (in a copy of the finished run).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from test_workflow_config import planned_jobs

ROOT = Path(__file__).resolve().parents[1]
CI = yaml.safe_load((ROOT / "config/ci.yaml").read_text())
N_DATA, N_NEW = CI["scenarios"]["data"]["count"], CI["scenarios"]["new"]["count"]
DATA_IDS = [f"d{i:04d}" for i in range(N_DATA)]
NEW_IDS = [f"n{i:03d}" for i in range(N_NEW)]
NETWORKS = ["inverse_pointwise", "forward"]     # the schema's default, which ci.yaml keeps
#: the FEM's confirmation of each new model's estimate: scenario, FEM run, misfit in one job
CONFIRM_JOBS = {"confirm": N_NEW}
RUN_TIMEOUT_S = 1500
# The shared run lands on the first test that asks for it: give each test room for it.
pytestmark = pytest.mark.timeout(2 * RUN_TIMEOUT_S)


def _env() -> dict:
    return dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
                OMP_NUM_THREADS="1")


def snakemake_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--configfile", "config/ci.yaml", *args]


def run_snakemake(wd: Path, *args: str, timeout: int = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(*args), cwd=wd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def workflow_copy(dest: Path) -> Path:
    """The workflow in a scratch folder (fem/, hpc/, surrogate/ linked), so runs leave the checkout alone."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "config"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    for pkg in ("fem", "surrogate", "hpc"):
        (dest / pkg).symlink_to(ROOT / pkg)
    return dest


def _running_simulation(wd: Path) -> Path | None:
    """Log of a simulate job whose FEM time loop has started and whose result is not there yet."""
    for log in sorted((wd / "results/logs/simulate").glob("*/*.log")):
        result = wd / "results/simulations" / log.parent.name / f"{log.stem}.h5"
        if "fem: step" in log.read_text(errors="replace") and not result.exists():
            return log
    return None


def kill_during_simulation(wd: Path, timeout: float = 900) -> Path:
    """Start the pipeline, SIGKILL snakemake and every job it started once a FEM run is mid-way."""
    proc = subprocess.Popen(snakemake_cmd("--cores", "2"), cwd=wd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while (log := _running_simulation(wd)) is None:
            assert proc.poll() is None, "the pipeline ended before any simulation could be interrupted"
            assert time.monotonic() < deadline, "no simulate job started its time loop in time"
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)   # snakemake and its jobs: nothing gets to clean up
        proc.wait()
    return log


def processes_in(wd: Path, wait_s: float = 15.0) -> list[str]:
    """Command lines of processes still running in wd (e.g. MPI ranks in a session of their own that
    outlived their launcher and could still write a result), after up to wait_s for them to end."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = []
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                if Path(os.readlink(proc_dir / "cwd")).resolve() == wd.resolve():
                    alive.append((proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict:
    wd = workflow_copy(tmp_path_factory.mktemp("pipeline"))
    killed = kill_during_simulation(wd)
    survivors = processes_in(wd)
    killed_result = wd / "results/simulations" / killed.parent.name / f"{killed.stem}.h5"
    existed_after_kill = killed_result.exists()
    locked = run_snakemake(wd, "--cores", "2", timeout=120)
    unlock = run_snakemake(wd, "--unlock", timeout=120)
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    proc = run_snakemake(wd, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-6000:]
    return {"wd": wd, "killed": killed_result, "existed_after_kill": existed_after_kill, "locked": locked,
            "survivors": survivors,
            "rerun": proc}


def test_killed_run_recovers_with_nothing_half_written(pipeline):
    wd = pipeline["wd"]
    assert pipeline["survivors"] == [], "processes of the killed run outlived it"
    assert not pipeline["existed_after_kill"], "the killed FEM run left a result file behind"
    assert pipeline["locked"].returncode != 0, "a killed run must leave its lock (snakemake --unlock)"
    # the interrupted simulation was redone, and is a complete, readable result
    with h5py.File(pipeline["killed"], "r") as f:
        assert f["receivers/velocity"].shape[-1] == f["receivers/t"].shape[0]
    assert "results/simulations/" + "/".join(pipeline["killed"].parts[-2:]) in pipeline["rerun"].stderr
    leftovers = [p for p in (wd / "results").rglob("*")
                 if p.name.endswith((".part", ".tmp"))
                 or (p.name.startswith(".") and p.is_file() and p.name != ".snakemake_timestamp")]
    assert leftovers == []
    assert "Nothing to be done" in run_snakemake(wd, "-n", "--cores", "2", timeout=300).stdout


def test_results_layout(pipeline):
    assert_results_layout(pipeline["wd"] / "results")


def assert_results_layout(wd: Path) -> None:
    """Every stage's outputs under results/ (wd), as the README describes them."""
    for set_name, ids in (("data", DATA_IDS), ("new", NEW_IDS)):
        for i in ids:
            for stage, ext in (("scenarios", "yaml"), ("meshes", "txt"), ("meshes", "npz"), ("simulations", "h5")):
                assert (wd / stage / set_name / f"{i}.{ext}").is_file(), f"{stage}/{set_name}/{i}.{ext}"
    assert (wd / "dataset/store.h5").is_file()
    for net in NETWORKS:
        assert (wd / "surrogate" / net / "model.npz").is_file(), net
    for i in NEW_IDS:
        with h5py.File(wd / "inversion" / f"{i}.h5", "r") as f:
            assert f["boundaries/elevation"].shape == (2, f["receivers/xyz"].shape[0])
    assert (wd / "evaluation/metrics.json").is_file()
    page = (wd / "report/index.html").read_text()
    assert "89.1 %" in page and "simulate" in page
    # the FEM confirmed each estimate: finite misfits, the engines, the boundary error, in the report
    assert "FEM confirmation of the estimates" in page
    for i in NEW_IDS:
        confirm = json.loads((wd / "confirm" / f"{i}.json").read_text())
        assert confirm["confirmed_engine"] == "fem" and confirm["observed_engine"] in ("fem", "surrogate")
        values = [*confirm["relative_l2"].values(), confirm["gof"]["mean"], *confirm["boundary_error"].values()]
        assert np.isfinite(values).all(), confirm
        assert 0.0 <= confirm["gof"]["mean"] <= 10.0
        assert f"<td>{i}</td><td>{confirm['observed_engine']}</td>" in page
    # every stage left a benchmark file with its wall time
    for stage in ("models", "mesh", "simulate", "dataset", "train", "select", "evaluate", "invert", "confirm",
                  "report"):
        assert list((wd / "benchmarks" / stage).rglob("*.tsv")), stage


def test_fem_results_have_the_result_layout_and_an_s_wave(pipeline):
    assert_fem_results(pipeline["wd"])


def assert_fem_results(wd: Path) -> None:
    """Every FEM result file of the run in wd: the DESIGN.md layout, 2 ranks, an S wave at the surface."""
    base = yaml.safe_load((ROOT / "config/scenarios/ci.yaml").read_text())
    amplitude = base["source"]["wavelet"]["amplitude"]
    n_stations = base["receivers"]["grid"]["nx"] * base["receivers"]["grid"]["ny"]
    n_samples = int(round(base["time"]["duration"] / base["output"]["dt"])) + 1
    for path in sorted((wd / "results/simulations").glob("*/*.h5")):
        with h5py.File(path, "r") as f:
            xyz, t, v = f["receivers/xyz"][...], f["receivers/t"][...], f["receivers/velocity"][...]
            attrs = dict(f.attrs)
        assert xyz.dtype == np.float64 and t.dtype == np.float64 and v.dtype == np.float32
        assert xyz.shape == (n_stations, 3) and v.shape == (n_stations, 3, n_samples) and t.shape == (n_samples,)
        assert attrs["engine"] == "fem" and int(attrs["ranks"]) == 2 and int(attrs["dofs"]) > 0
        scenario = (wd / "results/scenarios" / path.parent.name / f"{path.stem}.yaml").read_text()
        assert attrs["scenario"] == scenario
        # an x-polarised S wave from below: the free surface about doubles it at every station, and
        # y and z come only from the inclined boundaries, a small part of the energy
        assert np.abs(v[:, 0]).max(axis=1).min() > 1.5 * amplitude, path.name
        energy = (v.astype(np.float64) ** 2).sum(axis=(0, 2))
        assert energy[1] < 0.1 * energy[0] and energy[2] < 0.1 * energy[0], (path.name, energy)


def test_metrics_are_the_scores_of_this_runs_networks_on_its_test_models(pipeline):
    assert_metrics_are_real(pipeline["wd"] / "results")


def assert_metrics_are_real(wd: Path) -> None:
    """metrics.json under wd (results/) recomputed from the run's store and networks."""
    from surrogate.dataset import TEST, load_store
    from surrogate.evaluate import boundary_scores, trivial_estimate
    from surrogate.ensemble import chosen, load_inverse
    metrics = json.loads((wd / "evaluation/metrics.json").read_text())
    be = metrics["boundary_elevation"]
    store = load_store(wd / "dataset/store.h5")
    test = store.models(TEST)
    target = store.boundary_elevation[test]
    assert len(test) >= 1 and be["tolerance_m"] == 2.0 and be["n_estimates"] == target.size
    assert be["network"] == chosen(wd / "surrogate")     # the estimator `select` chose, which invert uses
    estimate = load_inverse(wd / "surrogate", be["network"])(store.spectra[test], store.velocity[test],
                                                             store.ground_elevation[test], store.station_xy)
    error = np.abs(estimate - target)
    assert be["within_tolerance"] == pytest.approx(float((error < 2.0).mean()), abs=1e-9)
    assert be["rmse_m"] == pytest.approx(float(np.sqrt((error ** 2).mean())), rel=1e-6)
    assert be["trivial"] == boundary_scores(trivial_estimate(store, test), target, 2.0)
    assert be["bootstrap"]["ci_low"] <= be["within_tolerance"] <= be["bootstrap"]["ci_high"]
    oracle = store.ground_elevation[test][:, None] - (store.ground_elevation[test][:, None] - target).mean(-1)[..., None]
    assert be["baselines"]["mean_depth_oracle"]["within_tolerance"] == boundary_scores(oracle, target, 2.0)[
        "within_tolerance"]
    assert {"trivial", "mean_depth_oracle", "column_fit"} <= set(be["baselines"])
    # the network learned something: its error is below the spread of the boundaries it estimates
    assert be["rmse_m"] < target.std(axis=(0, 2)).max() + 2.0 * be["trivial"]["rmse_m"]
    gm = metrics["ground_motion"]
    assert 0.0 <= gm["pgv_within_tolerance"] <= 1.0 and np.isfinite(gm["relative_l2_median"])


def _override(wd: Path, key: str) -> Path:
    path = wd / f"override-{key.replace('/', '-')}.yaml"
    path.write_text(yaml.safe_dump({"scenarios": {"overrides": {key: {"time": {"duration": 1.0}}}}}))
    return path


@pytest.mark.parametrize("key, expected", [
    # a training model: its chain, then everything that pools the data set
    ("data/d0001", {"models": 1, "mesh": 1, "simulate_fem": 1, "dataset": 1, "train": len(NETWORKS),
                    "select": 1, "evaluate": 1, "invert": N_NEW, **CONFIRM_JOBS, "report": 1, "run_config": 1,
                    "all": 1}),
    # a new model: its chain and the report; the data set and the networks stay
    ("new/n000", {"models": 1, "mesh": 1, "simulate_fem": 1, "invert": 1, **CONFIRM_JOBS, "report": 1,
                  "run_config": 1, "all": 1}),
])
def test_changing_one_scenario_plans_only_the_jobs_that_depend_on_it(pipeline, key, expected):
    wd = pipeline["wd"]
    proc = subprocess.run(snakemake_cmd(_override(wd, key).name, "-n", "--cores", "2"), cwd=wd, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned_jobs(proc) == expected
    assert f"results/scenarios/{key}.yaml" in proc.stdout


@pytest.fixture(scope="module")
def surrogate_run(pipeline, tmp_path_factory) -> Path:
    """The finished run copied, then re-run with engine: surrogate."""
    wd = tmp_path_factory.mktemp("surrogate") / "wd"
    shutil.copytree(pipeline["wd"], wd, symlinks=True)
    shutil.copytree(wd / "results/simulations/new", wd / "fem_new")
    plan = run_snakemake(wd, "-n", "--cores", "2", "--config", "engine=surrogate", timeout=300)
    assert planned_jobs(plan) == {"simulate_surrogate": N_NEW, "invert": N_NEW, **CONFIRM_JOBS, "report": 1,
                                  "run_config": 1, "all": 1}, plan.stdout[-3000:]
    proc = run_snakemake(wd, "--cores", "2", "--config", "engine=surrogate", timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return wd


def test_engine_surrogate_writes_result_files_with_the_fem_layout(surrogate_run):
    for i in NEW_IDS:
        with h5py.File(surrogate_run / "fem_new" / f"{i}.h5", "r") as fem, \
                h5py.File(surrogate_run / "results/simulations/new" / f"{i}.h5", "r") as sur:
            assert sur.attrs["engine"] == "surrogate" and fem.attrs["engine"] == "fem"
            assert set(sur.attrs) >= {"scenario", "engine", "version", "ranks", "dofs", "wall_seconds"}
            assert sur.attrs["scenario"] == fem.attrs["scenario"]
            for name in ("receivers/xyz", "receivers/t", "receivers/velocity"):
                assert sur[name].shape == fem[name].shape and sur[name].dtype == fem[name].dtype, name
            np.testing.assert_allclose(sur["receivers/xyz"][...], fem["receivers/xyz"][...], atol=1e-6)
            np.testing.assert_allclose(sur["receivers/t"][...], fem["receivers/t"][...], atol=1e-9)
            assert np.isfinite(sur["receivers/velocity"][...]).all()
        assert (surrogate_run / "results/inversion" / f"{i}.h5").is_file()
        # the FEM confirms the estimate made from the surrogate's records, and the report says who observed
        assert json.loads((surrogate_run / "results/confirm" / f"{i}.json").read_text())["observed_engine"] == \
            "surrogate"
        assert f"<td>{i}</td><td>surrogate</td>" in (surrogate_run / "results/report/index.html").read_text()
