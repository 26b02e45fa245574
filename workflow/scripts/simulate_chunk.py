"""The `simulate` stage in chunks: K scenarios, one FEM process, and a result cache so that
an unchanged model is restored instead of simulated again.

Snakemake runs a job again as a whole when one of its inputs changed, and deletes all its
outputs first. A chunk job therefore keeps every result it computed in a content-addressed
cache outside the outputs, CACHE/KEY.h5, and on the next run restores (hard-links, or copies
where a link is refused) the models whose key is there; only the others go through one
`python -m fem run S1.yaml S2.yaml ... --output-dir` (fem.run_batch). So a chunk in which one
scenario changed simulates that one model.

The key is the sha256 of the scenario text and of the solver's source (every *.py under the
folders given with --solver, fem/ and hpc/ in the workflow, with their relative paths): the
result is a function of those alone. The rank count is not in the key: results agree across
rank counts to round-off (tests/mpi), so a cached result serves any `simulate.tasks`, and its
`ranks` attribute says how it was computed. Neither are the Python, numpy and MPI builds in it:
after upgrading them, delete CACHE (nothing else refers to it). Entries are never evicted.

If any model fails, the FEM's line (`error: PATH: reason`) is in the log, the models that
succeeded go into the cache (a rerun after the fix restores them), no output is written, and
the exit status is the FEM's: the job fails as a whole.

    python workflow/scripts/simulate_chunk.py --scenarios S1.yaml ... --outputs R1.h5 ...
        --cache DIR --solver fem hpc -- mpiexec -n 2 python -m fem run --quiet

Everything after `--` is the FEM command; the cache misses and `--output-dir TMP` are appended.
Output i is the result of scenario i and must share its stem (the FEM names OUT/STEM.h5).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a file by the workflow: make this checkout's fem/ importable, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fem.atomic import atomic_path  # noqa: E402  (after the path above)


def solver_digest(folders: list[Path]) -> str:
    """sha256 over the relative path and bytes of every *.py under the solver's folders."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.py")):
            digest.update(str(path.relative_to(Path(folder).parent)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(scenario_text: bytes, solver: str) -> str:
    """Name of a result in the cache: what the FEM's result depends on."""
    return hashlib.sha256(solver.encode() + b"\0" + scenario_text).hexdigest()


def place(source: Path, output: Path) -> None:
    """Put source at output atomically: a hard link (no copy), or a copy where links are refused;
    stamped now, so that Snakemake sees the output newer than its scenario."""
    with atomic_path(output, suffix=".part") as part:
        try:
            os.link(source, part)
        except OSError:
            shutil.copyfile(source, part)
    now = time.time()
    os.utime(output, (now, now))


def run_fem(command: list[str], scenarios: list[Path], out_dir: Path) -> int:
    """The FEM on these scenarios, each writing out_dir/STEM.h5; its exit status."""
    return subprocess.run([*command, *map(str, scenarios), "--output-dir", str(out_dir)]).returncode


def simulate_chunk(scenarios: list[Path], outputs: list[Path], cache: Path, solver_folders: list[Path],
                   command: list[str]) -> int:
    """Each outputs[i] the result of scenarios[i], from the cache or simulated; exit status."""
    stems = [(s.stem, o.stem) for s, o in zip(scenarios, outputs)]
    if len(scenarios) != len(outputs) or any(a != b for a, b in stems):
        print(f"error: outputs {[str(o) for o in outputs]} do not pair with scenarios {[str(s) for s in scenarios]} "
              f"by name", file=sys.stderr)
        return 2
    solver = solver_digest(solver_folders)
    cached = [cache / f"{cache_key(s.read_bytes(), solver)}.h5" for s in scenarios]
    misses = [i for i, c in enumerate(cached) if not c.exists()]
    print(f"simulate_chunk: {len(scenarios) - len(misses)} of {len(scenarios)} restored from {cache}, "
          f"{len(misses)} to simulate", file=sys.stderr, flush=True)
    status = 0
    if misses:
        cache.mkdir(parents=True, exist_ok=True)
        # beside the cache, so that moving a result in is a rename on one file system
        with tempfile.TemporaryDirectory(dir=cache, prefix=".run-") as tmp:
            status = run_fem(command, [scenarios[i] for i in misses], Path(tmp))
            failed = []
            for i in misses:
                result = Path(tmp) / f"{scenarios[i].stem}.h5"
                if result.exists():
                    os.replace(result, cached[i])
                else:
                    failed.append(str(scenarios[i]))
        if failed or status != 0:
            print(f"error: chunk failed (FEM exit status {status}); no result written for "
                  f"{', '.join(failed) or 'any model'}; the others are kept in {cache}", file=sys.stderr)
            return status or 1
    for source, output in zip(cached, outputs):
        output.parent.mkdir(parents=True, exist_ok=True)
        place(source, output)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("error: give the FEM command after --", file=sys.stderr)
        return 2
    split = argv.index("--")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", nargs="+", type=Path, required=True, help="the chunk's scenario files (YAML)")
    p.add_argument("--outputs", nargs="+", type=Path, required=True, help="result file of each scenario (HDF5)")
    p.add_argument("--cache", type=Path, required=True, help="folder of cached results, KEY.h5")
    p.add_argument("--solver", nargs="+", type=Path, required=True,
                   help="folders of the solver's Python source, part of every key")
    args = p.parse_args(argv[:split])
    if not argv[split + 1:]:
        p.error("give the FEM command after --")
    return simulate_chunk(args.scenarios, args.outputs, args.cache, args.solver, argv[split + 1:])


if __name__ == "__main__":
    raise SystemExit(main())
