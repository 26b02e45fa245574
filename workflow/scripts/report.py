"""The `report` stage: one self-contained HTML page of a pipeline run.

Sections: headline scores against the published marks, every metric of
metrics.json, the evaluation plots (PNG, embedded), the inversion of the "new"
models and its FEM confirmation (results/confirm/ID.json: which engine produced the
observation, misfit per component and GOF of the FEM run on the estimate, boundary error;
the boundary errors are read from there, not recomputed), run times per stage from
Snakemake's benchmark files (whichever are there), and provenance (config, package
versions, host, git commit).

    python workflow/scripts/report.py --metrics M.json [--plots P.png ...] --benchmarks DIR \
        --config CONFIG.yaml [--estimates E.h5 ...] [--confirm C.json ...] -o index.html
"""
from __future__ import annotations

import argparse
import base64
import csv
import html
import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

# Run as a file by the workflow: make this checkout's fem/ and surrogate/ importable, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fem.atomic import write_text_atomic  # noqa: E402  (after the path above)

#: Published fraction of boundary elevations within 2 m (Yamaguchi et al., ICCS 2020): two input sets.
PUBLISHED_MARKS = {"published, input set 1": 0.891, "published, input set 2": 0.994}


def flatten(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted.key, value) for every leaf of a nested mapping, in order."""
    rows = []
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        rows += flatten(value, name) if isinstance(value, dict) else [(name, value)]
    return rows


def stage_times(benchmark_dir: Path) -> list[dict]:
    """Per stage (first folder under benchmark_dir): jobs, total and longest wall time (s), peak RSS (MB)."""
    stages: dict[str, list[tuple[float, float]]] = {}
    for tsv in sorted(benchmark_dir.rglob("*.tsv")):
        with tsv.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        stage = tsv.relative_to(benchmark_dir).parts[0]
        rss = [float(r["max_rss"]) for r in rows if r.get("max_rss") not in (None, "", "-", "NA")]
        stages.setdefault(stage, []).append((float(rows[-1]["s"]), max(rss) if rss else float("nan")))
    return [{"stage": s, "jobs": len(v), "total_s": sum(t for t, _ in v), "longest_s": max(t for t, _ in v),
             "peak_rss_mb": max(m for _, m in v)} for s, v in stages.items()]


def inversion_scores(confirm: list[Path], estimates: list[Path] = ()) -> list[dict]:
    """Per inverted model: stations, and the boundary error of its estimate (fraction of boundary
    elevations within tolerance, RMSE, max error, tolerance) as the confirm stage scored it
    (surrogate.confirm.boundary_error, results/confirm/ID.json): read, not recomputed.

    Models are matched by file stem. An estimate without a confirm JSON (the confirm stage did not
    run for it) or a JSON without a boundary error (its observation records no scenario, so there
    is no truth) says so in place of the numbers."""
    import h5py

    rows: dict[str, dict] = {}
    for path in estimates:
        with h5py.File(path, "r") as f:
            stations = int(f["receivers/xyz"].shape[0])
        rows[path.stem] = {"model": path.stem, "stations": stations}
    found = {path.stem: json.loads(path.read_text()) for path in confirm}
    for stem in found:
        rows.setdefault(stem, {"model": stem, "stations": "unknown"})
    for stem, row in rows.items():
        if stem not in found:
            why = "not confirmed (no confirm JSON)"
            row |= {"within_tolerance": why, "rmse_m": why, "max_error_m": why, "tolerance_m": why}
            continue
        error = found[stem].get("boundary_error")
        if not error:
            why = "unknown (observation records no scenario)"
            row |= {"within_tolerance": why, "rmse_m": why, "max_error_m": why, "tolerance_m": why}
            continue
        row |= {"within_tolerance": error["within_tolerance"], "rmse_m": error["rmse_m"],
                "max_error_m": error["max_m"], "tolerance_m": error["tolerance_m"]}
    return list(rows.values())


def confirmation_rows(confirm: list[Path]) -> list[dict]:
    """Per inverted model (surrogate.confirm's JSON): observation engine, relative L2 per component,
    mean GOF of the FEM run on the estimate, and the estimate's boundary error."""
    rows = []
    for path in confirm:
        c = json.loads(path.read_text())
        error = c.get("boundary_error", {})
        if "refused" in c:   # the estimate is no valid model (crossing or too thin): no FEM run
            fields = {f"L2 {k}": "refused" for k in ("x", "y", "z")} | {"GOF": c["refused"]}
        else:
            fields = {f"L2 {k}": c["relative_l2"][k] for k in ("x", "y", "z")} | {"GOF": c["gof"]["mean"]}
        rows.append({"model": path.stem, "observed by": c["observed_engine"], **fields,
                     "rmse": error.get("rmse_m", "unknown"), "max": error.get("max_m", "unknown")})
    return rows


def versions() -> dict[str, str]:
    """Versions of the interpreter and the packages that shape the results."""
    from importlib.metadata import PackageNotFoundError, version
    found = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "h5py", "torch", "gmsh", "mpi4py", "snakemake", "seismic-surrogate"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            found[pkg] = "not installed"
    try:
        found["git commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        found["git commit"] = "unknown"
    return found


def _table(rows: list[dict] | list[tuple], header: list[str]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in (r.values() if isinstance(r, dict) else r))
                   + "</tr>" for r in rows)
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + f"</tr>{body}</table>"


def headline(metrics: dict) -> list[tuple[str, str, str]]:
    """(what, fraction within tolerance, tolerance) rows: this run, then the published marks."""
    be = metrics.get("boundary_elevation", {})
    tol = be.get("tolerance_m", 2.0)
    what = f"this run ({be['network']}, held-out test models)" if "network" in be else "this run (held-out test models)"
    rows = [(what, f"{100 * be['within_tolerance']:.1f} %" if "within_tolerance" in be
             else "missing", f"{tol} m")]
    rows += [(name, f"{100 * mark:.1f} %", "2.0 m") for name, mark in PUBLISHED_MARKS.items()]
    return rows


def render(metrics: dict, plots: list[Path], times: list[dict], inversion: list[dict], config_text: str,
           provenance: dict[str, str], confirmation: list[dict] | None = None) -> str:
    """The report page (HTML text), images embedded so the file stands alone."""
    images = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{html.escape(p.name)}</figcaption></figure>" for p in plots)
    total = sum(t["total_s"] for t in times)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Seismic surrogate pipeline report</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}img{max-width:32em}"
        "figure{display:inline-block}pre{background:#f6f6f6;padding:1em}</style></head><body>",
        "<h1>Seismic surrogate pipeline report</h1>",
        f"<p>Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}.</p>",
        "<h2>Structure estimation: boundary elevations within tolerance</h2>",
        _table(headline(metrics), ["", "within tolerance", "tolerance"]),
        "<h2>All metrics (metrics.json)</h2>", _table(flatten(metrics), ["metric", "value"]),
        "<h2>Plots</h2>", images or "<p>none</p>",
        "<h2>Inversion of the new models</h2>",
        "<p>Boundary error of each estimate against the observed scenario's surfaces at the stations, "
        "as the confirm stage scored it (results/confirm/ID.json).</p>"
        + _table(inversion, ["model", "stations", "within tolerance", "RMSE (m)", "max error (m)", "tolerance (m)"])
        if inversion
        else "<p>no inversion in this run</p>",
        "<h2>FEM confirmation of the estimates</h2>",
        "<p>The observed scenario with the estimated boundaries, run with the FEM: relative L2 misfit per "
        "component and Anderson GOF (0-10, mean over stations) of its records against the observation; "
        "boundary error of the estimate against the observed scenario's surfaces at the stations.</p>"
        + _table(confirmation, ["model", "observation engine", "relative L2 x", "relative L2 y", "relative L2 z",
                                "GOF", "boundary RMSE (m)", "boundary max error (m)"]) if confirmation
        else "<p>no FEM confirmation in this run</p>",
        f"<h2>Run time per stage (total {total:.1f} s of job time)</h2>",
        _table(times, ["stage", "jobs", "total (s)", "longest job (s)", "peak RSS (MB)"]),
        "<h2>Provenance</h2>", _table(list(provenance.items()), ["", ""]),
        f"<h3>Configuration</h3><pre>{html.escape(config_text)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics", type=Path, required=True, help="metrics.json of the evaluate stage")
    p.add_argument("--plots", type=Path, nargs="*", default=[], help="PNG plots of the evaluate stage")
    p.add_argument("--benchmarks", type=Path, required=True,
                   help="folder of Snakemake benchmark files, one subfolder per stage (read if there)")
    p.add_argument("--config", type=Path, required=True, help="the run's configuration (YAML)")
    p.add_argument("--estimates", type=Path, nargs="*", default=[], help="estimate files of the invert stage")
    p.add_argument("--confirm", type=Path, nargs="*", default=[],
                   help="misfit files (JSON) of the confirm stage: the estimates' boundary errors")
    p.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    args = p.parse_args(argv)
    page = render(json.loads(args.metrics.read_text()), sorted(args.plots, key=lambda p: p.name),
                  stage_times(args.benchmarks), inversion_scores(args.confirm, args.estimates),
                  args.config.read_text(), {"host": platform.node(), **versions()},
                  confirmation_rows(args.confirm))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output, page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
