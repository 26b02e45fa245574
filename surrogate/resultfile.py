"""Result files (DESIGN.md "Result file") and estimate files: read, check, write atomically."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from surrogate.errors import SurrogateInputError

RESULT_KEYS = ("receivers/xyz", "receivers/t", "receivers/velocity")


@dataclass(frozen=True)
class Recording:
    xyz: np.ndarray        #: (R, 3) float64 station coordinates, m
    t: np.ndarray          #: (T,) float64 sample times, s
    velocity: np.ndarray   #: (R, 3, T) float32 particle velocity x, y, z, m/s
    scenario: str          #: the scenario YAML text the engine ran
    engine: str            #: "fem" or "surrogate"


def read_result(path: str | Path) -> Recording:
    """Read a result file; a missing file or a wrong layout is a SurrogateInputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"result file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in RESULT_KEYS if k not in f]
            if missing:
                raise SurrogateInputError(f"{path}: not a result file, missing {', '.join(missing)}")
            rec = Recording(f["receivers/xyz"][...].astype(np.float64), f["receivers/t"][...].astype(np.float64),
                            f["receivers/velocity"][...].astype(np.float32),
                            _text(f.attrs.get("scenario", "")), _text(f.attrs.get("engine", "")))
    except OSError as err:
        raise SurrogateInputError(f"{path}: not a readable HDF5 file ({err})") from None
    r, t = rec.xyz.shape[0], rec.t.shape[0]
    if rec.xyz.shape != (r, 3) or rec.velocity.shape != (r, 3, t):
        raise SurrogateInputError(f"{path}: inconsistent shapes xyz {rec.xyz.shape}, t {rec.t.shape}, "
                                  f"velocity {rec.velocity.shape} (want (R,3), (T,), (R,3,T))")
    if not np.all(np.isfinite(rec.velocity)):
        raise SurrogateInputError(f"{path}: receivers/velocity holds non-finite values")
    return rec


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def atomic_h5(path: str | Path):
    """Open a temporary HDF5 file beside `path`; `commit(tmp)` renames it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return tmp


def write_result(path: str | Path, rec: Recording, ranks: int, dofs: int, wall_seconds: float,
                 version: str) -> None:
    """Write a result file with the FEM's layout, via a temporary file and a rename."""
    tmp = atomic_h5(path)
    try:
        with h5py.File(tmp, "w") as f:
            f["receivers/xyz"] = rec.xyz.astype(np.float64)
            f["receivers/t"] = rec.t.astype(np.float64)
            f["receivers/velocity"] = rec.velocity.astype(np.float32)
            f.attrs.update(scenario=rec.scenario, engine=rec.engine, version=version, ranks=int(ranks),
                           dofs=int(dofs), wall_seconds=float(wall_seconds))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_estimate(path: str | Path, xyz: np.ndarray, boundary_elevation: np.ndarray, attrs: dict) -> None:
    """Write an estimate file: receivers/xyz (R, 3) and boundaries/elevation (B, R) float64, m."""
    tmp = atomic_h5(path)
    try:
        with h5py.File(tmp, "w") as f:
            f["receivers/xyz"] = xyz.astype(np.float64)
            f["boundaries/elevation"] = boundary_elevation.astype(np.float64)
            f.attrs.update(attrs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
