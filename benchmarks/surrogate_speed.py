"""`predict` against the FEM on the same scenario and the same machine: wall times and their ratio.

    python benchmarks/surrogate_speed.py SCENARIO.yaml --model results/surrogate [--ranks 2] [--repeats 5]

Times (wall clock, s):
* fem: `mpiexec -n RANKS python -m fem run SCENARIO -o ...` as a whole process, once
  (the FEM's own `wall_seconds` attribute, which excludes interpreter start-up, is reported too);
* predict_cli: `python -m surrogate predict SCENARIO --model DIR -o ...` as a whole process,
  median of `repeats` (includes the interpreter and torch import, about 2 s);
* predict_call: the same prediction as a library call in this process, median of `repeats`
  (what a workflow or an inversion that keeps the network loaded pays per scenario).
Prints one JSON object; `-o FILE` also writes it there.
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


def predict_call_seconds(scenario: Path, model: Path, out: Path, repeats: int) -> list[float]:
    """Wall time of each in-process prediction (network loaded once, as a caller keeping it would)."""
    from surrogate.cli import main
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if main(["predict", str(scenario), "--model", str(model), "-o", str(out)]) != 0:
            sys.exit("error: predict failed")
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", type=Path)
    p.add_argument("--model", type=Path, required=True, help="surrogate folder with a trained forward network")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks of the FEM run")
    p.add_argument("--repeats", type=int, default=5, help="predict runs; the median is reported")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON here")
    a = p.parse_args()
    if not a.scenario.is_file():
        sys.exit(f"error: scenario file not found: {a.scenario}")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    mpiexec = shutil.which("mpiexec") or sys.exit("error: mpiexec not on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        fem_out, sur_out = Path(tmp) / "fem.h5", Path(tmp) / "surrogate.h5"
        fem = _timed([mpiexec, "-n", str(a.ranks), sys.executable, "-m", "fem", "run", str(a.scenario),
                      "-o", str(fem_out), "--quiet"], env)
        with h5py.File(fem_out) as f:
            fem_internal, dofs = float(f.attrs["wall_seconds"]), int(f.attrs["dofs"])
        cli = [_timed([sys.executable, "-m", "surrogate", "predict", str(a.scenario), "--model", str(a.model),
                       "-o", str(sur_out)], env) for _ in range(a.repeats)]
        call = predict_call_seconds(a.scenario, a.model, sur_out, a.repeats)
    result = {"scenario": str(a.scenario), "dofs": dofs, "fem_ranks": a.ranks, "fem_s": fem,
              "fem_internal_s": fem_internal, "predict_cli_median_s": statistics.median(cli),
              "predict_call_median_s": statistics.median(call), "predict_cli_s": cli, "predict_call_s": call,
              "ratio_cli": fem / statistics.median(cli), "ratio_call": fem / statistics.median(call)}
    text = json.dumps(result, indent=2)
    print(text)
    if a.output:
        a.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
