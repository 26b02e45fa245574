"""Scenario files (DESIGN.md "Scenario file") as plain, validated dataclasses.

Only what the surrogate needs is typed here: the ground model, the receiver
layout and the time axis. The full YAML text is kept so that provenance and
generated scenarios carry every other key unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from surrogate.errors import SurrogateInputError


@dataclass(frozen=True)
class Domain:
    x: tuple[float, float]   #: (x0, x1), metres
    y: tuple[float, float]   #: (y0, y1), metres
    z_bottom: float          #: elevation of the model bottom, metres (z up)


@dataclass(frozen=True)
class Surface:
    name: str                #: e.g. "ground", "b12", "b23"
    elevation: np.ndarray    #: () or (rows, cols) float64, metres; row 0 at y0, column 0 at x0


@dataclass(frozen=True)
class Layer:
    vp: float        #: P-wave speed, m/s
    vs: float        #: S-wave speed, m/s
    rho: float       #: density, kg/m^3
    damping: float   #: damping ratio, 1

    def as_array(self) -> np.ndarray:
        """(4,) float64: vp, vs (m/s), rho (kg/m^3), damping (1)."""
        return np.array([self.vp, self.vs, self.rho, self.damping])


@dataclass(frozen=True)
class Scenario:
    domain: Domain
    surfaces: tuple[Surface, ...]   #: top to bottom: ground, then the layer boundaries
    layers: tuple[Layer, ...]       #: layers[i] lies below surfaces[i]
    grid: tuple[int, int]           #: receiver grid (nx, ny); (0, 0) when absent
    points: np.ndarray              #: (P, 2) float64 extra stations (x, y), metres
    duration: float                 #: simulated time, s
    output_dt: float                #: sample interval of the recorded velocity, s
    source: dict                    #: the `source` section as written
    text: str                       #: the YAML text this was parsed from

    @property
    def n_stations(self) -> int:
        return self.grid[0] * self.grid[1] + self.points.shape[0]


def _get(tree: dict, dotted: str):
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise SurrogateInputError(f"scenario: missing key '{dotted}'")
        node = node[key]
    return node


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SurrogateInputError(f"scenario: '{where}' must be a number, got {value!r}")
    return float(value)


def _elevation(value, where: str) -> np.ndarray:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(float(value))
    try:
        grid = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SurrogateInputError(f"scenario: '{where}' must be a number or a grid of rows") from None
    if grid.ndim != 2 or min(grid.shape) < 2 or not np.all(np.isfinite(grid)):
        raise SurrogateInputError(f"scenario: '{where}' must be a finite grid of at least 2x2, got shape {grid.shape}")
    return grid


def parse_scenario(text: str) -> Scenario:
    """Parse and check a scenario's YAML text; raise SurrogateInputError naming the bad key."""
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SurrogateInputError(f"scenario: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(tree, dict):
        raise SurrogateInputError("scenario: the top level must be a mapping")
    dom = _get(tree, "model.domain")
    x, y = _get(tree, "model.domain.x"), _get(tree, "model.domain.y")
    if not (isinstance(x, list) and isinstance(y, list) and len(x) == 2 and len(y) == 2):
        raise SurrogateInputError("scenario: 'model.domain.x' and '.y' must be [min, max]")
    domain = Domain((_number(x[0], "model.domain.x"), _number(x[1], "model.domain.x")),
                    (_number(y[0], "model.domain.y"), _number(y[1], "model.domain.y")),
                    _number(dom.get("z_bottom"), "model.domain.z_bottom"))
    if domain.x[1] <= domain.x[0] or domain.y[1] <= domain.y[0]:
        raise SurrogateInputError("scenario: 'model.domain' has an empty extent")
    raw_surfaces, raw_layers = _get(tree, "model.surfaces"), _get(tree, "model.layers")
    if not isinstance(raw_surfaces, list) or not isinstance(raw_layers, list) or len(raw_surfaces) != len(raw_layers):
        raise SurrogateInputError("scenario: 'model.surfaces' and 'model.layers' must be lists of equal length")
    surfaces = tuple(Surface(str(s.get("name", f"s{i}")),
                             _elevation(s.get("elevation"), f"model.surfaces[{i}].elevation"))
                     for i, s in enumerate(raw_surfaces))
    layers = tuple(Layer(*(_number(l.get(k), f"model.layers[{i}].{k}") for k in ("vp", "vs", "rho", "damping")))
                   for i, l in enumerate(raw_layers))
    for i, layer in enumerate(layers):
        if min(layer.vp, layer.vs, layer.rho) <= 0 or layer.damping < 0:
            raise SurrogateInputError(f"scenario: 'model.layers[{i}]' needs positive vp, vs, rho and damping >= 0")
    receivers = tree.get("receivers") or {}
    grid = receivers.get("grid") or {}
    nx, ny = int(grid.get("nx", 0)), int(grid.get("ny", 0))
    points = np.asarray(receivers.get("points") or np.zeros((0, 2)), dtype=np.float64).reshape(-1, 2)
    if nx * ny + points.shape[0] == 0:
        raise SurrogateInputError("scenario: 'receivers' names no station")
    duration = _number(_get(tree, "time.duration"), "time.duration")
    output_dt = _number((tree.get("output") or {}).get("dt", _get(tree, "time.dt")), "output.dt")
    if duration <= 0 or output_dt <= 0:
        raise SurrogateInputError("scenario: 'time.duration' and 'output.dt' must be positive")
    return Scenario(domain, surfaces, layers, (nx, ny), points, duration, output_dt,
                    dict(_get(tree, "source")), text)


def load_scenario(path: str | Path) -> Scenario:
    """Read and parse a scenario file; a missing file is a SurrogateInputError."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"scenario file not found: {path}")
    return parse_scenario(path.read_text())


def station_xy(scenario: Scenario) -> np.ndarray:
    """(R, 2) float64 station (x, y), m: the grid at cell centres, x fastest, then the listed points."""
    nx, ny = scenario.grid
    (x0, x1), (y0, y1) = scenario.domain.x, scenario.domain.y
    gx = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / max(nx, 1)
    gy = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / max(ny, 1)
    xx, yy = np.meshgrid(gx, gy, indexing="xy")   # (ny, nx): row-major with x fastest
    return np.concatenate([np.stack([xx.ravel(), yy.ravel()], axis=1), scenario.points], axis=0)


def output_times(scenario: Scenario) -> np.ndarray:
    """(T,) float64 sample times of the recorded velocity, s: 0, dt, ..., <= duration."""
    n = int(np.floor(scenario.duration / scenario.output_dt + 1e-9)) + 1
    return np.arange(n) * scenario.output_dt
