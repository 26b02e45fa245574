"""The surrogate reads scenarios exactly as the FEM does: thin adapters over fem.scenario and fem.stations.

Parsing, validation, surface interpolation and station placement are the
FEM's (fem.scenario.parse_scenario, fem.model.GroundModel.elevations,
fem.stations.station_xyz); this module only turns their errors into the
surrogate's one-line SurrogateInputError and names the few views the learning
code needs (layer table, source text, output times).
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from fem.model import ModelError
from fem.scenario import Scenario, ScenarioError, load_yaml, parse_source
from fem.scenario import parse_scenario as fem_parse_scenario
from fem.stations import station_xyz as fem_station_xyz
from surrogate.errors import SurrogateInputError

__all__ = ["Scenario", "parse_scenario", "load_scenario", "station_xyz", "station_xy", "surface_elevations",
           "layer_table", "source_text", "same_source", "output_times", "receiver_grid"]


def parse_scenario(text: str) -> Scenario:
    """fem.scenario.parse_scenario; an invalid scenario is a SurrogateInputError naming the key."""
    try:
        return fem_parse_scenario(text)
    except (ScenarioError, ModelError) as err:
        raise SurrogateInputError(f"scenario: {err}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and parse a scenario file; a missing file is a SurrogateInputError."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"scenario file not found: {path}")
    return parse_scenario(path.read_text())


def station_xyz(scenario: Scenario) -> np.ndarray:
    """(R, 3) float64 station coordinates, m, in the FEM's order (grid x fastest, then points).

    The surrogate learns surface stations only: interior (buried) stations are refused.
    """
    if scenario.receivers.interior.size:
        raise SurrogateInputError("scenario: the surrogate handles surface stations only (receivers.interior is set)")
    return fem_station_xyz(scenario.model, scenario.receivers)


def station_xy(scenario: Scenario) -> np.ndarray:
    """(R, 2) float64 station (x, y), m."""
    return station_xyz(scenario)[:, :2]


def surface_elevations(scenario: Scenario, xy: np.ndarray) -> np.ndarray:
    """(S, N) float64 elevation, m, of every surface (top to bottom) at xy (N, 2): the FEM's spline."""
    return scenario.model.elevations(xy[:, 0], xy[:, 1])


def layer_table(scenario: Scenario) -> np.ndarray:
    """(L, 4) float64 per layer: vp, vs (m/s), rho (kg/m^3), damping ratio (1)."""
    return np.array([[l.vp, l.vs, l.rho, l.damping] for l in scenario.model.layers])


#: libyaml's emitter where PyYAML has it; the same text as the pure-Python safe dumper
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def source_text(scenario: Scenario) -> str:
    """The `source` section as canonical YAML: one data set, one source; compared as text."""
    return yaml.dump(load_yaml(scenario.text)["source"], Dumper=_DUMPER, sort_keys=True)


def _source_values(source) -> tuple:
    """A source object as nested tuples of plain values (arrays as lists): comparable with ==."""
    return tuple((f.name, _source_values(v) if dataclasses.is_dataclass(v) else
                  np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                 for f in dataclasses.fields(source) for v in [getattr(source, f.name)])


@lru_cache(maxsize=8)
def _source_values_of_text(text: str) -> tuple:
    return _source_values(parse_source(load_yaml(text)))


def same_source(scenario: Scenario, text: str) -> bool:
    """Whether the scenario's source has the values of the source section `text` (source_text's YAML).

    Compares parsed values, so it needs no second YAML read of the scenario (the
    surrogate's predict pays one per scenario) and ignores formatting."""
    return _source_values(scenario.source) == _source_values_of_text(text)


def receiver_grid(scenario: Scenario) -> tuple[int, int]:
    """(nx, ny) of the receiver grid; the first nx*ny stations form it."""
    return scenario.receivers.nx, scenario.receivers.ny


def output_times(scenario: Scenario) -> np.ndarray:
    """(T,) float64 sample times of a result file, s: the FEM's own output grid."""
    return scenario.output_times
