"""The scenario file (YAML, one per simulation): parsed into small frozen dataclasses.

DESIGN.md fixes the keys; keys added here (`mesh.elements_per_wavelength`,
`mesh.source_refinement`, `mesh.generator`, `mesh.columns`,
`solver.*`, `source.time_function.type: smooth_step`, `output.snapshots`) are
optional with documented defaults. Unknown keys are refused, so a typo is
never silently ignored. All units SI, z up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from fem.model import GroundModel, Layer, ModelError, Surface

#: Elements per shear wavelength (longest edge) by element order: the smallest n whose plane-wave
#: misfit against the exact layered column stays <= 3 % up to f_max is 2 (order 2) and 10 (order 1);
#: order 2 takes 3 for margin on oblique 3D waves (benchmarks/mesh_convergence.py, benchmarks/README.md).
DEFAULT_ELEMENTS_PER_WAVELENGTH = {1: 10.0, 2: 3.0}


class ScenarioError(ValueError):
    """An invalid scenario; the message names the offending key."""


@dataclass(frozen=True)
class MeshConfig:
    order: int                       #: element order, 1 (4-node) or 2 (10-node)
    f_max: float                     #: highest frequency to resolve, Hz
    elements_per_wavelength: float   #: n in h <= vs / (f_max * n)
    source_refinement: float = 1.0   #: elements this many times smaller around a point source (1: none)
    generator: str = "gmsh"          #: 'gmsh' (fem.layered_mesh) or 'columns' (fem.column_mesh)
    columns: dict | None = None      #: columns only: least counts {nx, ny, levels (one per layer)}, so that
                                     #: the models of a configuration share one topology


@dataclass(frozen=True)
class TimeConfig:
    duration: float  #: simulated time, s
    dt: float        #: Newmark time step, s

    @property
    def n_steps(self) -> int:
        return int(round(self.duration / self.dt))


@dataclass(frozen=True)
class Wavelet:
    type: str          #: 'ricker'
    f0: float          #: peak frequency, Hz
    t0: float          #: time of the peak, s
    amplitude: float   #: peak incident particle velocity, m/s


@dataclass(frozen=True)
class PlaneWave:
    component: str     #: 'x' or 'y' (S wave) or 'z' (P wave)
    wavelet: Wavelet   #: upgoing incident particle velocity at z_bottom


@dataclass(frozen=True)
class TimeFunction:
    type: str          #: 'brune' (M(t)/M0 = 1 - (1 + t/T) exp(-t/T)) or 'smooth_step'
    rise_time: float   #: T for brune; sigma of the error-function step for smooth_step, s
    t0: float = 0.0    #: onset (brune) or centre (smooth_step), s


@dataclass(frozen=True)
class MomentTensorSource:
    position: np.ndarray          #: (3,) source location, m
    tensor: np.ndarray            #: (3, 3) symmetric moment tensor, N*m (Aki-Richards sign)
    time_function: TimeFunction   #: normalised moment history s(t), 0 -> 1


@dataclass(frozen=True)
class Receivers:
    nx: int               #: stations along x in the surface grid (0: no grid)
    ny: int               #: stations along y
    points: np.ndarray    #: (P, 2) extra stations (x, y) on the ground surface, m
    interior: np.ndarray  #: (Q, 3) stations (x, y, z) inside the model, m (added key; e.g. for buried sensors)


@dataclass(frozen=True)
class SolverConfig:
    rtol: float               #: relative residual at which CG stops
    max_iterations: int       #: CG iteration cap per step
    predictor_order: int      #: polynomial order of the initial-guess extrapolation (0, 1 or 2)
    rayleigh_band: tuple[float, float]  #: (f1, f2) Hz over which Rayleigh damping fits each layer's ratio
    predictor: str = "projection"  #: initial guess: 'projection' onto the last solutions, or 'polynomial'
    projection_size: int = 8       #: solutions the projection keeps (hpc.projection)
    backend: str = "numpy"         #: the solver's arrays: 'numpy' (hpc.batched) or 'torch' (hpc.torch_batched)
    device: str = "cpu"            #: torch only: 'cpu', 'cuda' (one GPU per rank), 'cuda:K' or 'auto'
    preconditioner: str = "block_jacobi"  #: 'block_jacobi' or 'two_grid' (hpc.twogrid; numpy backend)


@dataclass(frozen=True)
class Scenario:
    text: str                     #: the YAML text as given
    model: GroundModel
    mesh: MeshConfig
    time: TimeConfig
    source: PlaneWave | MomentTensorSource
    receivers: Receivers
    output_dt: float              #: sampling interval of the recorded traces, s
    solver: SolverConfig
    snapshot_every: float         #: seconds between XDMF wavefield snapshots (0: none)

    @property
    def output_times(self) -> np.ndarray:
        """(T,) float64 times of the recorded traces, 0, output_dt, ... <= duration, s (any engine)."""
        n = int(np.floor(self.time.duration / self.output_dt + 1e-9)) + 1
        return np.arange(n) * self.output_dt


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML loader that also reads 1e12 and 1.0e12 as floats (YAML 1.2; PyYAML's 1.1 needs 1.0e+12).

    libyaml's parser where PyYAML has it (its wheels do: ~10x faster on scenario
    files; the surrogate's predict parses one per call), the pure-Python one otherwise.
    Tags are resolved in Python either way, so both read the same values."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(text: str):
    """Parse YAML text with the scenario loader (safe; exponents without a sign are floats)."""
    return yaml.load(text, Loader=_Loader)


def _take(d: dict, where: str, required: tuple[str, ...], optional: dict) -> dict:
    """Check a mapping's keys: required present, nothing unknown; fill defaults."""
    if not isinstance(d, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - set(required) - set(optional))
    if unknown:
        raise ScenarioError(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(list(required) + list(optional))})")
    for key in required:
        if key not in d:
            raise ScenarioError(f"{where}: missing key '{key}'")
    return {**optional, **d}


def _number(value, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ScenarioError(f"{where}: expected a number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(f"{where}: must be positive, got {value}")
    return float(value)


def _interval(value, where: str) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise ScenarioError(f"{where}: expected [min, max], got {value!r}")
    lo, hi = (_number(v, where) for v in value)
    if not hi > lo:
        raise ScenarioError(f"{where}: empty interval [{lo}, {hi}]")
    return lo, hi


def _surface(d: dict, i: int, x, y) -> Surface:
    where = f"model.surfaces[{i}]"
    d = _take(d, where, ("name", "elevation"), {})
    elev = d["elevation"]
    if isinstance(elev, (int, float)) and not isinstance(elev, bool):
        control = np.array([[_number(elev, where + ".elevation")]])
    else:
        try:
            control = np.array(elev, dtype=float)
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}.elevation: expected a number or a grid of rows of numbers") from None
        if control.ndim != 2 or min(control.shape) < 2 or not np.all(np.isfinite(control)):
            raise ScenarioError(f"{where}.elevation: a control grid needs >= 2 rows of >= 2 finite numbers "
                                f"each, got shape {control.shape}")
    return Surface(str(d["name"]), control, x, y)


def _model(d: dict) -> GroundModel:
    d = _take(d, "model", ("domain", "surfaces", "layers"), {})
    dom = _take(d["domain"], "model.domain", ("x", "y", "z_bottom"), {})
    x = _interval(dom["x"], "model.domain.x")
    y = _interval(dom["y"], "model.domain.y")
    z_bottom = _number(dom["z_bottom"], "model.domain.z_bottom")
    if not isinstance(d["surfaces"], list) or not isinstance(d["layers"], list):
        raise ScenarioError("model: 'surfaces' and 'layers' must be lists")
    surfaces = tuple(_surface(s, i, x, y) for i, s in enumerate(d["surfaces"]))
    layers = []
    for i, ld in enumerate(d["layers"]):
        where = f"model.layers[{i}]"
        ld = _take(ld, where, ("vp", "vs", "rho"), {"damping": 0.0})
        layers.append(Layer(*(_number(ld[k], f"{where}.{k}") for k in ("vp", "vs", "rho", "damping"))))
    model = GroundModel(x, y, z_bottom, surfaces, tuple(layers))
    try:
        model.validate()
    except ModelError as err:
        raise ScenarioError(str(err)) from None
    return model


def parse_source(d: dict) -> PlaneWave | MomentTensorSource:
    """The `source` section (a mapping) as a source object; ScenarioError names a bad key."""
    if not isinstance(d, dict) or "type" not in d:
        raise ScenarioError("source: missing key 'type' (plane_wave or moment_tensor)")
    if d["type"] == "plane_wave":
        d = _take(d, "source", ("type", "component", "wavelet"), {})
        if d["component"] not in ("x", "y", "z"):
            raise ScenarioError(f"source.component: expected x, y or z, got {d['component']!r}")
        w = _take(d["wavelet"], "source.wavelet", ("type", "f0", "t0", "amplitude"), {})
        if w["type"] != "ricker":
            raise ScenarioError(f"source.wavelet.type: only 'ricker' is known, got {w['type']!r}")
        wavelet = Wavelet("ricker", _number(w["f0"], "source.wavelet.f0", positive=True),
                          _number(w["t0"], "source.wavelet.t0"), _number(w["amplitude"], "source.wavelet.amplitude"))
        return PlaneWave(d["component"], wavelet)
    if d["type"] == "moment_tensor":
        d = _take(d, "source", ("type", "position", "tensor", "time_function"), {})
        pos = d["position"]
        if not (isinstance(pos, list) and len(pos) == 3):
            raise ScenarioError(f"source.position: expected [x, y, z], got {pos!r}")
        position = np.array([_number(p, "source.position") for p in pos])
        keys = ("mxx", "myy", "mzz", "mxy", "mxz", "myz")
        t = _take(d["tensor"], "source.tensor", (), {k: 0.0 for k in keys})
        mxx, myy, mzz, mxy, mxz, myz = (_number(t[k], f"source.tensor.{k}") for k in keys)
        tensor = np.array([[mxx, mxy, mxz], [mxy, myy, myz], [mxz, myz, mzz]])
        tf = _take(d["time_function"], "source.time_function", ("type", "rise_time"), {"t0": 0.0})
        if tf["type"] not in ("brune", "smooth_step"):
            raise ScenarioError(f"source.time_function.type: expected brune or smooth_step, got {tf['type']!r}")
        return MomentTensorSource(position, tensor, TimeFunction(
            tf["type"], _number(tf["rise_time"], "source.time_function.rise_time", positive=True),
            _number(tf["t0"], "source.time_function.t0")))
    raise ScenarioError(f"source.type: expected plane_wave or moment_tensor, got {d['type']!r}")


def _receivers(d: dict, model: GroundModel) -> Receivers:
    d = _take(d, "receivers", (), {"grid": {"nx": 0, "ny": 0}, "points": [], "interior": []})
    g = _take(d["grid"], "receivers.grid", ("nx", "ny"), {})
    nx, ny = g["nx"], g["ny"]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (nx, ny)) or (nx == 0) != (ny == 0):
        raise ScenarioError(f"receivers.grid: nx and ny must be non-negative integers, both zero or both not, got {nx}, {ny}")
    pts = np.array(d["points"], dtype=float).reshape(-1, 2) if d["points"] else np.zeros((0, 2))
    if pts.size and not np.all(np.isfinite(pts)):
        raise ScenarioError("receivers.points: expected a list of [x, y] numbers")
    outside = (pts[:, 0] < model.x[0]) | (pts[:, 0] > model.x[1]) | (pts[:, 1] < model.y[0]) | (pts[:, 1] > model.y[1])
    if outside.any():
        raise ScenarioError(f"receivers.points[{int(np.argmax(outside))}]: station {pts[outside][0].tolist()} outside the box")
    try:
        inner = np.array(d["interior"], dtype=float).reshape(-1, 3)
    except (TypeError, ValueError):
        raise ScenarioError("receivers.interior: expected a list of [x, y, z] numbers") from None
    if inner.size:
        layer = model.layer_index(inner[:, 0], inner[:, 1], inner[:, 2])
        bad = (layer < 0) | (inner[:, 2] < model.z_bottom) | (inner[:, 0] < model.x[0]) | (inner[:, 0] > model.x[1]) \
            | (inner[:, 1] < model.y[0]) | (inner[:, 1] > model.y[1])
        if bad.any():
            raise ScenarioError(f"receivers.interior[{int(np.argmax(bad))}]: station {inner[bad][0].tolist()} "
                                "outside the model")
    if nx * ny + len(pts) + len(inner) == 0:
        raise ScenarioError("receivers: no stations (give a grid, points or interior stations)")
    return Receivers(nx, ny, pts, inner)


def _column_counts(d, generator: str, n_layers: int) -> dict:
    """`mesh.columns` as {nx, ny, levels (tuple, one per layer)}, unset counts 1."""
    if generator != "columns":
        raise ScenarioError(f"mesh.columns: only valid with generator columns, not {generator}")
    c = _take(d, "mesh.columns", (), {"nx": 1, "ny": 1, "levels": [1] * n_layers})

    def count(value, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ScenarioError(f"{where}: expected a positive integer, got {value!r}")
        return value

    levels = c["levels"]
    if not isinstance(levels, list) or len(levels) != n_layers:
        raise ScenarioError(f"mesh.columns.levels: expected a list of {n_layers} counts (one per layer), got {levels!r}")
    return {"nx": count(c["nx"], "mesh.columns.nx"), "ny": count(c["ny"], "mesh.columns.ny"),
            "levels": tuple(count(n, f"mesh.columns.levels[{i}]") for i, n in enumerate(levels))}


def parse_scenario(text: str) -> Scenario:
    """Parse and validate a scenario from its YAML text."""
    try:
        d = load_yaml(text)
    except yaml.YAMLError as err:
        raise ScenarioError(f"not valid YAML: {str(err).splitlines()[0]}") from None
    d = _take(d, "scenario", ("model", "mesh", "time", "source", "receivers"),
              {"output": {}, "solver": {}})
    model = _model(d["model"])
    m = _take(d["mesh"], "mesh", ("f_max",), {"order": 2, "elements_per_wavelength": None, "source_refinement": 1.0,
                                              "generator": "gmsh", "columns": None})
    if m["order"] not in (1, 2):
        raise ScenarioError(f"mesh.order: expected 1 or 2, got {m['order']!r}")
    n = m["elements_per_wavelength"]
    n = DEFAULT_ELEMENTS_PER_WAVELENGTH[m["order"]] if n is None else _number(n, "mesh.elements_per_wavelength", True)
    refine = _number(m["source_refinement"], "mesh.source_refinement", True)
    if refine < 1.0:
        raise ScenarioError(f"mesh.source_refinement: expected a factor >= 1, got {refine}")
    if m["generator"] not in ("gmsh", "columns"):
        raise ScenarioError(f"mesh.generator: expected gmsh or columns, got {m['generator']!r}")
    columns = None if m["columns"] is None else _column_counts(m["columns"], m["generator"], model.n_layers)
    mesh = MeshConfig(m["order"], _number(m["f_max"], "mesh.f_max", positive=True), n, refine, m["generator"], columns)
    t = _take(d["time"], "time", ("duration", "dt"), {})
    time = TimeConfig(_number(t["duration"], "time.duration", True), _number(t["dt"], "time.dt", True))
    if time.dt > time.duration:
        raise ScenarioError(f"time.dt: {time.dt} s exceeds time.duration {time.duration} s")
    o = _take(d["output"], "output", (), {"dt": time.dt, "snapshots": 0.0})
    output_dt = _number(o["dt"], "output.dt", positive=True)
    if output_dt < time.dt * (1 - 1e-9):
        raise ScenarioError(f"output.dt: {output_dt} s is finer than time.dt {time.dt} s")
    s = _take(d["solver"], "solver", (), {"rtol": 1e-8, "max_iterations": 2000, "predictor_order": 2,
                                          "rayleigh_band": [0.1 * mesh.f_max, mesh.f_max],
                                          "predictor": "projection", "projection_size": 8,
                                          "backend": "numpy", "device": "cpu", "preconditioner": "block_jacobi"})
    if s["predictor_order"] not in (0, 1, 2):
        raise ScenarioError(f"solver.predictor_order: expected 0, 1 or 2, got {s['predictor_order']!r}")
    if s["predictor"] not in ("projection", "polynomial"):
        raise ScenarioError(f"solver.predictor: expected projection or polynomial, got {s['predictor']!r}")
    size = s["projection_size"]
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 64:
        raise ScenarioError(f"solver.projection_size: expected an integer from 1 to 64, got {size!r}")
    if s["backend"] not in ("numpy", "torch"):
        raise ScenarioError(f"solver.backend: expected numpy or torch, got {s['backend']!r}")
    if not isinstance(s["device"], str) or not (s["device"] in ("cpu", "cuda", "auto")
                                                or s["device"].startswith("cuda:")):
        raise ScenarioError(f"solver.device: expected cpu, cuda, cuda:K or auto, got {s['device']!r}")
    if s["preconditioner"] not in ("block_jacobi", "two_grid"):
        raise ScenarioError(f"solver.preconditioner: expected block_jacobi or two_grid, got {s['preconditioner']!r}")
    if s["preconditioner"] == "two_grid" and s["backend"] != "numpy":
        raise ScenarioError("solver.preconditioner: two_grid runs on the numpy backend only")
    solver = SolverConfig(_number(s["rtol"], "solver.rtol", True), int(s["max_iterations"]),
                          s["predictor_order"], _interval(s["rayleigh_band"], "solver.rayleigh_band"),
                          s["predictor"], size, s["backend"], s["device"], s["preconditioner"])
    source = parse_source(d["source"])
    if mesh.generator == "columns" and isinstance(source, MomentTensorSource):
        raise ScenarioError("mesh.generator: columns meshes take plane-wave sources only; "
                            "a moment_tensor source needs generator gmsh")
    return Scenario(text, model, mesh, time, source, _receivers(d["receivers"], model),
                    output_dt, solver, _number(o["snapshots"], "output.snapshots"))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ScenarioError names the problem."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    return parse_scenario(path.read_text())
