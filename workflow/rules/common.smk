# Names shared by the stages: scenario ids, per-scenario parameters, result paths.
import hashlib
import json
import os

# Two scenario sets: "data" (FEM runs that train and test the surrogate) and
# "new" (fresh ground models simulated with config engine, then inverted).


wildcard_constraints:
    set="data|new",
    id="[dn][0-9]+",


SETS = {
    "data": [f"d{i:04d}" for i in range(config["scenarios"]["data"]["count"])],
    "new": [f"n{i:03d}" for i in range(config["scenarios"]["new"]["count"])],
}
TRAIN = config["train"]
INVERSE_NETWORKS = [n for n in TRAIN["networks"] if n.startswith("inverse")]
# A deep ensemble of seeds (train.members): member K > 0 of inverse network T is T trained again with
# seed train.seed + K, in results/surrogate/T.K; T's estimate is the mean of its members (surrogate.ensemble).
INVERSE_MEMBERS = INVERSE_NETWORKS + [f"{n}.{k}" for n in INVERSE_NETWORKS for k in range(1, TRAIN["members"])]
TRAINED_NETWORKS = TRAIN["networks"] + INVERSE_MEMBERS[len(INVERSE_NETWORKS):]
# The forward network `predict` uses (surrogate.features.FORWARD_TASKS): the field-to-field one
# (forward_spatial: all three components of every station) where it is trained.
FORWARD_NETWORK = "forward_spatial" if "forward_spatial" in TRAIN["networks"] else "forward"
# Networks whose samples are whole station grids (one per ground model), not stations.
GRID_NETWORKS = ("inverse_spatial", "forward_spatial")
# Checkpoints of the training runs, keyed by the settings that shape the result.
TRAINING_DIR = "results/training"
# The process count is in it: a checkpoint resumes only with as many processes as wrote it (surrogate.train).
TRAIN_KEY = hashlib.sha1(json.dumps({k: TRAIN[k] for k in ("epochs", "batch_size", "grid_batch_size", "learning_rate",
                                                              "patience", "seed", "tasks")},
                                    sort_keys=True).encode()).hexdigest()[:12]


def member_index(wildcards):
    """K of network TASK.K (member K of a seed ensemble, train.members), 0 for TASK itself."""
    return int(wildcards.network.split(".")[1]) if "." in wildcards.network else 0


def train_work_dir(wildcards):
    """The checkpoint folder of a training job: one per settings key, a sub-folder per extra member."""
    k = member_index(wildcards)
    return os.path.join(TRAINING_DIR, TRAIN_KEY, *([f"member{k}"] if k else []))


THREADS_ENV = "OMP_NUM_THREADS={t} OPENBLAS_NUM_THREADS={t} MKL_NUM_THREADS={t}"
# Models per job in the models and simulate stages (config simulate.chunk); 1: one job per model.
CHUNK = config["simulate"]["chunk"]


def scenario_files(set_name):
    return expand("results/scenarios/{set}/{id}.yaml", set=set_name, id=SETS[set_name])


def simulation_files(set_name):
    return expand("results/simulations/{set}/{id}.h5", set=set_name, id=SETS[set_name])


def scenario_seed(wildcards):
    return config["scenarios"][wildcards.set]["seed"]


def scenario_index(wildcards):
    return int(wildcards.id[1:])


def scenario_override(wildcards):
    """JSON of this scenario's entry in scenarios.overrides; a params value, so editing it re-runs the scenario."""
    return json.dumps(config["scenarios"]["overrides"].get(f"{wildcards.set}/{wildcards.id}", {}), sort_keys=True)


def chunks(set_name):
    """The set's model ids in runs of CHUNK consecutive ones (the last may be shorter)."""
    ids = SETS[set_name]
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


def chunk_name(ids):
    """A chunk's first and last model, e.g. d0050_d0099: names its jobs, logs and benchmarks."""
    return f"{ids[0]}_{ids[-1]}"


def chunk_overrides(set_name, ids):
    """JSON {"INDEX": override} of the chunk's models that have one: a params value, so editing
    one override re-runs its chunk (and the other models' scenario texts stay as they were)."""
    given = config["scenarios"]["overrides"]
    return json.dumps({str(int(i[1:])): given[f"{set_name}/{i}"] for i in ids if f"{set_name}/{i}" in given},
                      sort_keys=True)


def profile_resources(rule_name):
    """Resources that --set-resources (e.g. slurm/profile's set-resources) gives rule_name. Snakemake
    applies those by exact name, and each chunk job has a name of its own (simulate_chunk_d0000_d0049),
    so the chunk jobs take the ones given to their family's name (simulate_chunk) through this."""
    given = workflow.resource_settings.overwrite_resources.get(rule_name) or {}
    return {name: resource.raw for name, resource in given.items()}


# Job geometry: the resources from which the Slurm plugin (snakemake-executor-plugin-slurm,
# submit_string.get_submit_command) builds each job's sbatch line; tests/test_slurm_job_geometry.py
# builds those lines for every shipped configuration. Locally only `mpi` and `tasks` matter (the
# shell's launcher). Sizes come from the config; site settings (account, partitions, QoS,
# constraint, GPU type) from slurm/profile/config.yaml, never from here.
#
# The plugin takes a truthy `mpi` as "an MPI job of `tasks` tasks" and refuses one with one task;
# the key itself (whatever its value) makes its job step run the command in the batch step, where
# the launcher (srun) can start the tasks. So a job of one task gets mpi="" (still a key: it runs
# in the batch step, where `srun -n 1` works) and the launcher comes from the config.


def mpi_resources(section, tasks=None):
    """Resources of an MPI job of `tasks` ranks (section: config simulate): --ntasks=TASKS
    --cpus-per-task=1 --mem-per-cpu=section.mem_mb_per_task (-t: the caller's runtime)."""
    tasks = section["tasks"] if tasks is None else tasks
    return {
        "mpi": section["mpi"] if tasks > 1 else "",
        "tasks": tasks,
        "cpus_per_task": 1,  # one core per rank
        "mem_mb_per_cpu": section["mem_mb_per_task"],
    }


def mpi_launch(section):
    """params function: the shell's launcher, `LAUNCHER -n TASKS` (TASKS of the job's resources, so that
    a --set-resources of tasks reaches the command line too; one rank included)."""

    def launch(wildcards, resources):
        return f"{resources.get('mpi') or section['mpi']} -n {resources.get('tasks') or section['tasks']}"

    return launch


def train_geometry(train, gpu_type=""):
    """Resources of a DDP training job (train: config train): train.nodes nodes, train.tasks processes
    spread evenly (one per GPU on GPU nodes), train.cpus_per_task cores each (the process and its data
    loading), memory per node. sbatch gets --nodes=N --ntasks=T (--ntasks-per-node=T/N in slurm_extra,
    as the plugin has no resource for it without refusing one task per node) --cpus-per-task=C
    --mem=T/N x mem_mb_per_task, and --gpus-per-node=[TYPE:]G where there are GPUs. Not the plugin's
    `gpu`/`gres`: it asks then for --gpus in all and --ntasks-per-gpu, which fights --ntasks."""
    tasks, nodes, gpus = train["tasks"], train["nodes"], train["gpus_per_node"]
    if tasks % nodes:
        raise ValueError(f"config train: tasks ({tasks}) must be a multiple of nodes ({nodes}): "
                         "the same number of processes on every node")
    per_node = tasks // nodes
    if gpus and per_node != gpus:
        raise ValueError(f"config train: one process per GPU: tasks ({tasks}) must be nodes x gpus_per_node "
                         f"({nodes} x {gpus} = {nodes * gpus})")
    if nodes > 1 and train["launcher"] != "srun":
        raise ValueError(f"config train: launcher {train['launcher']} starts the processes of one node only; "
                         f"nodes {nodes} needs launcher srun")
    extra = [f"--ntasks-per-node={per_node}"]
    if gpus:
        extra.append(f"--gpus-per-node={gpu_type}:{gpus}" if gpu_type else f"--gpus-per-node={gpus}")
    return {
        "mpi": train["launcher"] if tasks > 1 else "",  # the shell's launcher; "" for one process (see above)
        "tasks": tasks,
        "nodes": nodes,
        "cpus_per_task": train["cpus_per_task"],
        "mem_mb": train["mem_mb_per_task"] * per_node,  # --mem: per node
        "mem_mb_per_cpu": 0,  # not the profile's default --mem-per-cpu: --mem above
        "slurm_extra": " ".join(extra),
    }


def threads_env(n):
    # One BLAS/OpenMP thread per MPI rank or DDP process: the ranks already fill the cores.
    return THREADS_ENV.format(t=n)


def _known_model(key):
    set_name, _, model = key.partition(chr(47))  # "data/d0003" (the schema fixed the form)
    return model in SETS[set_name]


_unknown = [k for k in config["scenarios"]["overrides"] if not _known_model(k)]
if _unknown:
    raise ValueError(f"config scenarios.overrides: no model {', '.join(_unknown)} in this configuration "
                     f"(scenarios.data.count = {len(SETS['data'])}, scenarios.new.count = {len(SETS['new'])})")
