"""The result file (HDF5), the same layout whichever engine wrote it (DESIGN.md)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from fem.atomic import atomic_path

ENGINES = ("fem", "surrogate")


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """The installed package's version (looked up once: importlib.metadata scans sys.path)."""
    try:
        from importlib.metadata import version
        return version("seismic-surrogate")
    except Exception:  # running from a source tree that was never installed
        return "0+unknown"


@dataclass(frozen=True)
class Result:
    xyz: np.ndarray        #: (R, 3) float64 station coordinates, m
    t: np.ndarray          #: (T,) float64 sample times, s
    velocity: np.ndarray   #: (R, 3, T) float32 particle velocity x, y, z, m/s
    scenario: str          #: the scenario YAML text
    engine: str            #: 'fem' or 'surrogate'
    ranks: int             #: MPI ranks (FEM) or processes used
    dofs: int              #: degrees of freedom of the model (0 for the surrogate)
    wall_seconds: float    #: wall time of the run, s


def write_result(path: str | Path, result: Result, attrs: dict | None = None) -> None:
    """Write atomically: a temporary file in the same folder, renamed over `path` when complete.

    attrs: further attributes on `/` (e.g. the FEM's `batch`, the cases solved together)."""
    if result.engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {result.engine!r}")
    r, t = result.xyz.shape[0], result.t.shape[0]
    if result.xyz.shape != (r, 3) or result.velocity.shape != (r, 3, t):
        raise ValueError(f"inconsistent shapes: xyz {result.xyz.shape}, t {result.t.shape}, "
                         f"velocity {result.velocity.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("receivers/xyz", data=result.xyz.astype(np.float64))
        f.create_dataset("receivers/t", data=result.t.astype(np.float64))
        f.create_dataset("receivers/velocity", data=result.velocity.astype(np.float32))
        f.attrs["scenario"] = result.scenario
        f.attrs["engine"] = result.engine
        f.attrs["version"] = package_version()
        f.attrs["ranks"] = int(result.ranks)
        f.attrs["dofs"] = int(result.dofs)
        f.attrs["wall_seconds"] = float(result.wall_seconds)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value


def read_result(path: str | Path) -> Result:
    """Read a result file; ValueError names what is missing."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such result file")
    with h5py.File(path, "r") as f:
        for key in ("receivers/xyz", "receivers/t", "receivers/velocity"):
            if key not in f:
                raise ValueError(f"{path}: not a result file (missing '{key}')")
        a = f.attrs
        return Result(f["receivers/xyz"][...], f["receivers/t"][...], f["receivers/velocity"][...],
                      str(a.get("scenario", "")), str(a.get("engine", "")), int(a.get("ranks", 0)),
                      int(a.get("dofs", 0)), float(a.get("wall_seconds", 0.0)))
