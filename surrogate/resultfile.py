"""Result files through fem.result (the one reader and writer), and the estimate file of `invert`.

A surrogate result may add `receivers/velocity_std` (R, 3, T) float32, m/s: the
calibrated standard deviation of each velocity sample (`write_surrogate_result`);
fem.result's reader ignores it, so every reader of result files still reads them.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from fem.atomic import atomic_path
from fem.result import Result, write_result
from fem.result import read_result as fem_read_result
from surrogate.errors import SurrogateInputError


def read_result(path: str | Path) -> Result:
    """fem.result.read_result, with a missing file or a wrong layout as a SurrogateInputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"result file not found: {path}")
    try:
        res = fem_read_result(path)
    except ValueError as err:
        raise SurrogateInputError(str(err)) from None
    except OSError as err:
        raise SurrogateInputError(f"{path}: not a readable HDF5 file ({err})") from None
    r, t = res.xyz.shape[0], res.t.shape[0]
    if res.xyz.shape != (r, 3) or res.velocity.shape != (r, 3, t):
        raise SurrogateInputError(f"{path}: inconsistent shapes xyz {res.xyz.shape}, t {res.t.shape}, "
                                  f"velocity {res.velocity.shape} (want (R,3), (T,), (R,3,T))")
    if not np.all(np.isfinite(res.velocity)):
        raise SurrogateInputError(f"{path}: receivers/velocity holds non-finite values")
    return res


VELOCITY_STD = "receivers/velocity_std"


def write_surrogate_result(path: str | Path, result: Result, attrs: dict | None = None,
                           velocity_std: np.ndarray | None = None) -> None:
    """fem.result.write_result, plus VELOCITY_STD (same shape as the velocity) where given; atomic."""
    if velocity_std is None:
        write_result(path, result, attrs)
        return
    if velocity_std.shape != result.velocity.shape:
        raise ValueError(f"velocity_std {velocity_std.shape} differs from velocity {result.velocity.shape}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write_result(tmp, result, attrs)
        with h5py.File(tmp, "a") as f:
            f.create_dataset(VELOCITY_STD, data=np.asarray(velocity_std, dtype=np.float32))


def read_velocity_std(path: str | Path) -> np.ndarray | None:
    """VELOCITY_STD of a result file, or None where it has none (FEM results, networks without it)."""
    with h5py.File(path, "r") as f:
        return f[VELOCITY_STD][...] if VELOCITY_STD in f else None


def write_estimate(path: str | Path, xyz: np.ndarray, boundary_elevation: np.ndarray, attrs: dict,
                   extra: dict[str, np.ndarray] | None = None) -> None:
    """Write an estimate file: receivers/xyz (R, 3) and boundaries/elevation (B, R) float64, m.

    `extra` adds more datasets by path (e.g. a second estimate, control-grid elevations).
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["receivers/xyz"] = xyz.astype(np.float64)
        f["boundaries/elevation"] = boundary_elevation.astype(np.float64)
        for key, value in (extra or {}).items():
            f[key] = np.asarray(value, dtype=np.float64)
        f.attrs.update(attrs)
