"""The spatial inverse with and without averaging over the four mirror images of the records.

    python benchmarks/inverse_mirror_views.py --store results/dataset/store.h5 \
        --model results/surrogate/inverse_spatial [--split test]

Under a vertically incident plane wave the records of the mirrored ground are the mirrored records with
sign changes (surrogate.mirror), so the network can be asked four times and the four estimates mirrored
back and averaged (surrogate.inference.mirror_mean, what `invert` and `evaluate` use). This prints the
share of boundary elevations within 2 m (with a 95 % bootstrap interval over models) of one view, of each
view alone and of the mean, on one split of a store (every model of a held-out store: --split all).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from surrogate.baselines import bootstrap_within  # noqa: E402
from surrogate.dataset import TEST, TRAIN, VALIDATION, load_store  # noqa: E402
from surrogate.evaluate import boundary_scores  # noqa: E402
from surrogate.features import boundary_depth, inverse_components, inverse_inputs, to_grid  # noqa: E402
from surrogate.inference import find_model, load_trained, mirror_views  # noqa: E402

SPLITS = {"train": TRAIN, "validation": VALIDATION, "test": TEST}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--model", required=True, help="an inverse_spatial model folder (or the folder holding it)")
    ap.add_argument("--split", default="test", choices=[*SPLITS, "all"])
    ap.add_argument("--tolerance", type=float, default=2.0)
    ap.add_argument("--out", help="write the scores as JSON here too")
    a = ap.parse_args()
    store = load_store(a.store)
    model = load_trained(find_model(a.model, ("inverse_spatial",)))
    models = np.arange(store.split.size) if a.split == "all" else store.models(SPLITS[a.split])
    x = to_grid(inverse_inputs(store.spectra[models], store.velocity[models], store.ground_elevation[models],
                               inverse_components("inverse_spatial", store.source)), store.grid)
    nx, ny = store.grid
    truth = np.swapaxes(boundary_depth(store.ground_elevation[models], store.boundary_elevation[models]),
                        1, 2)[..., : nx * ny]                                   # (N, B, R) depths at the grid
    views = {axes or "none": depth.reshape(*depth.shape[:2], -1)
             for axes, depth in mirror_views(model, x).items()}
    if not views:
        sys.exit("the mirrors do not hold for this network's store (point source or an asymmetric grid)")
    views["mean of the 4"] = np.mean(list(views.values()), axis=0)
    rows = {}
    for name, depth in views.items():
        rows[name] = {**boundary_scores(depth, truth, a.tolerance), **bootstrap_within(depth, truth, a.tolerance)}
        r = rows[name]
        print(f"{name:>14s}: within {a.tolerance:g} m {100 * r['within_tolerance']:.1f} % "
              f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]  per boundary "
              + " / ".join(f"{100 * v['within_tolerance']:.1f}" for v in r["per_boundary"].values())
              + f"  RMSE {r['rmse_m']:.2f} m")
    if a.out:
        Path(a.out).write_text(json.dumps({"store": a.store, "model": a.model, "split": a.split,
                                           "models": int(models.size), "views": rows}, indent=1))


if __name__ == "__main__":
    main()
