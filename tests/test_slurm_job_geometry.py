"""Job geometry under Slurm: the sbatch lines the Slurm executor plugin really builds.

For every shipped configuration (config/*.yaml) with the shipped profile (slurm/profile), and for
both training launchers, Snakemake builds the DAG in this process (the profile read by its own
command line, a dry run, so no job runs), and each job of an MPI stage or of training goes through
the plugin's own submit-line code - the calls of its Executor.run_job: validate_slurm_extra,
get_account_arg, get_partition_arg, submit_string.get_submit_command, utils.set_gres_string - with
nothing submitted (no sbatch, no Slurm; the account check, which asks sacctmgr, is stubbed).
A dry run never builds these lines, so it cannot see a contradictory or refused geometry.

Checked: the MPI stages (simulate_fem, simulate_chunk_*, simulate_auto, confirm) get
--ntasks=simulate.tasks (1 included: the plugin refuses an `mpi` job of one task), one core per
rank and memory per rank; training gets --nodes=N, N x G tasks, G per node, G GPUs per node,
train.cpus_per_task cores per task, memory per node, and nothing of the plugin's per-job GPU
geometry (--gpus, --ntasks-per-gpu); every job the account and partition of the profile; the
command line runs the configured launcher with the configured task count.
"""
import contextlib
import io
import os
import re
import shlex
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import yaml

snakemake_cli = pytest.importorskip("snakemake.cli")
slurm_plugin = pytest.importorskip("snakemake_executor_plugin_slurm")
from snakemake.dag import DAG  # noqa: E402
from snakemake_executor_plugin_slurm.submit_string import get_submit_command  # noqa: E402
from snakemake_executor_plugin_slurm.utils import set_gres_string  # noqa: E402
from snakemake_executor_plugin_slurm.validation import validate_slurm_extra  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "slurm" / "profile"
PROFILE_CONFIG = yaml.safe_load((PROFILE / "config.yaml").read_text())
CONFIGS = sorted(p.name for p in (ROOT / "config").glob("*.yaml"))
MPI_STAGES = ("simulate_fem", "simulate_chunk", "simulate_auto", "confirm")
# Snakemake's dry run leaves the input-size coroutines of jobs whose inputs do not exist unawaited.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")


def _config(name: str) -> dict:
    """The configuration Snakemake sees: config/config.yaml (the Snakefile's configfile), then the
    named file, then the profile's config block (merged key by key, as Snakemake does)."""
    merged: dict = {}
    for layer in (yaml.safe_load((ROOT / "config" / "config.yaml").read_text()),
                  yaml.safe_load((ROOT / "config" / name).read_text()) or {},
                  PROFILE_CONFIG.get("config") or {}):
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def _dag_jobs(*args: str) -> list:
    """The jobs of `snakemake -n --forceall --profile slurm/profile ARGS`, built in this process."""
    dags = []
    postprocess = DAG.postprocess

    def keep(self, *a, **k):
        dags.append(self)
        return postprocess(self, *a, **k)

    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with mock.patch.object(DAG, "postprocess", keep), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(out):
            try:
                snakemake_cli.main(["-n", "--forceall", "--quiet", "--cores", "2", "--profile", str(PROFILE), *args])
            except SystemExit as exit_:
                assert exit_.code in (0, None), out.getvalue()[-3000:]
    finally:
        os.chdir(cwd)
    assert dags, out.getvalue()[-3000:]
    return list(dags[-1].needrun_jobs())


def submit_line(job) -> str:
    """The sbatch line of Executor.run_job for this job, up to the command (no --wrap)."""
    validate_slurm_extra(job)
    executor = SimpleNamespace(_partitions=None, _fallback_partition=None, _fallback_account_arg=None,
                               logger=mock.Mock())
    with mock.patch.object(slurm_plugin, "validate_account", lambda account, logger: account):
        account = next(slurm_plugin.Executor.get_account_arg(executor, job))
    params = {"run_uuid": "seis_run", "slurm_logfile": "results/logs/slurm/%j.log", "comment_str": f"rule_{job.name}",
              "account": account, "partition": slurm_plugin.Executor.get_partition_arg(executor, job),
              "workdir": str(ROOT)}
    settings = slurm_plugin.ExecutorSettings(requeue=True)
    return get_submit_command(job, params, settings=settings) + set_gres_string(job)


def flags(line: str) -> dict[str, list[str]]:
    """sbatch flag -> values (every occurrence), from a submit line."""
    words = shlex.split(line)
    found: dict[str, list[str]] = {}
    i = 1
    while i < len(words):
        word = words[i]
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
        elif word.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-"):
            name, value = word, words[i + 1]
            i += 1
        else:
            name, value = word, ""
        found.setdefault(name, []).append(value)
        i += 1
    return found


def one(found: dict, name: str) -> str:
    assert len(found.get(name, [])) == 1, f"{name}: {found.get(name)}"
    return found[name][0]


def family(job) -> str:
    return "simulate_chunk" if job.name.startswith("simulate_chunk_") else job.name


def shell_command(job) -> str:
    return " ".join(job.shellcmd.split())


def check_site(found: dict) -> None:
    """Account and partition: the profile's."""
    defaults = PROFILE_CONFIG["default-resources"]
    assert one(found, "-A") == str(defaults["slurm_account"])
    train = (PROFILE_CONFIG.get("set-resources") or {}).get("train") or {}
    assert one(found, "-p") in {str(defaults["slurm_partition"]), str(train.get("slurm_partition"))}


def check_mpi(job, cfg: dict) -> None:
    sim = cfg["simulate"]
    tasks = sim.get("tasks", 2)
    found = flags(submit_line(job))
    check_site(found)
    assert one(found, "--ntasks") == str(tasks)
    assert one(found, "--cpus-per-task") == "1"
    assert one(found, "--mem-per-cpu") == str(sim["mem_mb_per_task"])
    assert "--gpus" not in found and "--ntasks-per-gpu" not in found and "--mem" not in found
    # the key is there in any case: the plugin's job step then runs the command in the batch step
    assert "mpi" in job.resources.keys()
    assert f"{sim['mpi']} -n {tasks} python -m fem run" in shell_command(job)


def check_train(job, cfg: dict) -> None:
    train = cfg["train"]
    tasks, nodes = train.get("tasks", 2), train.get("nodes", 1)
    gpus, cpus = train.get("gpus_per_node", 0), train.get("cpus_per_task", 1)
    per_node = tasks // nodes
    found = flags(submit_line(job))
    check_site(found)
    assert one(found, "--nodes") == str(nodes)
    assert one(found, "--ntasks") == str(tasks)
    assert one(found, "--ntasks-per-node") == str(per_node)
    assert int(one(found, "--ntasks")) == nodes * int(one(found, "--ntasks-per-node"))
    assert one(found, "--cpus-per-task") == str(cpus)
    assert one(found, "--mem") == str(per_node * train.get("mem_mb_per_task", 2000))  # per node
    assert "--mem-per-cpu" not in found
    # no per-job GPU geometry of the plugin's (--gpus in all, --ntasks-per-gpu)
    assert "--gpus" not in found and "--ntasks-per-gpu" not in found and "--gres" not in found
    gpu_type = cfg.get("slurm", {}).get("gpu_type", "")
    if gpus:
        assert per_node == gpus  # one task per GPU
        assert one(found, "--gpus-per-node") == (f"{gpu_type}:{gpus}" if gpu_type else str(gpus))
    else:
        assert "--gpus-per-node" not in found
    launcher = train["launcher"] if tasks > 1 else ""
    assert job.resources.get("mpi") == launcher and "mpi" in job.resources.keys()
    # one process: no launcher word (ddp_launch.sh N -- COMMAND runs the command itself)
    expected = " ".join(f"workflow/scripts/ddp_launch.sh {launcher} {tasks} -- python -m surrogate train".split())
    assert shell_command(job).startswith(expected)


@pytest.fixture(scope="module")
def shipped_jobs():
    """config name -> jobs, one per rule (chunk rules as one family), of each shipped configuration
    under the profile; engine auto for the MPI rule simulate_auto."""
    jobs = {}
    for name in CONFIGS:
        picked = {}
        for extra in ([], ["--config", "engine=auto", "simulate={mpi: srun}", "train={launcher: srun}"]):
            for job in _dag_jobs("--configfile", f"config/{name}", *extra):
                picked.setdefault(family(job), job)
        jobs[name] = picked
    return jobs


@pytest.mark.parametrize("config", CONFIGS)
def test_mpi_stages_get_the_configured_tasks(shipped_jobs, config):
    cfg = _config(config)
    jobs = shipped_jobs[config]
    stages = [s for s in MPI_STAGES if s in jobs]
    assert "confirm" in stages and "simulate_auto" in stages
    assert ("simulate_chunk" in stages) == (cfg["simulate"].get("chunk", 1) > 1)
    assert ("simulate_fem" in stages) == (cfg["simulate"].get("chunk", 1) == 1)
    for stage in stages:
        check_mpi(jobs[stage], cfg)


@pytest.mark.parametrize("config", CONFIGS)
def test_training_gets_nodes_by_one_task_per_gpu(shipped_jobs, config):
    check_train(shipped_jobs[config]["train"], _config(config))


@pytest.mark.parametrize("config", CONFIGS)
def test_other_jobs_get_the_profile_defaults(shipped_jobs, config):
    defaults = PROFILE_CONFIG["default-resources"]
    for name, job in shipped_jobs[config].items():
        if name in MPI_STAGES or name == "train" or job.is_local:
            continue
        found = flags(submit_line(job))
        check_site(found)
        assert one(found, "--ntasks") == "1"
        assert one(found, "--mem-per-cpu") == str(defaults["mem_mb_per_cpu"])


# Geometries the shipped configurations do not cover: one rank, one process, GPUs with a type, torchrun.
CASES = {
    "one rank, one CPU process": ("simulate: {tasks: 1}\ntrain: {tasks: 1, nodes: 1, gpus_per_node: 0}\n", {}),
    "one rank, chunks": ("simulate: {tasks: 1, chunk: 4}\n", {}),
    "3 ranks; 1 node x 1 GPU": ("simulate: {tasks: 3}\n"
                                "train: {tasks: 1, nodes: 1, gpus_per_node: 1, cpus_per_task: 6}\n", {}),
    "4 nodes x 2 typed GPUs": ("train: {tasks: 8, nodes: 4, gpus_per_node: 2, cpus_per_task: 16, "
                               "mem_mb_per_task: 30000}\n", {"slurm": "{gpu_type: h100}"}),
    "2 nodes x 1 GPU": ("train: {tasks: 2, nodes: 2, gpus_per_node: 1, cpus_per_task: 4}\n", {}),
    "torchrun, 1 node x 4 GPUs": ("train: {tasks: 4, nodes: 1, gpus_per_node: 4, cpus_per_task: 8}\n",
                                  {"train": "{launcher: torchrun}"}),
    "mpiexec for the FEM, torchrun on CPUs": ("simulate: {tasks: 4}\ntrain: {tasks: 3, cpus_per_task: 2}\n",
                                             {"simulate": "{mpi: mpiexec}", "train": "{launcher: torchrun}"}),
}


@pytest.mark.parametrize("case", CASES)
def test_geometry_of_other_sizes_and_launchers(tmp_path, case):
    text, overrides = CASES[case]
    (tmp_path / "case.yaml").write_text(text + "engine: auto\n")
    profile_config = {key: yaml.safe_dump(value, default_flow_style=True).strip()
                      for key, value in PROFILE_CONFIG["config"].items()}
    profile_config.update(overrides)  # --config replaces the profile's block: repeat its entries
    jobs = {}
    for job in _dag_jobs("--configfile", str(tmp_path / "case.yaml"), "--config",
                         *(f"{key}={value}" for key, value in profile_config.items())):
        jobs.setdefault(family(job), job)
    cfg = _config("config.yaml")
    for key, value in yaml.safe_load(text).items():
        cfg[key] = {**cfg[key], **value}
    for key, value in overrides.items():
        cfg[key] = {**cfg.get(key, {}), **yaml.safe_load(value)}
    for stage in MPI_STAGES:
        if stage in jobs:
            check_mpi(jobs[stage], cfg)
    assert "confirm" in jobs and "simulate_auto" in jobs
    check_train(jobs["train"], cfg)


@pytest.mark.parametrize("text, message", [
    ("train: {tasks: 8, nodes: 3}\n", "must be a multiple of nodes"),
    ("train: {tasks: 8, nodes: 2, gpus_per_node: 8}\n", "one process per GPU"),
    ("train: {tasks: 4, nodes: 2, launcher: torchrun}\n", "needs launcher srun"),
])
def test_inconsistent_training_geometry_is_refused_at_start(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), pytest.raises(SystemExit) as exit_:
            snakemake_cli.main(["-n", "--quiet", "--cores", "2", "--configfile", str(tmp_path / "bad.yaml")])
    finally:
        os.chdir(cwd)
    assert exit_.value.code not in (0, None)
    assert re.search(message, out.getvalue()), out.getvalue()[-2000:]
