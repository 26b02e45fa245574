"""`python -m surrogate SUBCOMMAND ...`: thin adapters from the command line to library calls.

Bad or missing inputs end with one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import yaml

from surrogate.errors import SurrogateInputError

VERSION = "0.1.0"


def _generate(a) -> None:
    from surrogate.generate import generate_scenarios
    if not Path(a.base).is_file():
        raise SurrogateInputError(f"base scenario not found: {a.base}")
    paths = generate_scenarios(Path(a.base).read_text(), a.n, a.seed, a.out, fixed_layers=a.fixed_layers)
    print(f"wrote {len(paths)} scenarios to {a.out}")


def _simulate_1d(a) -> None:
    from surrogate.column1d import run_columns
    from surrogate.resultfile import write_result
    from surrogate.scenario import load_scenario
    rec, wall = run_columns(load_scenario(a.scenario))
    write_result(a.output, rec, ranks=1, dofs=0, wall_seconds=wall, version=VERSION)


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
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
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
    if read_placement().is_root:
        print(json.dumps(summary))


def _evaluate(a) -> None:
    from surrogate.evaluate import evaluate
    metrics = evaluate(a.store, a.model, a.out, a.tolerance)
    print(json.dumps(metrics.get("boundary_elevation", {}).get("within_tolerance")))


def _predict(a) -> None:
    import yaml as _yaml
    from surrogate.inference import find_model, load_trained, predict_velocity
    from surrogate.resultfile import Recording, write_result
    from surrogate.scenario import load_scenario, output_times, station_xy
    from surrogate.surfaces import surfaces_at
    import numpy as np
    start = time.perf_counter()
    scenario = load_scenario(a.scenario)
    model = load_trained(find_model(a.model, ("forward",)))
    if _yaml.safe_dump(scenario.source, sort_keys=True) != model.source:
        raise SurrogateInputError(f"{a.scenario}: its source differs from the one the surrogate was trained for")
    t = output_times(scenario)
    if t.shape != model.time.shape or not np.allclose(t, model.time):
        raise SurrogateInputError(f"{a.scenario}: output times differ from the surrogate's "
                                  f"({len(model.time)} samples every {model.time[1] - model.time[0]} s)")
    if len(scenario.layers) * 4 + len(scenario.surfaces) != model.spec.n_inputs:
        raise SurrogateInputError(f"{a.scenario}: layer count differs from the surrogate's")
    xy = station_xy(scenario)
    z = surfaces_at(scenario, xy)
    layers = np.stack([l.as_array() for l in scenario.layers])
    velocity = predict_velocity(model, z[0], z[1:], layers)
    rec = Recording(np.concatenate([xy, z[:1].T], axis=1), t, velocity, scenario.text, "surrogate")
    write_result(a.output, rec, ranks=1, dofs=0, wall_seconds=time.perf_counter() - start, version=VERSION)


def _invert(a) -> None:
    from surrogate.inference import best_inverse, estimate_boundaries, find_model, load_trained
    from surrogate.resultfile import read_result, write_estimate
    from surrogate.spectra import Band, log_amplitude_spectra
    import numpy as np
    rec = read_result(a.result)
    model = load_trained(find_model(a.model, (a.network,)) if a.network else best_inverse(a.model))
    if rec.t.shape != model.time.shape or not np.allclose(rec.t, model.time):
        raise SurrogateInputError(f"{a.result}: sample times differ from the training data's "
                                  f"({len(model.time)} samples every {model.time[1] - model.time[0]} s)")
    f = model.frequency
    spectra = log_amplitude_spectra(rec.velocity, float(rec.t[1] - rec.t[0]), Band(f[0], f[-1], len(f)))
    est = estimate_boundaries(model, spectra[None], rec.xyz[None, :, 2], rec.xyz[:, :2])[0]
    write_estimate(a.output, rec.xyz, est, {"network": model.spec.task, "source_file": str(a.result),
                                             "engine": "surrogate", "version": VERSION})


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m surrogate", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    g = sub.add_parser("generate", help="draw random ground models as scenario files of a base scenario")
    g.add_argument("--base", required=True, help="base scenario YAML (acquisition, source, mesh, time)")
    g.add_argument("--n", type=int, required=True, help="number of ground models")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--fixed-layers", action="store_true", help="keep the base layer properties; vary geometry only")
    g.add_argument("--out", required=True, help="folder for model_NNNNN.yaml")
    g.set_defaults(run=_generate)
    s = sub.add_parser("simulate-1d", help="1D layered-column stand-in engine (plane wave), FEM result layout")
    s.add_argument("scenario")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(run=_simulate_1d)
    d = sub.add_parser("dataset", help="build the HDF5 training store from result files")
    d.add_argument("results", nargs="+", help="result files (HDF5, FEM layout)")
    d.add_argument("--scenarios", nargs="*", help="their scenario files, same order (default: text in the result)")
    d.add_argument("--band", nargs=3, type=float, default=[0.25, 8.0, 64], metavar=("FMIN", "FMAX", "N"))
    d.add_argument("--fractions", nargs=3, type=float, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VAL", "TEST"))
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("-o", "--output", required=True)
    d.set_defaults(run=_dataset)
    t = sub.add_parser("train", help="train one network (one process, or many under torchrun/srun/mpiexec)")
    t.add_argument("--store", required=True)
    t.add_argument("--task", required=True, help="inverse_pointwise, inverse_spatial or forward")
    t.add_argument("--out", required=True, help="surrogate folder; the network goes to OUT/TASK/")
    t.add_argument("--config", help="YAML/JSON of TrainConfig fields")
    for name, typ in (("epochs", int), ("batch-size", int), ("lr", float), ("max-steps", int), ("seed", int),
                      ("patience", int)):
        t.add_argument(f"--{name}", type=typ)
    t.set_defaults(run=_train)
    e = sub.add_parser("evaluate", help="score the trained networks on the test split: metrics.json + PNGs")
    e.add_argument("--store", required=True)
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--tolerance", type=float, default=2.0, help="boundary elevation tolerance, m")
    e.set_defaults(run=_evaluate)
    r = sub.add_parser("predict", help="forward surrogate: scenario -> result file (engine 'surrogate')")
    r.add_argument("scenario")
    r.add_argument("--model", required=True)
    r.add_argument("-o", "--output", required=True)
    r.set_defaults(run=_predict)
    i = sub.add_parser("invert", help="structure estimate: result file -> estimate file")
    i.add_argument("result")
    i.add_argument("--model", required=True)
    i.add_argument("--network", choices=("inverse_pointwise", "inverse_spatial"),
                   help="default: the trained one with the lowest validation loss")
    i.add_argument("-o", "--output", required=True)
    i.set_defaults(run=_invert)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except SurrogateInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
