"""The workflow as Snakemake sees it: lint, dry runs of every shipped config (locally and
with the Slurm profile), configuration errors named at start, and re-running only what
a configuration change affects."""
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.name for p in (ROOT / "config").glob("*.yaml"))
#: models in the default configuration's data and new sets
DEFAULT_SETS = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["scenarios"]
N_DATA, N_NEW = DEFAULT_SETS["data"]["count"], DEFAULT_SETS["new"]["count"]


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """rule -> job count from the 'Job stats' table of a dry run."""
    table = proc.stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0] if "Job stats:" in proc.stdout else ""
    rows = (re.match(r"^(\w+)\s+(\d+)$", line.strip()) for line in table.splitlines())
    return {m[1]: int(m[2]) for m in rows if m and m[1] != "total"}


def chunked_jobs(jobs: dict[str, int], stage: str) -> int:
    """Jobs of a stage's chunk rules (STAGE_chunk_FIRST_LAST, one rule per chunk: config simulate.chunk > 1)."""
    return sum(n for rule, n in jobs.items() if rule.startswith(f"{stage}_chunk_"))


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


@pytest.mark.parametrize("profile", [[], ["--profile", "slurm/profile"]], ids=["local", "slurm-profile"])
@pytest.mark.parametrize("config", CONFIGS)
def test_dry_run_of_shipped_config(config, profile):
    # --forceall: the whole plan, whatever results/ a run in the checkout left behind
    proc = snakemake("-n", "--forceall", "--cores", "2", "--configfile", f"config/{config}", *profile)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    cfg = yaml.safe_load((ROOT / "config" / config).read_text())
    jobs = planned_jobs(proc)
    n_data = cfg.get("scenarios", {}).get("data", {}).get("count", 12)
    n_new = cfg.get("scenarios", {}).get("new", {}).get("count", 2)
    chunk = cfg.get("simulate", {}).get("chunk", 1)
    if chunk == 1:
        # one scenario, one mesh, one simulation per model
        assert jobs["models"] == jobs["mesh"] == jobs["simulate_fem"] == n_data + n_new
    else:
        # a scenario job and a FEM job per chunk of a set, meshing in the FEM job
        n_chunks = math.ceil(n_data / chunk) + math.ceil(n_new / chunk)
        assert chunked_jobs(jobs, "models") == chunked_jobs(jobs, "simulate") == n_chunks
        assert "mesh" not in jobs and "simulate_fem" not in jobs
    # per new model: its inversion and the FEM's confirmation of it (scenario, FEM run, misfit: one job)
    assert jobs["invert"] == jobs["confirm"] == n_new
    # one of each aggregate stage
    # one training job per network, and per extra seed member of each inverse network (train.members)
    networks = cfg.get("train", {}).get("networks", ["inverse_pointwise", "forward"])
    members = cfg.get("train", {}).get("members", 1)
    assert jobs["train"] == len(networks) + (members - 1) * sum(n.startswith("inverse") for n in networks)
    assert all(jobs[r] == 1 for r in ("dataset", "select", "evaluate", "report", "all"))


def test_engine_surrogate_plans_predictions_for_new_models():
    proc = snakemake("-n", "--forceall", "--cores", "2", "--config", "engine=surrogate")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    assert jobs["simulate_fem"] == N_DATA and jobs["simulate_surrogate"] == N_NEW and jobs["mesh"] == N_DATA


def test_engine_auto_plans_the_guard_rule_for_new_models():
    """engine auto: one simulate_auto job per new model, which asks the guard (`surrogate check`) and runs
    the surrogate or, on exit status 3, the FEM (meshing in the process: no mesh job for new models)."""
    proc = snakemake("-n", "-p", "--forceall", "--cores", "2", "--config", "engine=auto")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    assert jobs["simulate_auto"] == N_NEW and jobs["simulate_fem"] == jobs["mesh"] == N_DATA
    assert "simulate_surrogate" not in jobs and jobs["confirm"] == N_NEW
    command = next(line for line in proc.stdout.splitlines()
                   if "python -m surrogate check results/scenarios/new/n000.yaml --model results/surrogate" in line)
    assert "python -m surrogate predict" in command and "mpiexec -n 2 python -m fem run" in command


@pytest.mark.parametrize("profile", [[], ["--profile", "slurm/profile"]], ids=["local", "slurm-profile"])
def test_chunk_plans_one_job_per_chunk_and_no_mesh_jobs(tmp_path, profile):
    """simulate.chunk 4: ceil(48/4) + ceil(2/4) scenario jobs and FEM jobs, each an MPI job of
    simulate.tasks ranks (srun under the Slurm profile), and no mesh jobs."""
    (tmp_path / "chunk.yaml").write_text("simulate: {chunk: 4, tasks: 2}\n")
    proc = snakemake("-n", "-p", "--forceall", "--cores", "2", "--configfile", str(tmp_path / "chunk.yaml"), *profile)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    n_chunks = math.ceil(N_DATA / 4) + math.ceil(N_NEW / 4)
    assert chunked_jobs(jobs, "simulate") == chunked_jobs(jobs, "models") == n_chunks == 13
    assert "mesh" not in jobs and "simulate_fem" not in jobs and "models" not in jobs
    assert all(jobs[r] == 1 for r in ("dataset", "report")) and jobs["invert"] == jobs["confirm"] == N_NEW
    # the last data chunk and its FEM command: its 4 scenarios in one process
    launcher = "srun" if profile else "mpiexec"
    assert "rule simulate_chunk_d0044_d0047:" in proc.stdout + proc.stderr
    command = next(line for line in (proc.stdout + proc.stderr).splitlines()
                   if "simulate_chunk.py" in line and "results/scenarios/data/d0044.yaml" in line)
    assert f"-- {launcher} -n 2 python -m fem run --quiet" in command
    assert " ".join(f"results/simulations/data/d{i:04d}.h5" for i in range(44, 48)) in command


def test_chunk_with_engine_surrogate_chunks_only_the_data_set(tmp_path):
    (tmp_path / "chunk.yaml").write_text("simulate: {chunk: 4}\nengine: surrogate\n")
    jobs = planned_jobs(snakemake("-n", "--forceall", "--cores", "2", "--configfile", str(tmp_path / "chunk.yaml")))
    assert chunked_jobs(jobs, "simulate") == N_DATA // 4 and jobs["simulate_surrogate"] == N_NEW


def test_members_train_each_inverse_network_again_with_the_next_seeds(tmp_path):
    """train.members 3: inverse network T is trained three times (seeds 5, 6, 7; T, T.1, T.2, each in its own
    checkpoint folder), select and invert read all members, the forward network is trained once."""
    (tmp_path / "members.yaml").write_text("train: {members: 3, seed: 5}\n")
    proc = snakemake("-n", "-p", "--forceall", "--cores", "2", "--configfile", str(tmp_path / "members.yaml"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert planned_jobs(proc)["train"] == 3 + 1
    commands = [line for line in proc.stdout.splitlines() if "python -m surrogate train" in line]
    for k, name in enumerate(("inverse_pointwise", "inverse_pointwise.1", "inverse_pointwise.2")):
        line = next(c for c in commands if f"results/surrogate/{name}.part " in c)
        assert "--task inverse_pointwise " in line and f"--seed {5 + k} " in line
        assert (f"/member{k}/inverse_pointwise " if k else "/inverse_pointwise ") in line.split("cp -r", 1)[1]
    forward = [c for c in commands if "--task forward " in c]
    assert len(forward) == 1 and "--seed 5 " in forward[0]


@pytest.mark.parametrize("bad, named", [
    ("simulate: {tasks: two}\n", "['simulate']['properties']['tasks']"),
    ("simulate: {chunk: 0}\n", "['simulate']['properties']['chunk']"),
    ("trian: {epochs: 3}\n", "'trian' was unexpected"),
    ("engine: fenics\n", "['engine']"),
    ("train: {launcher: ssh}\n", "['train']['properties']['launcher']"),
    ("scenarios: {overrides: {data/x1: {}}}\n", "'data/x1'"),
    ("scenarios: {overrides: {new/n007: {time: {dt: 0.02}}}}\n", "new/n007"),
    ("train: {networks: [forward]}\n", "['train']['properties']['networks']"),
])
def test_bad_config_fails_at_start_naming_the_key(tmp_path, bad, named):
    (tmp_path / "bad.yaml").write_text(bad)
    proc = snakemake("-n", "--cores", "1", "--configfile", str(tmp_path / "bad.yaml"))
    assert proc.returncode != 0
    assert named in proc.stdout + proc.stderr
    assert "Job stats" not in proc.stdout, "a bad config must fail before planning any job"


def test_schema_gives_every_key_a_description_and_a_default():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())

    def walk(node, where):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub and "default" in sub, f"{where}.{key} lacks a description or default"
            walk(sub, f"{where}.{key}")
    walk(schema, "config")


@pytest.fixture
def workflow_copy(tmp_path):
    """The workflow in a scratch folder (fem/ and surrogate/ linked), so runs leave the checkout alone."""
    for name in ("Snakefile", "workflow", "config"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    for pkg in ("fem", "surrogate", "hpc"):
        (tmp_path / pkg).symlink_to(ROOT / pkg)
    return tmp_path


def test_changing_one_scenario_reruns_only_its_jobs(workflow_copy):
    wd = workflow_copy
    targets = [f"results/scenarios/data/d{i:04d}.yaml" for i in range(N_DATA)] + \
              [f"results/scenarios/new/n{i:03d}.yaml" for i in range(N_NEW)]
    proc = snakemake("--cores", "2", *targets, cwd=wd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = {t: (wd / t).read_text() for t in targets}
    assert len(set(before.values())) == len(targets), "every model must differ"

    proc = snakemake("-n", "--cores", "2", *targets, cwd=wd)
    assert "Nothing to be done" in proc.stdout + proc.stderr

    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    cfg["scenarios"]["overrides"] = {"data/d0003": {"time": {"duration": 1.5}}}
    (wd / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "--cores", "2", *targets, cwd=wd)
    assert planned_jobs(proc) == {"models": 1}
    assert "results/scenarios/data/d0003.yaml" in proc.stdout

    # the whole pipeline: that model's mesh and run, then the stages that pool every model
    full = planned_jobs(snakemake("-n", "--cores", "2", cwd=wd))
    assert full["models"] == 1

    proc = snakemake("--cores", "2", *targets, cwd=wd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = {t: (wd / t).read_text() for t in targets}
    changed = [t for t in targets if after[t] != before[t]]
    assert changed == ["results/scenarios/data/d0003.yaml"]
    assert yaml.safe_load(after[changed[0]])["time"]["duration"] == 1.5
