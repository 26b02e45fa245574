"""`predict` against the FEM on the same scenarios and the same machine: wall times and their ratios.

    python benchmarks/surrogate_speed.py SCENARIO.yaml [MORE.yaml ...] --model results/surrogate
        [--ranks 2] [--repeats 5] [--fem-repeats 3] [--timing-network] [-o FILE.json]

All scenarios must be of one configuration (the forward network's box, stations,
source); the first is the one timed one at a time. Times (wall clock, s):
* fem: `mpiexec -n RANKS python -m fem run SCENARIO -o ...` as a whole process (meshing
  included, as a user runs it), median of `fem-repeats`; its own `wall_seconds`
  attribute (no interpreter start-up) is reported too;
* predict_cli: `python -m surrogate predict SCENARIO --model DIR -o ...` as a whole
  process, median of `repeats` (interpreter start and imports included);
* predict_batch: `python -m surrogate predict ALL.yaml --model DIR --output-dir ...`,
  one process for all the scenarios given, divided by their number (median of 3):
  what replacing a set of FEM runs costs per run;
* predict_loaded: `ForwardSurrogate.run` in this process with the network loaded
  once: read and validate the scenario, predict, write the result file, median of
  `repeats` x the scenarios (what a caller that keeps the network pays per scenario).
Ratios are fem / each. Prints one JSON object; `-o FILE` also writes it there.

--timing-network: for a scenario no forward network was trained on (a cluster-sized
one, whose training data this machine cannot generate), time a network of the trained
forward network's architecture (--model's: inputs, hidden widths) sized for that
scenario's stations and samples, with untrained weights. Its cost per prediction is
the trained one's (the same layers, the same sizes); its output is meaningless, so
it times `predict` and nothing else.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd[:4])} ... failed: {proc.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - start


def predict_loaded_seconds(scenarios: list[Path], model: Path, out: Path, repeats: int) -> list[float]:
    """Wall time of each in-process prediction (results under the folder out), the network loaded once."""
    sys.path.insert(0, str(ROOT))
    from surrogate.predict import ForwardSurrogate
    surrogate = ForwardSurrogate(model)
    surrogate.run(scenarios[0], out / "warm-up.h5")       # first call: lazy imports, allocator warm-up
    times = []
    for r in range(repeats):
        for scenario in scenarios:                        # a new result file each, as a caller writes them
            start = time.perf_counter()
            surrogate.run(scenario, out / f"r{r}" / f"{scenario.stem}.h5")
            times.append(time.perf_counter() - start)
    return times


def timing_network(model: Path, scenario: Path, out: Path) -> Path:
    """A surrogate folder (out) with an untrained forward network of model's architecture for scenario."""
    sys.path.insert(0, str(ROOT))
    import math

    import numpy as np
    import torch
    from surrogate import scenario as sc
    from surrogate.inference import find_model
    from surrogate.modelfile import NAME, ModelFile, read_model, write_model
    from surrogate.nets import NetworkSpec, build_network
    trained = read_model(find_model(model, ("forward",)))
    s = sc.load_scenario(scenario)
    t = sc.output_times(s)
    spec = NetworkSpec.from_dict({**trained.meta["spec"], "n_outputs": 3 * len(t)})
    if sc.layer_table(s).size + len(s.model.surfaces) != spec.n_inputs:
        sys.exit(f"error: {scenario}: its layer count differs from the trained forward network's")
    torch.manual_seed(0)
    weights = {k: v.numpy() for k, v in build_network(spec).state_dict().items()}
    scale = float(np.mean(trained.arrays["target_norm/std"]))
    arrays = {**trained.arrays, "time": t, "station_xy": sc.station_xy(s),
              "target_norm/mean": np.zeros(spec.n_outputs), "target_norm/std": np.full(spec.n_outputs, scale)}
    meta = {**trained.meta, "spec": spec.to_dict(), "source": sc.source_text(s), "grid": list(sc.receiver_grid(s)),
            "best_val": math.inf, "step": 0, "epoch": 0}                  # never trained
    write_model(out / "forward" / NAME, ModelFile(meta, arrays, weights))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", type=Path, nargs="+")
    p.add_argument("--model", type=Path, required=True, help="surrogate folder with a trained forward network")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks of the FEM run")
    p.add_argument("--repeats", type=int, default=5, help="predict runs; the median is reported")
    p.add_argument("--fem-repeats", type=int, default=3, help="FEM runs; the median is reported")
    p.add_argument("--timing-network", action="store_true",
                   help="time an untrained network of --model's forward architecture sized for the scenario")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON here")
    a = p.parse_args()
    for s in a.scenarios:
        if not s.is_file():
            sys.exit(f"error: scenario file not found: {s}")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    mpiexec = shutil.which("mpiexec") or sys.exit("error: mpiexec not on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        if a.timing_network:
            a.model = timing_network(a.model, a.scenarios[0], Path(tmp) / "timing-network")
        first, model = str(a.scenarios[0]), str(a.model)
        fem_out, sur_out, batch_dir = Path(tmp) / "fem.h5", Path(tmp) / "surrogate.h5", Path(tmp) / "batch"
        fem, fem_internal = [], []
        for _ in range(a.fem_repeats):
            fem.append(_timed([mpiexec, "-n", str(a.ranks), sys.executable, "-m", "fem", "run", first,
                               "-o", str(fem_out), "--quiet"], env))
            with h5py.File(fem_out) as f:
                fem_internal.append(float(f.attrs["wall_seconds"]))
                dofs = int(f.attrs["dofs"])
        predict = [sys.executable, "-m", "surrogate", "predict"]
        cli = [_timed(predict + [first, "--model", model, "-o", str(sur_out)], env) for _ in range(a.repeats)]
        batch = [_timed(predict + [*map(str, a.scenarios), "--model", model, "--output-dir", str(batch_dir / f"r{r}")],
                        env) / len(a.scenarios) for r in range(3)]
        loaded = predict_loaded_seconds(a.scenarios, a.model, Path(tmp) / "loaded", a.repeats)
    fem_s = statistics.median(fem)
    medians = {"predict_cli_s": statistics.median(cli), "predict_batch_s": statistics.median(batch),
               "predict_loaded_s": statistics.median(loaded)}
    result = {"scenario": first, "scenarios": len(a.scenarios), "timing_network": a.timing_network,
              "dofs": dofs, "fem_ranks": a.ranks,
              "fem_s": fem_s, "fem_runs_s": fem, "fem_internal_s": statistics.median(fem_internal),
              **{f"{k[:-2]}_median_s": v for k, v in medians.items()},
              **{f"ratio_{k[8:-2]}": fem_s / v for k, v in medians.items()},
              "predict_cli_runs_s": cli, "predict_batch_runs_s": batch}
    text = json.dumps(result, indent=2)
    print(text)
    if a.output:
        a.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
