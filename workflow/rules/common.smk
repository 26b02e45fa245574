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
# Checkpoints of the training runs, keyed by the settings that shape the result.
TRAINING_DIR = "results/training"
TRAIN_KEY = hashlib.sha1(json.dumps({k: TRAIN[k] for k in ("epochs", "batch_size", "grid_batch_size", "learning_rate",
                                                              "patience", "seed")},
                                    sort_keys=True).encode()).hexdigest()[:12]
THREADS_ENV = "OMP_NUM_THREADS={t} OPENBLAS_NUM_THREADS={t} MKL_NUM_THREADS={t}"


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
