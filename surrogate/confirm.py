"""The FEM confirms an estimate: the observed scenario with the estimated boundaries, and the misfit
between the observed records and the FEM's records of that scenario.

The estimate (boundaries/elevation (B, R), m, beneath the R stations) becomes control grids by
least squares through the FEM's own surface spline (surrogate.optimise.interpolation_matrix):
* on the observed scenario's control grid of each boundary (the default 5 x 5 where it is flat)
  when the stations pin it (R >= control points): the truth's own spline space, so an exact
  estimate gives back the true surfaces;
* else on a grid of the station grid's shape (ny x nx nodes spanning the box): the finest grid the
  stations pin. The station grid itself does not span the box (stations sit at cell centres,
  fem.stations), so its values are not used as control values directly.
A fitted grid that is constant (within 0.1 mm, the YAML's rounding) is written as one number, as
the generator writes a flat surface. The ground surface, layers, box, mesh, time, source,
receivers and output are the observed scenario's. Estimated boundaries that cross or leave a layer
too thin are refused with fem.model's one line (surrogate.generate.scenario_with_boundaries).

The misfit (`confirmation_misfit`): per component the relative L2 over stations and time
(surrogate.gof.relative_l2), the Anderson goodness of fit per station (surrogate.gof.anderson_gof),
and the estimate's boundary error against the observed scenario's surfaces at the stations (the
truth where the observation is synthetic).
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from surrogate.errors import SurrogateInputError
from surrogate.generate import scenario_with_boundaries, write_text_atomic
from surrogate.gof import anderson_gof, relative_l2
from surrogate.optimise import fit_control_grid, interpolation_matrix
from surrogate.resultfile import read_result
from surrogate.scenario import Scenario, parse_scenario, surface_elevations

#: control grid of a boundary that is flat in the observed scenario (invert's default)
DEFAULT_CONTROL_GRID = (5, 5)
#: a fitted grid whose values spread less than this (m, the YAML's rounding) is written as one number
FLAT_TOLERANCE_M = 1e-4
COMPONENTS = ("x", "y", "z")


def read_estimate(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """receivers/xyz (R, 3) and boundaries/elevation (B, R), m, of an estimate file (surrogate.invert)."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"estimate file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            xyz, elevation = f["receivers/xyz"][...], f["boundaries/elevation"][...]
    except (OSError, KeyError) as err:
        raise SurrogateInputError(f"{path}: not an estimate file (receivers/xyz, boundaries/elevation): "
                                  f"{err}") from None
    if elevation.ndim != 2 or elevation.shape[1] != xyz.shape[0]:
        raise SurrogateInputError(f"{path}: boundaries/elevation {elevation.shape} does not match "
                                  f"{xyz.shape[0]} stations (want (B, R))")
    if not np.all(np.isfinite(elevation)):
        raise SurrogateInputError(f"{path}: boundaries/elevation holds non-finite values")
    return xyz, elevation


def control_grid_shape(scenario: Scenario, boundary: int, n_stations: int) -> tuple[int, int]:
    """(rows, cols) of the control grid boundary `boundary` (1: the first below the ground) is fitted on."""
    control = scenario.model.surfaces[boundary].control
    shape = control.shape if control.size > 1 else DEFAULT_CONTROL_GRID
    if n_stations >= shape[0] * shape[1]:
        return shape
    return (max(scenario.receivers.ny, 1), max(scenario.receivers.nx, 1))


def boundary_control_grids(scenario: Scenario, xy: np.ndarray, elevation: np.ndarray) -> list[np.ndarray]:
    """Per boundary the control grid (rows, cols), m, whose spline best fits its station elevations (R,)."""
    grids = []
    for b, station_elevation in enumerate(elevation, start=1):
        shape = control_grid_shape(scenario, b, xy.shape[0])
        weights = interpolation_matrix(scenario.model.x, scenario.model.y, shape, xy)
        grid = fit_control_grid(weights, station_elevation[None])[0].reshape(shape)
        grids.append(np.full((1, 1), grid.mean()) if np.ptp(grid) < FLAT_TOLERANCE_M else grid)
    return grids


def confirmation_scenario(scenario_text: str, xy: np.ndarray, elevation: np.ndarray) -> str:
    """YAML of the scenario with its boundaries (below the ground) fitted to the estimate (B, R) at xy (R, 2).

    Refuses (SurrogateInputError, one line) estimates whose boundaries cross or leave a layer too thin."""
    scenario = parse_scenario(scenario_text)
    names = tuple(s.name for s in scenario.model.surfaces[1:])
    if len(names) != elevation.shape[0]:
        raise SurrogateInputError(f"the estimate has {elevation.shape[0]} boundaries, the scenario {len(names)}")
    grids = boundary_control_grids(scenario, xy, elevation)
    try:
        return scenario_with_boundaries(scenario_text, grids, names)   # validated with every boundary replaced
    except SurrogateInputError as err:
        raise SurrogateInputError(f"estimated boundaries refused: {err}") from None


def write_confirmation_scenario(observed_path: str | Path, estimate_path: str | Path, out_path: str | Path) -> Path:
    """Write the scenario that confirms an estimate with one FEM run (module docstring); return its path."""
    observed = read_result(observed_path)
    if not observed.scenario:
        raise SurrogateInputError(f"{observed_path}: records no scenario (needed for the box, ground and layers)")
    xyz, elevation = read_estimate(estimate_path)
    if xyz.shape != observed.xyz.shape or not np.allclose(xyz, observed.xyz, atol=1e-6):
        raise SurrogateInputError(f"{estimate_path}: its stations differ from those of {observed_path}")
    try:
        text = confirmation_scenario(observed.scenario, xyz[:, :2], elevation)
    except SurrogateInputError as err:
        raise SurrogateInputError(f"{estimate_path}: {err}") from None
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(out_path, text)


def confirmation_misfit(observed_path: str | Path, confirmed_path: str | Path, estimate_path: str | Path,
                        tolerance_m: float = 2.0) -> dict:
    """The observed records against the FEM's records of the confirmation scenario, and the estimate's
    boundary error against the observed scenario's surfaces at the stations (JSON-able)."""
    observed, confirmed = read_result(observed_path), read_result(confirmed_path)
    if observed.velocity.shape != confirmed.velocity.shape or not np.allclose(observed.t, confirmed.t):
        raise SurrogateInputError(f"{confirmed_path}: records {confirmed.velocity.shape} do not match the observed "
                                  f"{observed.velocity.shape} (stations, components, samples)")
    ref, fem = observed.velocity.astype(np.float64), confirmed.velocity.astype(np.float64)
    per_component = {c: float(relative_l2(fem[None, :, k], ref[None, :, k])[0]) for k, c in enumerate(COMPONENTS)}
    together = float(relative_l2(fem.reshape(1, -1, fem.shape[-1]), ref.reshape(1, -1, ref.shape[-1]))[0])
    gof = anderson_gof(fem, ref, float(observed.t[1] - observed.t[0]))                # (R,) 0-10
    summary = {"observed": str(observed_path), "confirmed": str(confirmed_path), "estimate": str(estimate_path),
               "observed_engine": observed.engine, "confirmed_engine": confirmed.engine,
               "relative_l2": {**per_component, "all": together},
               "gof": {"mean": float(gof.mean()), "min": float(gof.min())}}
    return summary | boundary_error(observed, estimate_path, tolerance_m)


def refusal(observed_path: str | Path, estimate_path: str | Path, reason: str, tolerance_m: float = 2.0) -> dict:
    """The record of an estimate that is no valid model (no FEM run): why, and its boundary error (JSON-able)."""
    observed = read_result(observed_path)
    summary = {"observed": str(observed_path), "estimate": str(estimate_path), "observed_engine": observed.engine,
               "refused": reason}
    return summary | boundary_error(observed, estimate_path, tolerance_m)


def boundary_error(observed, estimate_path: str | Path, tolerance_m: float) -> dict:
    """{'boundary_error': ...} of the estimate against the observed scenario's surfaces at the stations ({} if unknown)."""
    xyz, estimate = read_estimate(estimate_path)
    if not observed.scenario:
        return {}
    truth = surface_elevations(parse_scenario(observed.scenario), xyz[:, :2])[1:]   # (B, R) m
    error = np.abs(estimate - truth)
    return {"boundary_error": {"rmse_m": float(np.sqrt((error ** 2).mean())), "max_m": float(error.max()),
                               "within_tolerance": float((error < tolerance_m).mean()), "tolerance_m": tolerance_m}}


def write_json_atomic(path: str | Path, value: dict) -> Path:
    """JSON of `value` written under a temporary name beside `path`, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, json.dumps(value, indent=2) + "\n")
