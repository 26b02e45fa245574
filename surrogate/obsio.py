"""Records as seismologists hold them (ObsPy: miniSEED, SAC, StationXML) to and from the result layout.

Reading (`read_records`, what `invert --records ... --stations ...` does): any
waveform files obspy.read reads, plus the station coordinates, become the
velocity (R, 3, T), xyz (R, 3) and time (T,) of a result file
(fem.result.Result, engine "observed"), on the inverse network's time grid, so
the inversion reads them exactly as it reads a result file.

* Components: the last letter of the channel code; E or X -> x, N or Y -> y,
  Z -> z. The model's frame is x = east, y = north, z = up (right-handed, z up
  as in every scenario file; the FEM itself only knows x, y, z). Other letters
  (1, 2: unrotated horizontals) are refused: rotate to east/north first.
* Stations: NET.STA (the location code is not part of the name: one location
  per station). Their order is the order of the station list.
* Coordinates, in the model's metres:
  - a plain table (any name but *.xml), one station a line, whitespace or
    commas between fields, '#' starts a comment:
        # id      x      y      z     units
        XX.S0000  0.0    0.0    0.0   m/s
    (the units column may be left out: then --units says them);
  - StationXML (*.xml, obspy.read_inventory): latitude/longitude are placed in
    the model's frame by a flat-earth projection about `origin` (lat0, lon0),
    the model's (0, 0): x = R cos(lat0) (lon - lon0), y = R (lat - lat0) in
    radians, R = EARTH_RADIUS_M; z = the station elevation, m (good to ~1e-4
    of the distance across a few-km model). A channel's calibration_units
    (e.g. "M/S") gives the records' units.
* Units: velocity only (m/s, cm/s, mm/s, um/s, nm/s); counts, displacement or
  acceleration are refused (ObsPy's Trace.remove_response(output="VEL") first).
* Time: `t0` (UTC) is the model's time 0; by default the latest trace start
  is taken as the network's first sample time (records cut to the event).
  Every trace must cover the network's window. Traces on the network's grid
  (same step, aligned) are taken sample for sample; others are low-passed when
  downsampled (zero-phase Butterworth, order 4 each way, corner halfway
  between the band's f_max and the network's Nyquist frequency) and cubic-spline
  interpolated onto it. A trace whose Nyquist frequency lies below the band's
  f_max is refused: it lacks what the network reads.
Each refusal is one SurrogateInputError line naming the station, component or value.

Writing (`export_result`, `python -m surrogate export`): a result file of
`fem run` or `predict` becomes one file per station and component
(NET.STA..CHA.mseed or .sac, float32, m/s; channel: the SEED band code of the
rate, X for a generated channel, then E/N/Z; e.g. BXE at 50 Hz), with stations.txt (the plain table above) and,
given an origin, stations.xml. `receivers/velocity_std` of a surrogate result
is not exported.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fem.atomic import atomic_path, write_text_atomic
from fem.result import Result
from surrogate.errors import SurrogateInputError

#: model component index of each channel's last letter
COMPONENTS = {"E": 0, "X": 0, "N": 1, "Y": 1, "Z": 2}
#: export's component letters, x y z
LETTERS = "ENZ"
#: velocity units accepted, in m/s
UNITS = {"m/s": 1.0, "cm/s": 1e-2, "mm/s": 1e-3, "um/s": 1e-6, "nm/s": 1e-9}
#: sphere radius of the flat-earth projection, m
EARTH_RADIUS_M = 6371000.0
#: export's network code (FDSN's code for test and temporary data)
NETWORK = "XX"
#: export formats (also the file suffix)
FORMATS = ("mseed", "sac")
#: StationXML azimuth and dip of each exported component letter
ORIENTATION = {"E": (90.0, 0.0), "N": (0.0, 0.0), "Z": (0.0, -90.0)}
#: share of a sample step within which a trace counts as on the network's grid / covering its window
GRID_TOLERANCE = 1e-3


def read_records(files: list[str | Path], stations: str | Path, time: np.ndarray, f_max: float,
                 origin: tuple[float, float] | None = None, t0: str | None = None, units: str | None = None,
                 scenario: str = "") -> Result:
    """The observed records on the network's time grid `time` (T,), s, as a Result (engine "observed").

    f_max: the highest frequency, Hz, the network reads; origin: (lat, lon) of the model's (0, 0) for
    StationXML; t0: UTC of model time 0; units: of every record where the station list says none."""
    ids, xyz, station_units = read_stations(stations, origin)
    traces = _traces(files, ids)
    ref = _reference(traces, time, t0)
    velocity = np.empty((len(ids), 3, len(time)), dtype=np.float32)
    for i, sid in enumerate(ids):
        factor = _unit_factor(sid, station_units.get(sid) or units)
        for c, letter in enumerate("xyz"):
            tr = traces.get((sid, c))
            if tr is None:
                raise SurrogateInputError(f"{sid}: no {letter} record (a channel ending in "
                                          f"{'/'.join(k for k, v in COMPONENTS.items() if v == c)})")
            velocity[i, c] = factor * on_grid(tr.data, float(tr.stats.delta), float(tr.stats.starttime - ref),
                                              time, f_max, f"{sid} {tr.stats.channel}")
    return Result(xyz, np.asarray(time, dtype=np.float64), velocity, scenario, "observed", 1, 0, 0.0)


def read_stations(path: str | Path, origin: tuple[float, float] | None = None
                  ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Station names NET.STA, their xyz (R, 3) m in the model's frame and the units each names (may be none)."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateInputError(f"station list not found: {path}")
    if path.suffix.lower() == ".xml":
        return _read_stationxml(path, origin)
    ids, rows, units = [], [], {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("#")[0].replace(",", " ").split()
        if not fields:
            continue
        try:
            if len(fields) not in (4, 5):
                raise ValueError
            rows.append([float(v) for v in fields[1:4]])
        except ValueError:
            raise SurrogateInputError(f"{path}:{n}: want 'NET.STA x y z [units]', got '{line.strip()}'") from None
        if fields[0] in ids:
            raise SurrogateInputError(f"{path}:{n}: station {fields[0]} listed twice")
        ids.append(fields[0])
        if len(fields) == 5:
            units[fields[0]] = fields[4]
    if not ids:
        raise SurrogateInputError(f"{path}: lists no station")
    return ids, np.asarray(rows, dtype=np.float64), units


def _read_stationxml(path: Path, origin: tuple[float, float] | None) -> tuple[list[str], np.ndarray, dict]:
    from obspy import read_inventory
    if origin is None:
        raise SurrogateInputError(f"{path}: StationXML gives latitude/longitude; give --origin LAT LON (the "
                                  "model's x=0, y=0) or a plain table of x y z in metres")
    try:
        inventory = read_inventory(str(path), format="STATIONXML")
    except Exception as err:   # obspy raises many types for a bad file
        raise SurrogateInputError(f"{path}: not readable StationXML ({err})") from None
    ids, rows, units = [], [], {}
    for net in inventory:
        for sta in net:
            sid = f"{net.code}.{sta.code}"
            if sid in ids:
                continue
            ids.append(sid)
            rows.append([*project(sta.latitude, sta.longitude, origin), float(sta.elevation)])
            named = {ch.calibration_units for ch in sta if ch.calibration_units}
            if len(named) > 1:
                raise SurrogateInputError(f"{path}: station {sid} names several units {sorted(named)}")
            if named:
                units[sid] = named.pop()
    if not ids:
        raise SurrogateInputError(f"{path}: lists no station")
    return ids, np.asarray(rows, dtype=np.float64), units


def project(lat: float, lon: float, origin: tuple[float, float]) -> tuple[float, float]:
    """(x east, y north), m, of (lat, lon) by the flat-earth projection about origin (lat0, lon0)."""
    lat0, lon0 = origin
    return (EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.radians(lon - lon0),
            EARTH_RADIUS_M * math.radians(lat - lat0))


def unproject(x: float, y: float, origin: tuple[float, float]) -> tuple[float, float]:
    """(lat, lon) of model (x, y), m: the inverse of `project`."""
    lat0, lon0 = origin
    return (lat0 + math.degrees(y / EARTH_RADIUS_M),
            lon0 + math.degrees(x / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))))


def _traces(files: list[str | Path], ids: list[str]) -> dict:
    """{(NET.STA, component): Trace} of the waveform files; refuses unknown stations and components."""
    from obspy import read
    traces: dict = {}
    for file in files:
        if not Path(file).is_file():
            raise SurrogateInputError(f"record file not found: {file}")
        try:
            stream = read(str(file))
        except Exception as err:   # obspy raises TypeError, ValueError, ... for what it cannot read
            raise SurrogateInputError(f"{file}: not a waveform file ObsPy reads ({err})") from None
        for tr in stream:
            sid, channel = f"{tr.stats.network}.{tr.stats.station}", tr.stats.channel
            if sid not in ids:
                raise SurrogateInputError(f"{file}: station {sid} has no coordinates in the station list")
            c = COMPONENTS.get(channel[-1:].upper())
            if c is None:
                raise SurrogateInputError(f"{file}: {sid} channel {channel}: component '{channel[-1:]}' is "
                                          "none of E/N/Z or X/Y/Z (rotate to east/north first)")
            if (sid, c) in traces:
                raise SurrogateInputError(f"{file}: {sid} has a second {'xyz'[c]} trace ({channel}); give one "
                                          "gap-free trace per component (Stream.merge)")
            traces[sid, c] = tr
    return traces


def _reference(traces: dict, time: np.ndarray, t0: str | None):
    """UTC of model time 0: t0, or the latest trace start less the network's first sample time."""
    from obspy import UTCDateTime
    if t0 is not None:
        try:
            return UTCDateTime(t0)
        except Exception:
            raise SurrogateInputError(f"--t0 {t0}: not a UTC time (e.g. 2024-01-01T00:00:00)") from None
    if not traces:
        raise SurrogateInputError("no records given")
    return max(tr.stats.starttime for tr in traces.values()) - float(time[0])


def _unit_factor(sid: str, unit: str | None) -> float:
    if not unit:
        raise SurrogateInputError(f"{sid}: units unknown (a units column in the station table, calibration_units "
                                  f"in StationXML, or --units; one of {', '.join(UNITS)})")
    factor = UNITS.get(unit.strip().lower())
    if factor is None:
        raise SurrogateInputError(f"{sid}: units '{unit}' are not a velocity ({', '.join(UNITS)}); remove the "
                                  "instrument response to velocity first")
    return factor


def on_grid(data: np.ndarray, dt: float, start: float, time: np.ndarray, f_max: float, name: str) -> np.ndarray:
    """A trace (samples every dt s from model time `start`) on the network's grid `time` (T,), float64."""
    step = float(time[1] - time[0])
    if 0.5 / dt < f_max:
        raise SurrogateInputError(f"{name}: sampled every {dt:g} s, Nyquist {0.5 / dt:g} Hz below the band's "
                                  f"f_max {f_max:g} Hz")
    end = start + (len(data) - 1) * dt
    if start > time[0] + GRID_TOLERANCE * step or end < time[-1] - GRID_TOLERANCE * step:
        raise SurrogateInputError(f"{name}: covers {start:g} to {end:g} s of model time, not the network's "
                                  f"{time[0]:g} to {time[-1]:g} s")
    data = np.asarray(data, dtype=np.float64)
    first = (time[0] - start) / dt
    if abs(dt - step) * len(time) < GRID_TOLERANCE * step and abs(first - round(first)) < GRID_TOLERANCE:
        i = int(round(first))
        return data[i: i + len(time)]
    from scipy.interpolate import CubicSpline
    from scipy.signal import butter, sosfiltfilt
    if dt < step:   # downsampling: keep the band, remove what would alias
        corner = 0.5 * (f_max + 0.5 / step)
        data = sosfiltfilt(butter(4, corner, fs=1.0 / dt, output="sos"), data)
    return CubicSpline(start + dt * np.arange(len(data)), data)(time)


def export_result(result: Result, out_dir: str | Path, fmt: str, origin: tuple[float, float] | None = None,
                  t0: str = "1970-01-01T00:00:00") -> list[Path]:
    """Write a result's records as one fmt ('mseed' or 'sac') file per station and component, with
    stations.txt (and stations.xml given an origin) in out_dir; return the paths written.

    t0: the UTC time of the result's time 0."""
    from obspy import Stream, Trace, UTCDateTime
    if fmt not in FORMATS:
        raise SurrogateInputError(f"export format '{fmt}': choose one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = result.t
    dt = float(t[1] - t[0])
    start = UTCDateTime(t0) + float(t[0])
    channels = [band_code(1.0 / dt) + "X" + letter for letter in LETTERS]
    ids = [f"{NETWORK}.S{i:04d}" for i in range(result.xyz.shape[0])]
    paths = []
    for sid, velocity in zip(ids, result.velocity):
        net, sta = sid.split(".")
        for channel, data in zip(channels, velocity):
            tr = Trace(np.ascontiguousarray(data, dtype=np.float32),
                       {"network": net, "station": sta, "location": "", "channel": channel, "delta": dt,
                        "starttime": start})
            path = out_dir / f"{sid}..{channel}.{fmt}"
            with atomic_path(path) as tmp:
                Stream([tr]).write(str(tmp), format="MSEED" if fmt == "mseed" else "SAC",
                                   **({"encoding": "FLOAT32"} if fmt == "mseed" else {}))
            paths.append(path)
    lines = ["# id x y z units: model metres (x east, y north, z up); records in m/s"]
    lines += [f"{sid} {x!r} {y!r} {z!r} m/s" for sid, (x, y, z) in zip(ids, result.xyz.tolist())]
    paths.append(write_text_atomic(out_dir / "stations.txt", "\n".join(lines) + "\n"))
    if origin is not None:
        paths.append(_write_stationxml(out_dir / "stations.xml", ids, result.xyz, channels, 1.0 / dt, origin))
    return paths


def _write_stationxml(path: Path, ids: list[str], xyz: np.ndarray, channels: list[str], rate: float,
                      origin: tuple[float, float]) -> Path:
    from obspy.core.inventory import Channel, Inventory, Network, Station
    stations = []
    for sid, (x, y, z) in zip(ids, xyz.tolist()):
        lat, lon = unproject(x, y, origin)
        chans = [Channel(code, "", lat, lon, z, 0.0, azimuth=ORIENTATION[code[-1]][0], dip=ORIENTATION[code[-1]][1],
                         sample_rate=rate, calibration_units="M/S") for code in channels]
        stations.append(Station(sid.split(".")[1], lat, lon, z, channels=chans))
    inventory = Inventory([Network(NETWORK, stations=stations)], source="seismic-surrogate export")
    with atomic_path(path) as tmp:
        inventory.write(str(tmp), format="STATIONXML")
    return path


def band_code(rate: float) -> str:
    """SEED band code of a sampling rate, Hz (broadband-style ranges)."""
    for code, lowest in (("F", 1000.0), ("C", 250.0), ("H", 80.0), ("B", 10.0), ("M", 1.0)):
        if rate >= lowest:
            return code
    return "L"
