"""Learning curve of the spatial inverse: its test score against the number of training models.

    python benchmarks/learning_curve.py --store results/dataset/store.h5 --fractions 0.25 0.5 \
        --out results/learning_curve [--full results/surrogate] [--epochs 300 --batch-size 16 --lr 0.001 \
        --patience 40 --seed 0]

For each fraction f, a copy of the store keeps a seeded random f of its training models in the training
split (the others leave every split; validation and test stay as they are), inverse_spatial is trained on
it with the given settings (one process, the task's defaults otherwise), and its estimate (the mean of the
four mirror views, as `evaluate` scores it) is scored on the test split: the share of boundary elevations
within 2 m with a 95 % bootstrap interval over test models. `--full DIR` adds the network(s) already
trained on every training model: its first network alone, and the mean of its seed members. The slope of the score
against log(models) says what more data would give. Prints one JSON object per row, then a summary.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from surrogate.baselines import bootstrap_within  # noqa: E402
from surrogate.dataset import TEST, TRAIN, load_store  # noqa: E402
from surrogate.ensemble import InverseEstimator, candidates  # noqa: E402
from surrogate.train import TrainConfig, train  # noqa: E402

UNUSED = 3   #: a split label no stage reads: the model is in no split


def subset_store(store: Path, out: Path, fraction: float, seed: int) -> int:
    """Copy store to out with a seeded random `fraction` of its training models kept; their number."""
    shutil.copyfile(store, out)
    with h5py.File(out, "r+") as f:
        split = f["split"][...]
        train_models = np.flatnonzero(split == TRAIN)
        keep = np.random.default_rng(seed).permutation(train_models)[:max(1, round(fraction * len(train_models)))]
        split[np.setdiff1d(train_models, keep)] = UNUSED
        f["split"][...] = split
    return len(keep)


def test_score(store_path: Path, model_dir: Path, n_members: int | None = None) -> dict:
    """Test score of model_dir's inverse_spatial (its first n_members seed members; None: all)."""
    store = load_store(store_path)
    test = store.models(TEST)
    found = candidates(model_dir)["inverse_spatial"]
    estimator = InverseEstimator(found.name, found.members[:n_members])
    estimate = estimator(store.spectra[test], store.velocity[test], store.ground_elevation[test], store.station_xy)
    b = bootstrap_within(estimate, store.boundary_elevation[test], 2.0)
    return {"within_2m": b["within_tolerance"], "ci": [b["ci_low"], b["ci_high"]],
            "b12": b["per_boundary"]["b12"]["within_tolerance"], "b23": b["per_boundary"]["b23"]["within_tolerance"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--fractions", type=float, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--full", type=Path, help="folder of the networks trained on every training model")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if any(not 0 < f < 1 for f in a.fractions):
        sys.exit("error: --fractions must lie in (0, 1)")
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for fraction in sorted(a.fractions):
        folder = a.out / f"f{fraction:g}"
        folder.mkdir(exist_ok=True)
        n = subset_store(a.store, folder / "store.h5", fraction, a.seed)
        start = time.perf_counter()
        train(TrainConfig(task="inverse_spatial", epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                          patience=a.patience, seed=a.seed, log_every=10 ** 9), folder / "store.h5", folder)
        rows.append({"training_models": n, "members": 1, "train_s": round(time.perf_counter() - start, 1),
                     **test_score(folder / "store.h5", folder)})
        print(json.dumps(rows[-1]), flush=True)
    if a.full:
        n = int(np.count_nonzero(load_store(a.store).split == TRAIN))
        members = len(candidates(a.full)["inverse_spatial"].members)
        for k in sorted({1, members}):
            rows.append({"training_models": n, "members": k, **test_score(a.store, a.full, k)})
            print(json.dumps(rows[-1]), flush=True)
    single = [r for r in rows if r["members"] == 1]
    if len(single) >= 2:
        x, y = np.log2([r["training_models"] for r in single]), [r["within_2m"] for r in single]
        slope = float(np.polyfit(x, y, 1)[0])
        print(json.dumps({"points_per_doubling_of_models": round(100 * slope, 2)}))


if __name__ == "__main__":
    main()
