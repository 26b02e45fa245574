"""The Slurm path: a real local Slurm (slurm/local/), the profile slurm/profile, an MPI job
under srun on 2 tasks and a 2-process DDP job launched by workflow/scripts/ddp_launch.sh.

Needs the local Slurm: as root the test starts it (slurm/local/start.sh, after
slurm/local/install.sh has installed the packages); otherwise it fails saying so.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The Slurm pipeline run lands on the first test that asks for it.
pytestmark = pytest.mark.timeout(2400)
VENV_BIN = str(Path(sys.executable).parent)


def _slurm_answers() -> bool:
    return shutil.which("scontrol") is not None and subprocess.run(
        ["scontrol", "ping"], capture_output=True, timeout=20).returncode == 0


@pytest.fixture(scope="module")
def local_slurm():
    """A Slurm controller that answers, with accounting (the plugin polls sacct)."""
    if not _slurm_answers():
        start = ROOT / "slurm/local/start.sh"
        if os.geteuid() != 0 or shutil.which("slurmctld") is None:
            pytest.fail("no Slurm answers: as root run slurm/local/install.sh then slurm/local/start.sh")
        proc = subprocess.run([str(start)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"slurm/local/start.sh failed:\n{proc.stdout}\n{proc.stderr}"
    sacct = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True, text=True, timeout=30)
    assert sacct.returncode == 0, f"sacct does not work (the Snakemake plugin needs it): {sacct.stderr}"


MPI_PROGRAM = """
import json, os, sys
from mpi4py import MPI
comm = MPI.COMM_WORLD
total = comm.allreduce(comm.rank + 1)
if comm.rank == 0:
    json.dump({"size": comm.size, "sum_of_ranks_plus_one": total,
               "slurm_job": os.environ.get("SLURM_JOB_ID")}, open(sys.argv[1], "w"))
"""

# One SGD step of a linear model on rank-dependent data, DDP over gloo: the averaged
# gradient must leave identical weights on every rank, equal to a full-batch step.
DDP_PROGRAM = """
import json, os, sys
import torch, torch.distributed as dist
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.arange(12.0).reshape(4, 3)
y = x.sum(dim=1, keepdim=True)
xs, ys = x.chunk(world)[rank], y.chunk(world)[rank]
torch.nn.functional.mse_loss(model(xs), ys).backward()
opt.step()
weights = torch.cat([p.detach().flatten() for p in model.parameters()])
gathered = [torch.zeros_like(weights) for _ in range(world)]
dist.all_gather(gathered, weights)
if rank == 0:
    torch.manual_seed(0)
    ref = torch.nn.Linear(3, 1)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    torch.nn.functional.mse_loss(ref(x), y).backward()
    ref_opt.step()
    ref_w = torch.cat([p.detach().flatten() for p in ref.parameters()])
    json.dump({"world": world, "slurm_job": os.environ.get("SLURM_JOB_ID"),
               "rank_spread": max(float((g - gathered[0]).abs().max()) for g in gathered),
               # relative to the weights: the two sum the gradient in other orders, a float32 ulp apart
               "vs_single_process": float((gathered[0] - ref_w).abs().max() / ref_w.abs().max())},
              open(sys.argv[1], "w"))
dist.destroy_process_group()
"""

SNAKEFILE = f"""
rule all:
    input: "mpi.json", "ddp.json"

rule mpi_job:
    output: "mpi.json"
    resources: mpi="mpiexec", tasks=2, runtime=5
    log: "logs/mpi_job.log"
    shell: "{{resources.mpi}} -n {{resources.tasks}} python mpi_program.py {{output}} > {{log}} 2>&1"

rule train:
    output: "ddp.json"
    resources: mpi="torchrun", tasks=2, runtime=5
    log: "logs/train.log"
    shell: "{ROOT}/workflow/scripts/ddp_launch.sh {{resources.mpi}} {{resources.tasks}} --"
           " python -m ddp_program {{output}} > {{log}} 2>&1"
"""


def _workflow(tmp_path: Path) -> Path:
    (tmp_path / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
    (tmp_path / "mpi_program.py").write_text(MPI_PROGRAM)
    (tmp_path / "ddp_program.py").write_text(DDP_PROGRAM)
    return tmp_path


def _snakemake(workdir: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"], PYTHONPATH=str(workdir),
               OMP_NUM_THREADS="1")
    # The plugin can wait forever on a job Slurm lost: bound the whole run.
    return subprocess.run(["timeout", str(timeout), sys.executable, "-m", "snakemake", "--snakefile",
                           str(workdir / "Snakefile"), "--directory", str(workdir), *args],
                          cwd=workdir, env=env, capture_output=True, text=True)


def _check(workdir: Path, under_slurm: bool) -> None:
    mpi = json.loads((workdir / "mpi.json").read_text())
    ddp = json.loads((workdir / "ddp.json").read_text())
    assert mpi["size"] == 2 and mpi["sum_of_ranks_plus_one"] == 3
    assert ddp["world"] == 2
    assert ddp["rank_spread"] == 0.0, "DDP ranks disagree on the weights"
    assert ddp["vs_single_process"] < 1e-6, "2-process DDP step differs from the single-process step"
    assert (mpi["slurm_job"] is not None) == under_slurm and (ddp["slurm_job"] is not None) == under_slurm


def test_tiny_workflow_runs_locally(tmp_path):
    """Baseline without Slurm: mpiexec and torchrun on this machine."""
    wd = _workflow(tmp_path)
    proc = _snakemake(wd, "--cores", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    _check(wd, under_slurm=False)


def test_tiny_workflow_through_slurm_profile(local_slurm, tmp_path):
    """The same rules through slurm/profile: mpi and DDP launcher switched to srun by the profile."""
    wd = _workflow(tmp_path)
    proc = _snakemake(wd, "--profile", str(ROOT / "slurm/profile"), "--set-resources",
                      "mpi_job:mpi=srun", "train:mpi=srun", timeout=400)
    assert proc.returncode == 0, proc.stderr[-6000:]
    _check(wd, under_slurm=True)
    for name in ("mpi", "ddp"):
        job = json.loads((wd / f"{name}.json").read_text())["slurm_job"]
        steps = subprocess.run(["sacct", "-n", "-P", "-j", job, "-o", "JobID,NTasks,State"],
                               capture_output=True, text=True, timeout=30).stdout
        # the rule's own srun step ran 2 tasks inside the Slurm job, and accounting saw it complete
        assert any(line.split("|")[1] == "2" and line.split("|")[2] == "COMPLETED"
                   for line in steps.splitlines()), steps


@pytest.fixture(scope="module")
def slurm_pipeline(local_slurm, tmp_path_factory) -> Path:
    """The real pipeline (config/ci.yaml) submitted through slurm/profile: every job a Slurm job,
    the FEM under `srun -n 2`, training as a 2-task DDP job."""
    from test_workflow_pipeline import snakemake_cmd, workflow_copy
    wd = workflow_copy(tmp_path_factory.mktemp("slurm_pipeline"))
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"], OMP_NUM_THREADS="1")
    # The plugin can wait forever on a job Slurm lost: bound the whole run.
    proc = subprocess.run(["timeout", "1500", *snakemake_cmd("--profile", str(ROOT / "slurm/profile"))],
                          cwd=wd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return wd


def _slurm_jobs(wd: Path, rule: str) -> list[str]:
    """Slurm job ids of a rule's jobs, from the plugin's per-job log files (results/logs/slurm/rule_RULE/...)."""
    logs = sorted((wd / "results/logs/slurm" / f"rule_{rule}").rglob("*.log"))
    assert logs, f"no Slurm job logs for rule {rule}"
    return [log.stem for log in logs]


def _ran_a_completed_two_task_step(job: str) -> bool:
    steps = subprocess.run(["sacct", "-n", "-P", "-j", job, "-o", "JobID,NTasks,State"],
                           capture_output=True, text=True, timeout=30).stdout
    return any(line.split("|")[1] == "2" and line.split("|")[2] == "COMPLETED" for line in steps.splitlines())


def test_pipeline_through_slurm_gives_the_local_results(slurm_pipeline):
    from test_workflow_pipeline import assert_fem_results, assert_metrics_are_real, assert_results_layout
    assert_results_layout(slurm_pipeline / "results")
    assert_fem_results(slurm_pipeline)
    assert_metrics_are_real(slurm_pipeline / "results")


@pytest.mark.parametrize("rule", ["simulate_fem", "confirm", "train"])
def test_fem_and_training_ran_as_two_task_slurm_steps(slurm_pipeline, rule):
    jobs = _slurm_jobs(slurm_pipeline, rule)
    assert all(_ran_a_completed_two_task_step(job) for job in jobs), (rule, jobs)


def test_standalone_ddp_batch_script(slurm_pipeline, tmp_path):
    """slurm/train_ddp.sbatch on the local Slurm: one node, 2 CPU processes through torchrun's
    c10d rendezvous, on the store of the Slurm pipeline run."""
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"], PYTHONPATH=str(ROOT))
    store = slurm_pipeline / "results/dataset/store.h5"
    proc = subprocess.run(["timeout", "500", "sbatch", "--wait", "--parsable", "-N1", "--gpus-per-node=0",
                           "--ntasks-per-node=1", "--cpus-per-task=2", "--mem=4000",
                           f"--export=ALL,STORE={store},OUT=trained,TRAIN_ARGS=--epochs 2",
                           str(ROOT / "slurm/train_ddp.sbatch")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = proc.stdout.strip().split(";")[0]
    log = next(tmp_path.glob(f"slurm-surrogate-ddp-{job}.out")).read_text()
    assert "1 node(s) x 2 processes" in log
    summary = json.loads(next(line for line in log.splitlines() if line.startswith("{")))
    assert summary["epoch"] == 2 and (tmp_path / "trained/inverse_pointwise/model.npz").is_file()
    assert (tmp_path / "trained/inverse_pointwise/checkpoint.pt").is_file()
