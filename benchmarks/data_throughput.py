"""Training-data throughput: models per core-hour, scenario file to result file, old path against new.

    python benchmarks/data_throughput.py [--base config/scenarios/benchmark.yaml] [--n 48] [--n-old 8]

Both paths start from the same drawn ground models (the base scenario's geometry
distribution, `--config` for another configuration's) and run on one core
(OMP_NUM_THREADS=1), one after the other, in this run:

* old: what the workflow did per model until now, three processes per model:
  `workflow/scripts/scenario.py` (the models stage), `python -m fem mesh --save`
  (gmsh) and `python -m fem run --mesh ... -o` with block-Jacobi CG and the
  polynomial predictor (`solver: {predictor: polynomial}`, the old solver);
* new: one `python -m surrogate generate` process drawing every model, then one
  `python -m fem run *.yaml --output-dir` process (what a `simulate.chunk` job
  runs) with the projection predictor: `--generator gmsh` meshes each model in
  the process and runs it as a batch of one (`--preconditioner`, default the
  two-grid of hpc.twogrid); `--generator columns` gives every
  model the column mesh of one shared topology (`mesh.generator: columns`, the
  counts that cover every drawn model; `--order`, `--per-wavelength` its element order and
  elements per wavelength) and advances them together (fem.batch).

Printed: seconds per model of each path (wall, whole processes), models per
core-hour, the ratio, the peak resident memory of the largest process of each
path, and mean CG iterations per step (from the result logs). The old path runs
on fewer models (--n-old) because each costs ~10 s; both figures are per model.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def run(cmd: list[str], log: list[str], cwd: Path = ROOT) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one whole process run in cwd; its stderr appended to log."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    log.append(err)
    return wall, usage.ru_maxrss // 1024


def cg_mean(logs: list[str]) -> float:
    values = [float(v) for text in logs for v in re.findall(r"mean CG iterations/step ([0-9.]+)", text)]
    return sum(values) / len(values)


def shared_topology(paths: list[Path]):
    """The column topology covering every model: each count the largest any model needs."""
    from fem.column_mesh import ColumnTopology, column_topology
    from fem.scenario import load_scenario
    tops = []
    for p in paths:
        sc = load_scenario(p)
        m = sc.mesh
        n = m.elements_per_wavelength
        tops.append(column_topology(sc.model, m.order, m.f_max, n))
    return ColumnTopology(max(t.nx for t in tops), max(t.ny for t in tops),
                          tuple(max(t.levels[i] for t in tops) for i in range(len(tops[0].levels))), tops[0].order)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="config/scenarios/benchmark.yaml", help="base scenario")
    p.add_argument("--config", default="config/benchmark.yaml", help="configuration whose distribution to draw")
    p.add_argument("--n", type=int, default=48, help="models on the new path")
    p.add_argument("--n-old", type=int, default=8, help="models on the old path")
    p.add_argument("--old-tree", type=Path, help="run the old path's commands in this checkout of an earlier "
                                                 "version (e.g. `git worktree add /tmp/old 0ca59b7`), not this one")
    p.add_argument("--batch", type=int, default=32, help="models advanced together on the new path")
    p.add_argument("--generator", choices=("gmsh", "columns"), default="gmsh", help="mesher of the new path")
    p.add_argument("--order", type=int, help="element order of the new path's meshes (default: the base's)")
    p.add_argument("--preconditioner", choices=("block_jacobi", "two_grid"), default="two_grid",
                   help="CG preconditioner of the new path (the old path: block_jacobi)")
    p.add_argument("--solver", default="{}", help="further solver settings of the new path (JSON), "
                                                  'e.g. \'{"backend": "torch"}\'')
    p.add_argument("--per-wavelength", type=float, help="elements per wavelength of the new path's meshes")
    args = p.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base.yaml"
        tree = yaml.safe_load((ROOT / args.base).read_text())
        tree["mesh"] = {k: v for k, v in tree["mesh"].items() if k not in ("generator", "columns")}
        base.write_text(yaml.safe_dump(tree, sort_keys=False))
        config = yaml.safe_load((ROOT / args.config).read_text())
        dist = config.get("scenarios", {}).get("distribution", {})
        seed = 7

        # old: three processes per model
        old_log: list[str] = []
        old_wall, old_rss = 0.0, 0
        (tmp / "old").mkdir()
        old_root = (args.old_tree or ROOT).resolve()
        for i in range(args.n_old):
            s = tmp / "old" / f"m{i}.yaml"
            w, r = run([py, "workflow/scripts/scenario.py", str(base), "--seed", str(seed), "--index", str(i),
                        "--fixed-layers", "--distribution", json.dumps(dist), "-o", str(s)], old_log, old_root)
            old_wall, old_rss = old_wall + w, max(old_rss, r)
            if args.old_tree is None:   # this version: the old solver by its settings (an old one has it)
                drawn = yaml.safe_load(s.read_text())
                drawn["solver"] = {"predictor": "polynomial"}
                s.write_text(yaml.safe_dump(drawn, sort_keys=False))
            for cmd in ([py, "-m", "fem", "mesh", str(s), "--save", str(s.with_suffix(".npz"))],
                        [py, "-m", "fem", "run", str(s), "--mesh", str(s.with_suffix(".npz")), "-o",
                         str(s.with_suffix(".h5"))]):
                w, r = run(cmd, old_log, old_root)
                old_wall, old_rss = old_wall + w, max(old_rss, r)

        # new: one process draws, one process simulates
        new_log: list[str] = []
        columns = dict(tree)
        columns["mesh"] = dict(tree["mesh"], generator=args.generator)
        if args.order:
            columns["mesh"]["order"] = args.order
        if args.per_wavelength:
            columns["mesh"]["elements_per_wavelength"] = args.per_wavelength
        columns["solver"] = {"preconditioner": args.preconditioner, **json.loads(args.solver)}
        colbase = tmp / "columns.yaml"
        colbase.write_text(yaml.safe_dump(columns, sort_keys=False))
        w_gen, r_gen = run([py, "-m", "surrogate", "generate", "--base", str(colbase), "--config", str(ROOT / args.config),
                            "--n", str(args.n), "--seed", str(seed), "--fixed-layers", "--out", str(tmp / "new")],
                           new_log)
        paths = sorted((tmp / "new").glob("*.yaml"))
        top = None
        if args.generator == "columns":   # the counts a configuration's base scenario carries (not timed)
            top = shared_topology(paths)
            for s in paths:
                drawn = yaml.safe_load(s.read_text())
                drawn["mesh"]["columns"] = {"nx": top.nx, "ny": top.ny, "levels": list(top.levels)}
                s.write_text(yaml.safe_dump(drawn, sort_keys=False))
        w_run, r_run = run([py, "-m", "fem", "run", *map(str, paths), "--output-dir", str(tmp / "out"),
                            "--batch", str(args.batch)], new_log)
        old_per, new_per = old_wall / args.n_old, (w_gen + w_run) / args.n
        print(f"base {args.base}, distribution of {args.config}; one core each path")
        print(f"old ({old_root}): {args.n_old} models, {old_per:.2f} s/model, {3600 / old_per:.0f} models/core-hour, "
              f"peak RSS {old_rss} MB, CG {cg_mean(old_log):.1f} iterations/step")
        mesher = ("gmsh, batches of one" if top is None else f"column topology nx={top.nx} ny={top.ny} "
                  f"levels={list(top.levels)} order {top.order}, batches of {args.batch}")
        print(f"new: {args.n} models ({mesher}), {new_per:.2f} s/model (draw {w_gen:.1f} s, FEM {w_run:.1f} s), "
              f"{3600 / new_per:.0f} models/core-hour, peak RSS {max(r_gen, r_run)} MB, "
              f"CG {cg_mean(new_log):.1f} iterations/step")
        print(f"ratio new/old models per core-hour: {old_per / new_per:.2f}")


if __name__ == "__main__":
    main()
