"""The gradient inversion through the forward network (`invert --optimise`) beside the inverse network, on test.

For each test model of a store (or the first --n): the inverse network's estimate (the model folder's
chosen estimator, or --network) is fitted onto the control grid and descended through the forward surrogate
(surrogate.optimise; the first trained of features.FORWARD_TASKS, forward_spatial preferred, or --forward), as `invert
--optimise` does with the store's known ground elevation and layers. Three estimates are scored against
the true boundaries, each as the share of boundary elevations within +-tolerance (overall, per boundary,
95 % bootstrap interval over the models; surrogate.evaluate.boundary_scores, baselines.bootstrap_within):

* network: the inverse network's estimate at the stations;
* network_on_grid: the same fitted onto the control grid (the descent's start; what the grid can hold);
* optimised: after the descent.

Beside them the forward misfit J (squared standardised waveform misfit) at the start, after the descent and
at the truth (the true boundaries fitted onto the grid: what J the network's own error leaves when the
structure is right; a descent that goes below it fits the network's errors, not the structure).

The box (x, y) comes from a base scenario (--base; default the store's own first test scenario), the
control grid from --control-grid (default 8 8: the 3D benchmark's generator, config/benchmark3d.yaml
`control_grid`, so its true boundaries lie on the grid; `invert` takes the observed scenario's own grid,
which for those scenarios is the same). E.g.

    python benchmarks/surrogate_optimise.py --store results/dataset/store.h5 --model results/surrogate \
        --base config/scenarios/benchmark3d.yaml [--n 20] [--out results/evaluation/optimise.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from surrogate.baselines import bootstrap_within  # noqa: E402
from surrogate.dataset import TEST, load_store  # noqa: E402
from surrogate.ensemble import load_inverse  # noqa: E402
from surrogate.evaluate import boundary_scores  # noqa: E402
from surrogate.features import FORWARD_TASKS  # noqa: E402
from surrogate.inference import find_model, load_trained  # noqa: E402
from surrogate.optimise import fit_control_grid, interpolation_matrix, optimise_boundaries  # noqa: E402
from surrogate.scenario import parse_scenario, same_source  # noqa: E402
from surrogate.errors import SurrogateInputError  # noqa: E402

#: the 3D benchmark's control grid (config/benchmark3d.yaml, distribution control_grid)
DEFAULT_CONTROL_GRID = (8, 8)


def scored(estimate: np.ndarray, target: np.ndarray, tol: float) -> dict:
    return {**boundary_scores(estimate, target, tol), "bootstrap": bootstrap_within(estimate, target, tol)}


def _summary(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "median": float(np.median(values)), "per_model": [float(v) for v in values]}


def score(store_path: str | Path, model_dir: str | Path, base: str | Path | None = None,
          control_grid: tuple[int, int] = DEFAULT_CONTROL_GRID, network: str | None = None, n: int | None = None,
          steps: int = 200, lr: float = 0.2, tolerance: float = 2.0, forward_task: str | None = None) -> dict:
    """The scores (see the module's doc) as a JSON-ready dict."""
    store = load_store(store_path)
    models = store.models(TEST)[:n]
    if not models.size:
        raise SurrogateInputError(f"{store_path}: holds no test models")
    if base is None:
        with h5py.File(store_path, "r") as f:
            text = f["provenance/scenario"].asstr()[int(models[0])]
    else:
        text = Path(base).read_text()
    box = parse_scenario(text).model
    inverse = load_inverse(model_dir, network)
    forward = load_trained(find_model(model_dir, (forward_task,) if forward_task else FORWARD_TASKS))
    if not same_source(parse_scenario(text), forward.source):
        raise SurrogateInputError(f"{base or store_path}: its source differs from the forward surrogate's")
    xy, target = store.station_xy, store.boundary_elevation[models]
    weights = interpolation_matrix(box.x, box.y, tuple(control_grid), xy)
    t0 = time.perf_counter()
    by_network = inverse(store.spectra[models], store.velocity[models], store.ground_elevation[models], xy)
    t_net = time.perf_counter() - t0
    on_grid, optimised, start, final, at_truth = [], [], [], [], []
    t0 = time.perf_counter()
    for k, m in enumerate(models):
        args = (forward, store.velocity[m], store.ground_elevation[m], store.layers[m], weights)
        control = fit_control_grid(weights, by_network[k]).reshape(-1, *control_grid)
        grid = optimise_boundaries(*args, control, steps=steps, lr=lr, xy=xy)
        on_grid.append(control.reshape(control.shape[0], -1) @ weights.T)
        optimised.append(grid.elevation)
        start.append(grid.start_misfit)
        final.append(grid.misfit)
        truth = fit_control_grid(weights, target[k]).reshape(-1, *control_grid)
        at_truth.append(optimise_boundaries(*args, truth, steps=0, xy=xy).start_misfit)
    t_opt = time.perf_counter() - t0
    estimates = {"network": by_network, "network_on_grid": np.stack(on_grid), "optimised": np.stack(optimised)}
    scores = {name: scored(e, target, tolerance) for name, e in estimates.items()}
    return {"n_models": int(models.size), "n_estimates": int(target.size), "tolerance_m": tolerance,
            "inverse_network": inverse.name, "forward_network": forward.spec.task,
            "control_grid": list(control_grid), "steps": steps, "lr_m": lr, **scores,
            "optimised_minus_network": scores["optimised"]["within_tolerance"] - scores["network"]["within_tolerance"],
            "misfit": {"start": _summary(start), "optimised": _summary(final), "truth": _summary(at_truth)},
            "seconds": {"network": t_net, "optimise_per_model": t_opt / models.size}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="dataset store; its test split is scored")
    ap.add_argument("--model", required=True, help="folder of the trained networks (results/surrogate)")
    ap.add_argument("--base", help="scenario giving the box extent (default: the store's first test scenario)")
    ap.add_argument("--control-grid", type=int, nargs=2, default=DEFAULT_CONTROL_GRID, metavar=("ROWS", "COLS"),
                    help="control grid of the estimate (default 8 8: the 3D benchmark's generator grid; "
                         "needs rows*cols <= stations)")
    ap.add_argument("--network", help="inverse estimator (default: the one `select` chose, as invert)")
    ap.add_argument("--forward", choices=FORWARD_TASKS,
                    help="forward network to descend through (default: as invert, the first trained of "
                         f"{', '.join(FORWARD_TASKS)})")
    ap.add_argument("--n", type=int, help="score only the first N test models (default all)")
    ap.add_argument("--steps", type=int, default=200, help="Adam steps (invert's default 200)")
    ap.add_argument("--lr", type=float, default=0.2, help="Adam step, m (invert's default 0.2)")
    ap.add_argument("--tolerance", type=float, default=2.0)
    ap.add_argument("--out", help="write the scores as JSON here too")
    a = ap.parse_args(argv)
    try:
        out = score(a.store, a.model, a.base, tuple(a.control_grid), a.network, a.n, a.steps, a.lr, a.tolerance,
                    a.forward)
    except SurrogateInputError as err:
        sys.exit(f"error: {err}")

    print(f"test models {out['n_models']}: boundary elevations within +-{a.tolerance} m (95 % bootstrap CI); "
          f"inverse {out['inverse_network']}, forward {out['forward_network']}, control grid "
          f"{out['control_grid'][0]}x{out['control_grid'][1]}, {a.steps} steps")
    for name in ("network", "network_on_grid", "optimised"):
        s = out[name]
        b = s["bootstrap"]
        per = "  ".join(f"{k} {100 * v['within_tolerance']:5.1f} %" for k, v in s["per_boundary"].items())
        print(f"  {name:<16} {100 * s['within_tolerance']:5.1f} % [{100 * b['ci_low']:.1f}, {100 * b['ci_high']:.1f}]"
              f"  {per}  rmse {s['rmse_m']:.2f} m")
    m = out["misfit"]
    print(f"  forward misfit J (mean): start {m['start']['mean']:.4g}  optimised {m['optimised']['mean']:.4g}  "
          f"truth {m['truth']['mean']:.4g}")
    print(f"  optimised - network: {100 * out['optimised_minus_network']:+.1f} points; "
          f"{out['seconds']['optimise_per_model']:.1f} s per model")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
