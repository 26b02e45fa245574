"""The trained-network file `model.npz`: everything inference needs, read with numpy alone.

`train` writes one per task (`OUT/<task>/model.npz`, the best network by
validation loss). It holds named arrays: the network's state dict under
`weight/<name>` (float32), the normalisation of the training split and the
store's acquisition (frequencies, times, stations); and one JSON string,
`meta`: the network spec, the training config, the receiver grid, the source,
the training state the network was saved at (step, epoch, best_val) and the
training split's ranges (`training_ranges`, surrogate.guard; absent in files
written before it was recorded).

Optional arrays (`OPTIONAL`; a file without them loads as before, and
`ModelFile.optional` is then empty): the forward networks' calibrated trace
standard deviation, fitted by `train` on the validation split with the saved
network (surrogate.train `fit_trace_std`):

| name | shape | meaning |
|---|---|---|
| `trace_std/sigma` | (3, T) f64 | k_c * rms(c, t), m/s: the std `predict` writes beside each station's velocity |
| `trace_std/rms` | (3, T) f64 | rms(c, t): RMS over the validation stations and models of pred - truth at (c, t), m/s |

with the calibration numbers in meta["trace_std"] (method, coverage target,
k_c per component x, y, z, the validation share within +-2 sigma per
component, the number of validation traces).

Why not `torch.save`: a torch pickle runs code when it is loaded and needs
torch imported (~2-3 s per process). This file is opened with
`allow_pickle=False`, so a network someone sent you cannot run code of theirs,
and `python -m surrogate predict` starts in a fraction of a second. The
training checkpoint (optimizer, RNG states) stays a torch file: only training
reads it.
"""
from __future__ import annotations

import json
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem.atomic import atomic_path
from surrogate.errors import SurrogateInputError

NAME = "model.npz"
WEIGHT = "weight/"        #: prefix of the state-dict arrays
ARRAYS = ("frequency", "time", "station_xy", "input_norm/mean", "input_norm/std", "target_norm/mean",
          "target_norm/std")
#: optional arrays (module docstring): written where present, read where the file has them
OPTIONAL = ("trace_std/sigma", "trace_std/rms")


@dataclass(frozen=True)
class ModelFile:
    meta: dict                       #: spec, config, grid, source, n_boundaries, best_val, step, epoch,
                                     #: training_ranges
    arrays: dict[str, np.ndarray]    #: ARRAYS by name
    weights: dict[str, np.ndarray]   #: the network's state dict, float32, in its order
    optional: dict[str, np.ndarray] = field(default_factory=dict)   #: OPTIONAL arrays present, by name


def write_model(path: str | Path, model: ModelFile) -> None:
    """Write atomically (a temporary file beside `path`, renamed when complete)."""
    path = Path(path)
    missing = sorted(set(ARRAYS) - set(model.arrays))
    if missing:
        raise ValueError(f"model file needs the arrays {', '.join(missing)}")
    unknown = sorted(set(model.optional) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"unknown optional model arrays {', '.join(unknown)} (known: {', '.join(OPTIONAL)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {"meta": np.array(json.dumps(model.meta)), **{k: np.asarray(model.arrays[k]) for k in ARRAYS},
               **{k: np.asarray(v) for k, v in model.optional.items()},
               **{WEIGHT + k: np.asarray(v, dtype=np.float32) for k, v in model.weights.items()}}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **entries)


@contextmanager
def _opened(path: Path):
    """np.load without pickles; a missing, foreign or truncated file is one line naming it."""
    try:
        with np.load(path, allow_pickle=False) as f:
            yield f
    except FileNotFoundError:
        raise SurrogateInputError(f"trained network not found: {path}") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:   # a torch pickle, a cut-off file
        raise SurrogateInputError(f"{path}: not a trained-network file written by `train` ({err})") from None


def read_model(path: str | Path) -> ModelFile:
    """Read a model file written by write_model."""
    with _opened(Path(path)) as f:
        return ModelFile(json.loads(str(f["meta"][()])), {k: f[k] for k in ARRAYS},
                         {k[len(WEIGHT):]: f[k] for k in f.files if k.startswith(WEIGHT)},
                         {k: f[k] for k in OPTIONAL if k in f.files})


def read_meta(path: str | Path) -> dict:
    """Only the JSON part (task, training state), without the weights."""
    with _opened(Path(path)) as f:
        return json.loads(str(f["meta"][()]))
