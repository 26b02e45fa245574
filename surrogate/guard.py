"""Out-of-distribution guard: what the networks were trained on, and inputs that lie outside it.

A network answers anything, also where it has never seen data. `train` records
the training split's ranges in every model.npz (meta["training_ranges"],
`training_ranges`): per layer vp, vs, rho, damping; the output sampling (dt,
samples) and receiver grid; per boundary its depth below ground, per layer
above the last boundary its thickness (min and max over the training models'
stations); the ground elevation; the box. The source is one per data set
(meta["source"]).

`predict` (scenario in, `scenario_verdict`) refuses a scenario whose layer
properties, source or sampling lie outside, and flags one whose geometry
(depths, thicknesses, ground, box) does: the hidden 3D shapes must still be
predicted. `invert` (records in) refuses records sampled otherwise or from
another source (`check_record`) and flags records whose network inputs lie
far outside the training inputs (`feature_flag`; the envelope is the select
record's, surrogate.ensemble). Either writes the reason into the attribute
`out_of_distribution` on `/` of its file ("" when inside).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import h5py
import numpy as np
from fem.scenario import load_yaml, parse_source

from surrogate.dataset import TRAIN
from surrogate.errors import SurrogateInputError
from surrogate.features import boundary_depth
from surrogate.scenario import Scenario, _source_values, layer_table, station_xyz, surface_elevations

ATTRIBUTE = "out_of_distribution"
RANGES_KEY = "training_ranges"
PROPERTIES = (("vp", "m/s"), ("vs", "m/s"), ("rho", "kg/m^3"), ("damping", ""))
#: a feature counts as outside when it lies beyond the training min/max by more than this share of the range
FEATURE_MARGIN = 0.10
#: records are flagged when more than this share of their (station, feature) values lie outside
FEATURE_SHARE = 0.05
_REL = 1e-9   # round-off allowed at a range's ends


def _span(a: np.ndarray, axis) -> list:
    """[min, max] over axis, as plain floats (JSON)."""
    return np.stack([a.min(axis=axis), a.max(axis=axis)], axis=-1).tolist()


def training_ranges(store_path) -> dict:
    """The training split's ranges, as JSON-able plain values (the store is surrogate.dataset's)."""
    with h5py.File(store_path, "r") as f:
        train = np.flatnonzero(f["split"][...] == TRAIN)
        layers, ground = f["layers"][...][train], f["ground_elevation"][...][train]
        boundary, t = f["boundary_elevation"][...][train], f["time"][...]
        texts = [f["provenance/scenario"][i] for i in train]
        grid = [int(f.attrs["grid_nx"]), int(f.attrs["grid_ny"])]
    depth = boundary_depth(ground, boundary)                                   # (N, R, B)
    surfaces = np.concatenate([ground[:, None], boundary], axis=1)             # (N, S, R)
    thickness = surfaces[:, :-1] - surfaces[:, 1:]                             # (N, B, R)
    domains = [load_yaml(s.decode() if isinstance(s, bytes) else s)["model"]["domain"] for s in texts]
    box = np.array([[*d["x"], *d["y"], d["z_bottom"]] for d in domains], dtype=float)
    return {"layers": {name: _span(layers[:, :, k], 0) for k, (name, _) in enumerate(PROPERTIES)},
            "output_dt": float(t[1] - t[0]), "n_samples": int(t.size), "grid": grid,
            "depth_m": _span(depth.reshape(-1, depth.shape[-1]), 0),
            "thickness_m": _span(np.swapaxes(thickness, 0, 1).reshape(thickness.shape[1], -1), 1),
            "ground_m": _span(ground.ravel(), 0),
            "box_m": dict(zip(("x_min", "x_max", "y_min", "y_max", "z_bottom"), _span(box, 0)))}


def _outside(value: float, span) -> bool:
    lo, hi = span
    tol = _REL * max(abs(lo), abs(hi), 1.0)
    return value < lo - tol or value > hi + tol


def _range_text(span, unit: str) -> str:
    unit = f" {unit}" if unit else ""
    return f"{span[0]:g}-{span[1]:g}{unit}"


def _flat(values: tuple, prefix: str = "") -> dict:
    """surrogate.scenario's nested (name, value) tuples of a source, as {dotted.name: value}."""
    out = {}
    for name, value in values:
        if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            out.update(_flat(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def source_difference(source, trained_yaml: str) -> str:
    """'' if the parsed source equals the training source, else one phrase naming the first value that differs."""
    have, want = _flat(_source_values(source)), _flat(_source_values(parse_source(load_yaml(trained_yaml))))
    for key in [*want, *(k for k in have if k not in want)]:
        if have.get(key) != want.get(key):
            return (f"source differs from the one the surrogate was trained for: {key} {have.get(key)} "
                    f"(training data: {want.get(key)})")
    return ""


@dataclass
class Verdict:
    refused: list[str] = field(default_factory=list)   #: reasons to refuse: properties, source, sampling
    flagged: list[str] = field(default_factory=list)   #: reasons to flag: geometry

    @property
    def reason(self) -> str:
        """The out_of_distribution attribute: every reason, '; '-joined ('' when inside)."""
        return "; ".join(self.refused + self.flagged)


def scenario_verdict(scenario: Scenario, ranges: dict | None, source_yaml: str) -> Verdict:
    """What in a scenario lies outside the training ranges (a network trained before they were recorded:
    the source alone is checked, and the flag says the rest was not)."""
    v = Verdict()
    if diff := source_difference(scenario.source, source_yaml):
        v.refused.append(diff)
    if ranges is None:
        v.flagged.append("not checked: the network was trained before training ranges were recorded (retrain it)")
        return v
    if abs(scenario.output_dt - ranges["output_dt"]) > _REL * ranges["output_dt"]:
        v.refused.append(f"output dt {scenario.output_dt:g} s outside the training range "
                         f"{_range_text([ranges['output_dt']] * 2, 's')}")
    n = scenario.output_times.size
    if n != ranges["n_samples"]:
        v.refused.append(f"{n} output samples (duration {scenario.time.duration:g} s) outside the training "
                         f"range {ranges['n_samples']}-{ranges['n_samples']}")
    grid = [scenario.receivers.nx, scenario.receivers.ny]
    if grid != ranges["grid"]:
        v.refused.append(f"receiver grid {grid[0]}x{grid[1]} differs from the training grid "
                         f"{ranges['grid'][0]}x{ranges['grid'][1]}")
    table = layer_table(scenario)
    for i, row in enumerate(table):
        for k, (name, unit) in enumerate(PROPERTIES):
            spans = ranges["layers"][name]
            if i < len(spans) and _outside(row[k], spans[i]):
                v.refused.append(f"layer {i + 1} {name} {row[k]:g}{' ' + unit if unit else ''} outside the "
                                 f"training range {_range_text(spans[i], unit)}")
    xyz = station_xyz(scenario)
    z = surface_elevations(scenario, xyz[:, :2])
    _geometry(v, z, scenario, ranges)
    return v


def _geometry(v: Verdict, z: np.ndarray, scenario: Scenario, ranges: dict) -> None:
    """Flags for ground, depths, thicknesses at the stations (z: (S, R) surface elevations) and the box."""
    m = scenario.model
    checks = [("ground elevation", z[0], ranges["ground_m"])]
    checks += [(f"boundary {b + 1} depth", z[0] - z[b + 1], span) for b, span in enumerate(ranges["depth_m"])
               if b + 1 < len(z)]
    checks += [(f"layer {i + 1} thickness", z[i] - z[i + 1], span) for i, span in enumerate(ranges["thickness_m"])
               if i + 1 < len(z)]
    box = {"x_min": m.x[0], "x_max": m.x[1], "y_min": m.y[0], "y_max": m.y[1], "z_bottom": m.z_bottom}
    checks += [(f"box {k}", np.array([box[k]]), span) for k, span in ranges["box_m"].items()]
    for name, values, span in checks:
        lo, hi = float(values.min()), float(values.max())
        if _outside(lo, span) or _outside(hi, span):
            v.flagged.append(f"{name} {lo:g}-{hi:g} m outside the training range {_range_text(span, 'm')}")


def check_record(name: str, t: np.ndarray, xyz: np.ndarray, scenario_text: str, time: np.ndarray,
                 station_xy: np.ndarray, grid: tuple[int, int], source_yaml: str) -> None:
    """Refuse (one line naming the file) records sampled otherwise than the training data or from another source.

    t (T,), xyz (R, 3) of the records; time, station_xy, grid, source_yaml of the training data. The
    training grid's stations must come first (further stations may follow: they are interpolated)."""
    if t.shape != time.shape or not np.allclose(t, time):
        raise SurrogateInputError(f"{name}: sample times differ from the training data's "
                                  f"({len(time)} samples every {time[1] - time[0]:g} s; these: {len(t)} every "
                                  f"{t[1] - t[0] if len(t) > 1 else float('nan'):g} s)")
    nx, ny = grid
    if xyz.shape[0] < nx * ny or not np.allclose(xyz[: nx * ny, :2], station_xy[: nx * ny], atol=1e-6):
        raise SurrogateInputError(f"{name}: station layout differs from the training data's "
                                  f"({nx}x{ny} grid first)")
    if scenario_text:
        from surrogate.scenario import parse_scenario
        if diff := source_difference(parse_scenario(scenario_text).source, source_yaml):
            raise SurrogateInputError(f"{name}: {diff}")


def feature_envelope(features: np.ndarray) -> dict:
    """{min, max} per feature over the training stations' network inputs (..., C)."""
    flat = features.reshape(-1, features.shape[-1])
    return {"min": flat.min(axis=0).tolist(), "max": flat.max(axis=0).tolist()}


def feature_share_outside(features: np.ndarray, envelope: dict) -> float:
    """Share of (station, feature) values (..., C) beyond the envelope by more than FEATURE_MARGIN of its range."""
    lo, hi = np.asarray(envelope["min"]), np.asarray(envelope["max"])
    if features.shape[-1] != lo.size:
        return 1.0
    margin = FEATURE_MARGIN * np.maximum(hi - lo, 1e-12)
    return float(((features < lo - margin) | (features > hi + margin)).mean())


def feature_flag(features: np.ndarray, envelope: dict | None) -> str:
    """The out_of_distribution reason for records whose network inputs (..., C) lie far outside training's."""
    if envelope is None:
        return "not checked: no feature range recorded (run `python -m surrogate select`)"
    share = feature_share_outside(features, envelope)
    if share <= FEATURE_SHARE:
        return ""
    return (f"{100 * share:.0f} % of the records' station features lie beyond the training min/max by more "
            f"than {100 * FEATURE_MARGIN:.0f} % of the range (flag above {100 * FEATURE_SHARE:.0f} %)")
