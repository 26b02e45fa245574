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
# The forward network `predict` uses (surrogate.features.FORWARD_TASKS): the field-to-field one
# (forward_spatial: all three components of every station) where it is trained.
FORWARD_NETWORK = "forward_spatial" if "forward_spatial" in TRAIN["networks"] else "forward"
# Networks whose samples are whole station grids (one per ground model), not stations.
GRID_NETWORKS = ("inverse_spatial", "forward_spatial")
# Checkpoints of the training runs, keyed by the settings that shape the result.
TRAINING_DIR = "results/training"
TRAIN_KEY = hashlib.sha1(json.dumps({k: TRAIN[k] for k in ("epochs", "batch_size", "grid_batch_size", "learning_rate",
                                                              "patience", "seed")},
                                    sort_keys=True).encode()).hexdigest()[:12]
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
