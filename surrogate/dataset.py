"""One chunked HDF5 training store from many (scenario, result file) runs.

Layout (M models, R stations, 3 components, F frequencies, T samples):

| path | shape, dtype | meaning |
|---|---|---|
| `spectra` | (M, R, 3, F) f32 | log10 amplitude spectra of x, y, z velocity (surrogate.spectra) |
| `velocity` | (M, R, 3, T) f32 | station velocity, m/s (forward targets) |
| `ground_elevation` | (M, R) f64 | ground elevation at each station, m |
| `boundary_elevation` | (M, B, R) f64 | b12, b23 elevation beneath each station, m (inverse targets) |
| `layers` | (M, L, 4) f64 | vp, vs (m/s), rho (kg/m^3), damping per layer |
| `station_xy` | (R, 2) f64 | station (x, y), m; identical for every model |
| `frequency`, `time` | (F,), (T,) f64 | Hz, s |
| `split` | (M,) i1 | 0 train, 1 validation, 2 test: whole ground models, never stations |
| `provenance/result_file`, `provenance/scenario` | (M,) str | where each model came from |

Attributes on `/`: grid_nx, grid_ny, output_dt, source (YAML), band, seed.
Every model must share the acquisition (stations, times) and the source; a
run that does not is refused with its file named.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from fem.atomic import atomic_path
from fem.scenario import load_yaml

from surrogate.errors import SurrogateInputError
from surrogate.resultfile import read_result
from surrogate.scenario import (Scenario, layer_table, parse_scenario, receiver_grid, same_source, source_text,
                                station_xy, surface_elevations)
from surrogate.spectra import Band, log_amplitude_spectra

TRAIN, VALIDATION, TEST = 0, 1, 2
DEFAULT_BAND = Band(0.25, 8.0, 64)


@dataclass(frozen=True)
class Store:
    spectra: np.ndarray             #: (M, R, 3, F) float32 log10 amplitude, log10(m)
    velocity: np.ndarray            #: (M, R, 3, T) float32 m/s
    ground_elevation: np.ndarray    #: (M, R) float64 m
    boundary_elevation: np.ndarray  #: (M, B, R) float64 m
    layers: np.ndarray              #: (M, L, 4) float64 vp, vs m/s; rho kg/m^3; damping 1
    station_xy: np.ndarray          #: (R, 2) float64 m
    frequency: np.ndarray           #: (F,) float64 Hz
    time: np.ndarray                #: (T,) float64 s
    split: np.ndarray               #: (M,) int8 TRAIN / VALIDATION / TEST
    grid: tuple[int, int]           #: (nx, ny): the first nx*ny stations form the receiver grid
    source: str                     #: YAML of the shared source section

    def models(self, part: int) -> np.ndarray:
        """Indices of the ground models in one split."""
        return np.flatnonzero(self.split == part)


def split_models(n_models: int, fractions: tuple[float, float, float], seed: int) -> np.ndarray:
    """(M,) int8 split label per model: a seeded shuffle cut by fractions (train, val, test).

    With three or more models, validation and test each get at least one.
    """
    if n_models < 3:
        raise SurrogateInputError(f"dataset: need at least 3 ground models to split, got {n_models}")
    order = np.random.default_rng(seed).permutation(n_models)
    n_val = max(1, int(round(fractions[1] * n_models)))
    n_test = max(1, int(round(fractions[2] * n_models)))
    labels = np.full(n_models, TRAIN, dtype=np.int8)
    labels[order[:n_val]] = VALIDATION
    labels[order[n_val:n_val + n_test]] = TEST
    return labels


def boundary_targets(scenario: Scenario, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground (R,) and boundary (B, R) elevations, m, beneath the stations: the FEM's interpolation."""
    z = surface_elevations(scenario, xy)
    return z[0], z[1:]


def build_store(runs: list[tuple[str | Path | None, str | Path]], out_path: str | Path,
                band: Band = DEFAULT_BAND, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                seed: int = 0) -> Path:
    """Write the training store for runs [(scenario file or None, result file)]; return its path.

    With no scenario file, the scenario text recorded in the result file is
    used; with one, it must describe the same ground model as the result's.
    """
    if not runs:
        raise SurrogateInputError("dataset: no runs given")
    first = _load_run(*runs[0])
    xy, t = station_xy(first[0]), first[1].t
    source_yaml = source_text(first[0])
    m, r, n_t = len(runs), xy.shape[0], t.shape[0]
    n_b, n_l = len(first[0].model.surfaces) - 1, first[0].model.n_layers
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as f:
        spectra = f.create_dataset("spectra", (m, r, 3, band.n), "f4", chunks=(1, r, 3, band.n))
        velocity = f.create_dataset("velocity", (m, r, 3, n_t), "f4", chunks=(1, r, 3, n_t))
        ground = f.create_dataset("ground_elevation", (m, r), "f8")
        bound = f.create_dataset("boundary_elevation", (m, n_b, r), "f8")
        layers = f.create_dataset("layers", (m, n_l, 4), "f8")
        str_t = h5py.string_dtype()
        prov_file = f.create_dataset("provenance/result_file", (m,), str_t)
        prov_text = f.create_dataset("provenance/scenario", (m,), str_t)
        for i, run in enumerate(runs):   # one ground model at a time keeps memory flat
            scenario, rec, name = first if i == 0 else _load_run(*run)
            _check_same_acquisition(name, scenario, rec, xy, t, source_yaml, n_b, n_l)
            spectra[i] = log_amplitude_spectra(rec.velocity, float(t[1] - t[0]), band)
            velocity[i] = rec.velocity
            ground[i], bound[i] = boundary_targets(scenario, xy)
            layers[i] = layer_table(scenario)
            prov_file[i], prov_text[i] = str(Path(name).resolve()), scenario.text
        f["station_xy"], f["frequency"], f["time"] = xy, band.frequencies(), t
        f["split"] = split_models(m, fractions, seed)
        nx, ny = receiver_grid(first[0])
        f.attrs.update(grid_nx=nx, grid_ny=ny, output_dt=float(t[1] - t[0]),
                       source=source_yaml, band=[band.f_min, band.f_max, band.n], seed=seed)
    return Path(out_path)


def _load_run(scenario_path, result_path):
    rec = read_result(result_path)
    if scenario_path is None:
        if not rec.scenario:
            raise SurrogateInputError(f"{result_path}: records no scenario text; pass the scenario file")
        scenario = parse_scenario(rec.scenario)
    else:
        scenario = parse_scenario(Path(scenario_path).read_text()) if Path(scenario_path).is_file() else None
        if scenario is None:
            raise SurrogateInputError(f"scenario file not found: {scenario_path}")
        if rec.scenario and load_yaml(rec.scenario).get("model") != load_yaml(scenario.text).get("model"):
            raise SurrogateInputError(f"{result_path}: was run on a different ground model than {scenario_path}")
    return scenario, rec, str(result_path)


def _check_same_acquisition(name, scenario, rec, xy, t, source_yaml, n_b, n_l) -> None:
    if rec.t.shape != t.shape or not np.allclose(rec.t, t):
        raise SurrogateInputError(f"{name}: sample times differ from the first run's")
    if rec.xyz.shape[0] != xy.shape[0] or not np.allclose(rec.xyz[:, :2], xy, atol=1e-6):
        raise SurrogateInputError(f"{name}: stations differ from the first run's")
    if not same_source(scenario, source_yaml):
        raise SurrogateInputError(f"{name}: source differs from the first run's (one source per data set)")
    if len(scenario.model.surfaces) - 1 != n_b or scenario.model.n_layers != n_l:
        raise SurrogateInputError(f"{name}: number of layers differs from the first run's")


def load_store(path: str | Path) -> Store:
    """Read a whole training store into memory (the default configurations are megabytes)."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"training store not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            return Store(f["spectra"][...], f["velocity"][...], f["ground_elevation"][...],
                         f["boundary_elevation"][...], f["layers"][...], f["station_xy"][...],
                         f["frequency"][...], f["time"][...], f["split"][...].astype(np.int8),
                         (int(f.attrs["grid_nx"]), int(f.attrs["grid_ny"])), str(f.attrs["source"]))
    except KeyError as err:
        raise SurrogateInputError(f"{path}: not a training store (missing {err})") from None
    except OSError as err:
        raise SurrogateInputError(f"{path}: not a readable HDF5 file ({err})") from None
