"""`python -m surrogate SUBCOMMAND ...`: thin adapters from the command line to library calls.

Bad or missing inputs end with one line on stderr and exit status 2. A `train` that stops
before it finishes (SIGTERM: preemption or the time limit; --max-steps) ends with one line
on stderr and exit status UNFINISHED (75): its checkpoint is written, its network is not final
(workflow/rules/train.smk publishes nothing then), and the same command resumes it.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from surrogate.errors import SurrogateInputError

#: exit status of `check` for a scenario the guard does not accept (the FEM should run it)
OUTSIDE = 3
#: exit status of `train` when it stopped before it finished (SIGTERM, --max-steps): checkpoint written,
#: network not final; run the same command again to resume (EX_TEMPFAIL of sysexits.h: try again later).
#: Launchers pass on a non-zero status of their own (torchrun: 1; srun: the largest task status).
UNFINISHED = 75
#: how a finished training ends (surrogate.train summary "stopped"); anything else is unfinished
FINISHED = ("epochs", "early_stopping")


def _generate(a) -> None:
    from surrogate.distribution import distribution_from_settings
    from surrogate.generate import generate_scenarios
    config = {}
    if a.config:
        if not Path(a.config).is_file():
            raise SurrogateInputError(f"configuration not found: {a.config}")
        config = yaml.safe_load(Path(a.config).read_text()) or {}
        if not isinstance(config, dict) or not isinstance(config.get("scenarios", {}), dict):
            raise SurrogateInputError(f"{a.config}: a pipeline configuration is a mapping (config/config.yaml)")
    base = a.base or config.get("base_scenario")
    if base is None:
        raise SurrogateInputError("generate: give --base, or a --config with base_scenario")
    if not Path(base).is_file():
        raise SurrogateInputError(f"base scenario not found: {base}")
    scenarios = config.get("scenarios", {})
    dist = distribution_from_settings(scenarios.get("distribution") or {})
    paths = generate_scenarios(Path(base).read_text(), a.n, a.seed, a.out, dist,
                               a.fixed_layers or scenarios.get("fixed_layers", False), a.family)
    print(f"wrote {len(paths)} scenarios to {a.out}")


def _dataset(a) -> None:
    from surrogate.dataset import build_store
    from surrogate.spectra import Band
    scenarios = a.scenarios or [None] * len(a.results)
    if len(scenarios) != len(a.results):
        raise SurrogateInputError(f"dataset: {len(a.scenarios)} scenarios for {len(a.results)} result files")
    band = Band(a.band[0], a.band[1], int(a.band[2]))
    build_store(list(zip(scenarios, a.results)), a.output, band, tuple(a.fractions), a.seed)


def train_config(path: str | None, overrides: dict):
    """TrainConfig from an optional YAML/JSON file, then non-None command-line overrides."""
    from surrogate.train import TrainConfig
    values = {}
    if path:
        if not Path(path).is_file():
            raise SurrogateInputError(f"training config not found: {path}")
        values = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(values, dict):
            raise SurrogateInputError(f"{path}: a training config is a mapping of TrainConfig fields")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SurrogateInputError(f"{path}: unknown training setting(s) {', '.join(unknown)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("hidden", "lift"):
        if key in values:
            values[key] = tuple(values[key])
    return TrainConfig(**values)


def _train(a) -> None:
    from surrogate.distributed import read_placement
    from surrogate.features import TASKS
    from surrogate.train import train
    if a.task not in TASKS:
        raise SurrogateInputError(f"unknown task '{a.task}'; choose one of {', '.join(TASKS)}")
    cfg = train_config(a.config, {"task": a.task, "epochs": a.epochs, "batch_size": a.batch_size, "lr": a.lr,
                                  "max_steps": a.max_steps, "seed": a.seed, "patience": a.patience})
    summary = train(cfg, a.store, a.out)
    root = read_placement().is_root
    if root:
        print(json.dumps(summary))
    if summary["stopped"] not in FINISHED:
        if root:
            why = "by SIGTERM" if summary["stopped"] == "signal" else f"at --max-steps {cfg.max_steps}"
            print(f"train: stopped {why} at step {summary['step']} (epoch {summary['epoch']}): checkpoint "
                  f"{Path(a.out) / cfg.task / 'checkpoint.pt'} written, the network is not final; run again to "
                  "resume", file=sys.stderr, flush=True)
        return UNFINISHED
    return 0


def _evaluate(a) -> None:
    from surrogate.evaluate import evaluate
    metrics = evaluate(a.store, a.model, a.out, a.tolerance)
    print(json.dumps(metrics.get("boundary_elevation", {}).get("within_tolerance")))


def _select(a) -> None:
    from surrogate.ensemble import select
    print(json.dumps(select(a.store, a.model)))


def _predict(a) -> None:
    from surrogate.predict import ForwardSurrogate, output_paths
    outputs = output_paths(a.scenario, a.output, a.output_dir)
    surrogate = ForwardSurrogate(a.model, a.allow_out_of_distribution)
    for scenario, output in zip(a.scenario, outputs):
        surrogate.run(scenario, output)


def _check(a) -> int:
    from surrogate.predict import choose_engine
    engine, reason = choose_engine(a.scenario, a.model)
    print(f"{engine}: {reason}" if reason else engine)
    return 0 if engine == "surrogate" else OUTSIDE


def _confirm(a) -> None:
    from surrogate.confirm import write_confirmation_scenario
    print(write_confirmation_scenario(a.observed, a.estimate, a.output))


def _misfit(a) -> None:
    from surrogate.confirm import confirmation_misfit, refusal, write_json_atomic
    if (a.confirmed is None) == (a.refused is None):
        raise SurrogateInputError("misfit: give the confirmed result file or --refused REASON, one of the two")
    if a.refused is not None:
        summary = refusal(a.observed, a.estimate, a.refused, a.tolerance)
    else:
        summary = confirmation_misfit(a.observed, a.confirmed, a.estimate, a.tolerance)
    write_json_atomic(a.output, summary)
    print(json.dumps(summary.get("relative_l2", {"refused": a.refused})))


def _invert(a) -> None:
    from surrogate.invert import invert
    if (a.result is None) == (a.records is None):
        raise SurrogateInputError("invert: give a result file or --records FILE ... --stations LIST, one of the two")
    records, name = None, a.result
    if a.records is not None:
        from surrogate.ensemble import load_inverse
        from surrogate.obsio import read_records
        if a.stations is None:
            raise SurrogateInputError("invert: --records needs --stations (a plain table or StationXML)")
        if a.scenario is not None and not Path(a.scenario).is_file():
            raise SurrogateInputError(f"scenario not found: {a.scenario}")
        inverse = load_inverse(a.model, a.network)
        records = read_records(a.records, a.stations, inverse.time, float(inverse.frequency[-1]),
                               tuple(a.origin) if a.origin else None, a.t0, a.units,
                               Path(a.scenario).read_text() if a.scenario else "")
        name = f"records ({len(a.records)} files; stations {a.stations})"
    elif any(v is not None for v in (a.stations, a.origin, a.t0, a.units, a.scenario)):
        raise SurrogateInputError("invert: --stations, --origin, --t0, --units and --scenario go with --records")
    summary = invert(name, a.model, a.output, a.network, a.optimise, a.confirm_scenario, records)
    print(json.dumps(summary))


def _export(a) -> None:
    from surrogate.obsio import export_result
    from surrogate.resultfile import read_result
    paths = export_result(read_result(a.result), a.out, a.format, tuple(a.origin) if a.origin else None, a.t0)
    print(f"wrote {len(paths)} files to {a.out}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m surrogate", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    g = sub.add_parser("generate", help="draw random ground models as scenario files of a base scenario")
    g.add_argument("--base", help="base scenario YAML (acquisition, source, mesh, time); default: the "
                                  "--config's base_scenario")
    g.add_argument("--config", help="pipeline configuration (YAML) whose scenarios.distribution and "
                                    "scenarios.fixed_layers to draw with, as its models stage does")
    g.add_argument("--n", type=int, required=True, help="number of ground models")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--fixed-layers", action="store_true", help="keep the base layer properties; vary geometry only")
    g.add_argument("--family", help="draw every model's boundary structure from this one family (a held-out "
                                    "family set): multiscale, dipping, basin, fault or ridge")
    g.add_argument("--out", required=True, help="folder for model_NNNNN.yaml")
    g.set_defaults(run=_generate)
    d = sub.add_parser("dataset", help="build the HDF5 training store from result files")
    d.add_argument("results", nargs="+", help="result files (HDF5, FEM layout)")
    d.add_argument("--scenarios", nargs="*", help="their scenario files, same order (default: text in the result)")
    d.add_argument("--band", nargs=3, type=float, default=[0.25, 8.0, 64], metavar=("FMIN", "FMAX", "N"))
    d.add_argument("--fractions", nargs=3, type=float, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VAL", "TEST"))
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("-o", "--output", required=True)
    d.set_defaults(run=_dataset)
    t = sub.add_parser("train", help="train one network (one process, or many under torchrun/srun/mpiexec); "
                                     f"exits {UNFINISHED} if stopped before the end (SIGTERM, --max-steps)",
                       description="Train one network; OUT/TASK/checkpoint.pt resumes an unfinished run (with as "
                                   "many processes as wrote it). Exit status 0: finished (epochs or early "
                                   f"stopping), OUT/TASK/model.npz is final; {UNFINISHED}: stopped before the end "
                                   "by SIGTERM (preemption, time limit) or --max-steps, checkpoint written, the "
                                   "network not final, the same command resumes; 2: bad input.")
    t.add_argument("--store", required=True)
    t.add_argument("--task", required=True, help="inverse_pointwise, inverse_spatial, forward or forward_spatial")
    t.add_argument("--out", required=True, help="surrogate folder; the network goes to OUT/TASK/")
    t.add_argument("--config", help="YAML/JSON of TrainConfig fields")
    for name, typ in (("epochs", int), ("batch-size", int), ("lr", float), ("max-steps", int), ("seed", int),
                      ("patience", int)):
        t.add_argument(f"--{name}", type=typ,
                       help=f"stop after this global step, checkpointed, with exit status {UNFINISHED}"
                       if name == "max-steps" else None)
    t.set_defaults(run=_train)
    e = sub.add_parser("evaluate", help="score the trained networks on the test split: metrics.json + PNGs")
    e.add_argument("--store", required=True)
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--tolerance", type=float, default=2.0, help="boundary elevation tolerance, m")
    e.set_defaults(run=_evaluate)
    c = sub.add_parser("select", help="choose the inverse estimator (a network, or the mean of all) on the "
                                      "validation split: MODEL/inverse.json, which evaluate and invert follow")
    c.add_argument("--store", required=True)
    c.add_argument("--model", required=True)
    c.set_defaults(run=_select)
    r = sub.add_parser("predict", help="forward surrogate: scenario(s) -> result file(s) (engine 'surrogate')")
    r.add_argument("scenario", nargs="+", help="scenario YAML; several share one network load")
    r.add_argument("--model", required=True)
    r.add_argument("-o", "--output", help="result file (one scenario)")
    r.add_argument("--output-dir", help="folder for the results of any number of scenarios: DIR/STEM.h5")
    r.add_argument("--allow-out-of-distribution", action="store_true",
                   help="predict scenarios whose layer properties, source or sampling lie outside the training "
                        "data too (refused otherwise); the result's attribute out_of_distribution names why")
    r.set_defaults(run=_predict)
    i = sub.add_parser("invert", help="structure estimate: result file (or miniSEED/SAC records) -> estimate file")
    i.add_argument("result", nargs="?", help="result file (HDF5, FEM layout); or give --records and --stations")
    i.add_argument("--records", nargs="+", metavar="FILE",
                   help="instead: waveform files ObsPy reads (miniSEED, SAC, ...), particle velocity, channels "
                        "ending in E/N/Z or X/Y/Z (x east, y north, z up); resampled onto the network's time grid "
                        "(surrogate.obsio)")
    i.add_argument("--stations", metavar="LIST",
                   help="with --records: their coordinates, a plain table 'NET.STA x y z [units]' in the model's "
                        "metres or StationXML (*.xml, with --origin)")
    i.add_argument("--origin", nargs=2, type=float, metavar=("LAT", "LON"),
                   help="with StationXML: latitude and longitude of the model's x=0, y=0 (flat-earth projection)")
    i.add_argument("--t0", metavar="UTC", help="with --records: UTC time of model time 0; default: the latest "
                                               "trace start is the network's first sample time")
    i.add_argument("--units", help="with --records: units of records whose station list names none (m/s, cm/s, "
                                   "mm/s, um/s, nm/s)")
    i.add_argument("--scenario", metavar="YAML", help="with --records: the scenario they were observed under "
                                                      "(source check; needed by --optimise, --confirm-scenario)")
    i.add_argument("--model", required=True)
    i.add_argument("--network", choices=("inverse_pointwise", "inverse_spatial", "ensemble"),
                   help="ensemble: the mean of the trained inverse networks; default: the choice `select` "
                        "recorded, else the network with the lowest validation loss")
    i.add_argument("--optimise", action="store_true",
                   help="also refine the estimate by gradient descent of the waveform misfit through the forward "
                        "surrogate (forward_spatial where trained, else forward) on the boundary control grids; the "
                        "estimate file then holds the refined estimate, and both are reported. It does not beat the "
                        "inverse network: on the 3D benchmark's test models 36.3 %% of boundary elevations within "
                        "2 m against the network's 91.5 %% (benchmarks/surrogate_optimise.py), the descent fitting "
                        "the forward network's errors (its misfit ends below the truth's); a check, not an improvement")
    i.add_argument("--confirm-scenario", metavar="YAML",
                   help="write the observed scenario with b12/b23 replaced by the estimate, for one FEM run")
    i.add_argument("-o", "--output", required=True)
    i.set_defaults(run=_invert)
    x = sub.add_parser("export", help="result file (fem run or predict) -> miniSEED or SAC files, one per station "
                                      "and component, with a station list (surrogate.obsio)")
    x.add_argument("result", help="result file (HDF5, FEM layout)")
    x.add_argument("--format", choices=("mseed", "sac"), required=True)
    x.add_argument("--out", required=True, help="folder for NET.STA..CHA.FORMAT, stations.txt (and stations.xml)")
    x.add_argument("--origin", nargs=2, type=float, metavar=("LAT", "LON"),
                   help="also write stations.xml, placing the model's x=0, y=0 at this latitude and longitude")
    x.add_argument("--t0", default="1970-01-01T00:00:00", metavar="UTC", help="UTC time of the result's time 0")
    x.set_defaults(run=_export)
    k = sub.add_parser("check", help="ask the out-of-distribution guard about a scenario: prints 'surrogate' and "
                                     f"exits 0 inside the training data, prints 'fem: REASON' and exits {OUTSIDE} "
                                     "outside (any refused or flagged value; engine auto runs the FEM then)")
    k.add_argument("scenario")
    k.add_argument("--model", required=True)
    k.set_defaults(run=_check)
    f = sub.add_parser("confirm", help="the observed scenario with the estimated boundaries as control grids, "
                                       "for one FEM run (surrogate.confirm); crossing or too thin: refused")
    f.add_argument("observed", help="the observed result file (its scenario attribute is the scenario)")
    f.add_argument("estimate", help="the estimate file of `invert`")
    f.add_argument("-o", "--output", required=True, help="scenario YAML to write")
    f.set_defaults(run=_confirm)
    m = sub.add_parser("misfit", help="observed records vs the FEM's records of the confirmation scenario: "
                                      "relative L2 per component, GOF, boundary error (JSON)")
    m.add_argument("observed")
    m.add_argument("confirmed", nargs="?", help="the FEM's result file of the confirmation scenario")
    m.add_argument("--refused", help="instead: why the estimate could not be confirmed (no valid model); "
                                     "records the reason and the boundary error")
    m.add_argument("--estimate", required=True, help="the estimate file the confirmation scenario came from")
    m.add_argument("--tolerance", type=float, default=2.0, help="boundary elevation tolerance, m")
    m.add_argument("-o", "--output", required=True, help="JSON file to write")
    m.set_defaults(run=_misfit)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except SurrogateInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
