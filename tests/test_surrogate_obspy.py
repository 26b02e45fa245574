"""Records as seismologists hold them: result files to miniSEED/SAC and back, and `invert --records`.

The records are written by ObsPy (surrogate.obsio's export, or Trace.write here), read back by
surrogate.obsio and inverted by a quickly trained network on real FEM runs (tests.surrogate_fem_runs).
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from obspy import Trace, UTCDateTime

from fem.result import read_result
from surrogate.cli import main
from surrogate.dataset import build_store
from surrogate.errors import SurrogateInputError
from surrogate.obsio import export_result, read_records
from surrogate.spectra import Band
from surrogate.train import TrainConfig, train
from tests.surrogate_fem_runs import fem_runs

QUICK = dict(epochs=3, batch_size=16, hidden=(16,), log_every=1000)
BAND = Band(0.5, 5.0, 8)
#: network time grid of the synthetic records: 1.6 s every 0.02 s (as the FEM runs')
TIME = np.arange(81) * 0.02
#: origin of the StationXML round trip (lat, lon)
ORIGIN = (35.0, 139.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("obspy")
    runs = fem_runs(4)
    store = build_store(runs, tmp / "store.h5", BAND, (0.5, 0.25, 0.25))
    train(TrainConfig(task="inverse_pointwise", **QUICK), store, tmp / "model")
    return tmp / "model", runs


def _ricker(t: np.ndarray, f0: float = 2.5, t0: float = 0.5) -> np.ndarray:
    a = (np.pi * f0 * (t - t0)) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def _write(folder, station: str, channel: str, data: np.ndarray, dt: float, start: float = 0.0) -> str:
    """One record written by ObsPy as miniSEED (float32); returns its path."""
    net, sta = station.split(".")
    path = folder / f"{station}..{channel}.mseed"
    Trace(np.asarray(data, dtype=np.float32), {"network": net, "station": sta, "channel": channel, "delta": dt,
                                               "starttime": UTCDateTime(0) + start}).write(str(path), format="MSEED")
    return str(path)


def _station(folder, dt: float = 0.02, n: int = 81, start: float = 0.0, channels: str = "ENZ",
             table: str = "XX.A 10.0 20.0 0.5 m/s\n") -> tuple[list[str], str]:
    t = start + dt * np.arange(n)
    files = [_write(folder, "XX.A", "HH" + c, (k + 1) * 0.01 * _ricker(t), dt, start) for k, c in enumerate(channels)]
    (folder / "stations.txt").write_text(table)
    return files, str(folder / "stations.txt")


@pytest.mark.parametrize("fmt", ["mseed", "sac"])
def test_an_exported_result_reads_back_as_it_was(trained, tmp_path, fmt):
    _, runs = trained
    res = read_result(runs[0][1])
    assert main(["export", str(runs[0][1]), "--format", fmt, "--out", str(tmp_path),
                 "--origin", *map(str, ORIGIN)]) == 0
    files = sorted(str(p) for p in tmp_path.glob(f"*.{fmt}"))
    assert len(files) == 3 * res.xyz.shape[0]
    back = read_records(files, tmp_path / "stations.txt", res.t, BAND.f_max)
    np.testing.assert_array_equal(back.velocity, res.velocity)       # float32 both ways: no round-off at all
    np.testing.assert_array_equal(back.xyz, res.xyz)
    xml = read_records(files, tmp_path / "stations.xml", res.t, BAND.f_max, origin=ORIGIN)
    np.testing.assert_allclose(xml.xyz, res.xyz, rtol=0, atol=1e-6)   # lat/lon there and back, m
    np.testing.assert_array_equal(xml.velocity, res.velocity)


def test_a_record_at_twice_the_rate_lands_on_the_network_grid(tmp_path):
    """A 2.5 Hz Ricker (band-limited well below the network's 25 Hz Nyquist) sampled every 0.01 s, starting
    0.003 s off the grid: low-passed and spline-interpolated onto the 0.02 s grid within 0.1 % of its peak
    (2.5e-5 measured)."""
    files, table = _station(tmp_path, dt=0.01, n=170, start=-0.033)
    rec = read_records(files, table, TIME, BAND.f_max, t0="1970-01-01T00:00:00")
    want = 0.01 * np.arange(1, 4)[:, None] * _ricker(TIME)[None]
    err = np.abs(rec.velocity[0] - want).max(axis=1) / np.abs(want).max(axis=1)
    assert err.max() < 1e-3, err


@pytest.mark.parametrize("case, words", [
    ("missing component", ["XX.A", "no z record"]),
    ("no coordinates", ["XX.A", "no coordinates"]),
    ("short", ["XX.A HHE", "covers", "1.58"]),
    ("coarse", ["XX.A HHE", "0.25 s", "Nyquist 2 Hz", "f_max 5 Hz"]),
    ("units unknown", ["XX.A", "units unknown"]),
    ("counts", ["XX.A", "'counts'"]),
    ("unrotated", ["XX.A", "HH1", "'1'"]),
])
def test_records_the_network_cannot_read_are_refused_in_one_line(tmp_path, case, words):
    kw = {"missing component": dict(channels="EN"), "no coordinates": dict(table="XX.B 0 0 0 m/s\n"),
          "short": dict(n=80), "coarse": dict(dt=0.25, n=8), "units unknown": dict(table="XX.A 10 20 0.5\n"),
          "counts": dict(table="XX.A 10 20 0.5 counts\n"), "unrotated": dict(channels="12Z")}[case]
    files, table = _station(tmp_path, **kw)
    with pytest.raises(SurrogateInputError) as err:
        read_records(files, table, TIME, BAND.f_max, t0="1970-01-01T00:00:00")
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_invert_from_records_estimates_what_it_does_from_the_result_file(trained, tmp_path, capsys):
    model, runs = trained
    result = runs[-1][1]
    export_result(read_result(result), tmp_path / "sac", "sac")
    files = sorted(str(p) for p in (tmp_path / "sac").glob("*.sac"))
    assert main(["invert", str(result), "--model", str(model), "-o", str(tmp_path / "h5.h5")]) == 0
    assert main(["invert", "--records", *files, "--stations", str(tmp_path / "sac" / "stations.txt"),
                 "--model", str(model), "-o", str(tmp_path / "records.h5")]) == 0
    with h5py.File(tmp_path / "h5.h5") as a, h5py.File(tmp_path / "records.h5") as b:
        np.testing.assert_allclose(b["boundaries/elevation"][...], a["boundaries/elevation"][...], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(b["receivers/xyz"][...], a["receivers/xyz"][...])
    capsys.readouterr()
    assert main(["invert", "--records", *files[:-1], "--stations", str(tmp_path / "sac" / "stations.txt"),
                 "--model", str(model), "-o", str(tmp_path / "no.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no z record" in err, err
    assert main(["invert", str(result), "--records", *files, "--model", str(model), "-o", "x.h5"]) == 2
    assert "one of the two" in capsys.readouterr().err
    assert not (tmp_path / "no.h5").exists()
