"""The command line `python -m fem`: an end-to-end MPI run, the mesh report, and refused input.

The run goes through `mpiexec -n 2` on a tiny model (order 1, ~1.2k dofs,
10 steps: a few seconds). Bad scenarios go through fem.cli.main in-process
(the same code path as `python -m fem`, without the interpreter start-up);
a missing file, broken YAML and the two run-time failures go through real
processes to check exit statuses and that no rank hangs.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from fem.cli import main
from fem.geometry import locate_points
from fem.shape import tet_shape
from fem.snapshots import snapshot_steps
from tests.test_mpi_suites import mpiexec

TINY = """\
model:
  domain: {x: [0.0, 40.0], y: [0.0, 40.0], z_bottom: -30.0}
  surfaces:
    - {name: ground, elevation: [[1.0, 0.0], [0.0, 2.0]]}
    - {name: b12, elevation: -12.0}
  layers:
    - {vp: 600.0, vs: 250.0, rho: 1800.0, damping: 0.02}
    - {vp: 1500.0, vs: 700.0, rho: 2000.0, damping: 0.01}
mesh: {order: 1, f_max: 5.0, elements_per_wavelength: 5.0}
time: {duration: 0.1, dt: 0.01}
source:
  type: plane_wave
  component: x
  wavelet: {type: ricker, f0: 10.0, t0: 0.05, amplitude: 0.01}
receivers:
  grid: {nx: 2, ny: 2}
  points: [[20.0, 20.0]]
output: {dt: 0.02, snapshots: 0.05}
"""

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def fem(*args: str, ranks: int = 0, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m fem ARGS` (under `mpiexec -n ranks` when ranks > 0); a hang fails the test by timeout."""
    cmd = [sys.executable, "-m", "fem", *args]
    if ranks:
        cmd = [mpiexec(), "-n", str(ranks)] + cmd
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120, cwd=cwd)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_two_rank_run_writes_the_result_layout_and_snapshots(tiny: Path):
    out, snap = tiny.parent / "out.h5", tiny.parent / "snap.xdmf"
    proc = fem("run", str(tiny), "-o", str(out), "--xdmf", str(snap), ranks=2)
    assert proc.returncode == 0, proc.stderr
    # progress from rank 0 only: one header, one line per step (10 steps, reported every step)
    assert len(re.findall(r"^fem: \d+ dofs", proc.stderr, re.M)) == 1, proc.stderr
    assert len(re.findall(r"^fem: step ", proc.stderr, re.M)) == 10, proc.stderr
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["out.h5", "snap.h5", "snap.xdmf", "tiny.yaml"]

    with h5py.File(out, "r") as f:
        xyz, t, v = f["receivers/xyz"], f["receivers/t"], f["receivers/velocity"]
        assert (xyz.shape, xyz.dtype) == ((5, 3), np.float64)
        assert (t.dtype, v.shape, v.dtype) == (np.float64, (5, 3, 6), np.float32)
        np.testing.assert_allclose(t[...], np.arange(6) * 0.02, atol=1e-12)
        a = dict(f.attrs)
        assert a["scenario"] == TINY and a["engine"] == "fem" and a["ranks"] == 2
        assert a["dofs"] > 0 and a["wall_seconds"] > 0 and a["version"]
        xyz, v = xyz[...], v[...]
    # grid stations at the cell centres of a 2x2 grid, on the ground surface
    np.testing.assert_allclose(xyz[:4, :2], [[10, 10], [30, 10], [10, 30], [30, 30]])
    assert np.abs(v[:, 0]).max() > 0.005   # the wave arrived (incident amplitude 0.01 m/s)

    with h5py.File(snap.with_suffix(".h5"), "r") as f:
        points, cells = f["mesh/points"][...], f["mesh/cells"][...]
        assert 3 * points.shape[0] == a["dofs"]
        assert sorted(f["snapshots/velocity"]) == ["00000", "00001", "00002"]   # t = 0, 0.05, 0.1 s
        first, last = f["snapshots/velocity/00000"][...], f["snapshots/velocity/00002"][...]
    assert not first.any()
    # the gathered wavefield, interpolated at the stations, is what the stations recorded at t = 0.1 s
    cell, xi = locate_points(points, cells, xyz)
    shape, _ = tet_shape(1, xi)
    at_stations = np.einsum("rk,rkc->rc", shape, last[cells[cell]])
    np.testing.assert_allclose(at_stations, v[:, :, -1], rtol=1e-5, atol=1e-6 * np.abs(v).max())
    assert '<Time Value="0.1"' in snap.read_text()


def test_snapshot_schedule():
    np.testing.assert_array_equal(snapshot_steps(0.05, 0.01, 10), [0, 5, 10])
    np.testing.assert_array_equal(snapshot_steps(0.03, 0.01, 10), [0, 3, 6, 9])
    np.testing.assert_array_equal(snapshot_steps(0.0, 0.01, 10), [10])   # unset: the final wavefield


def test_mesh_command_reports_counts_and_resolved_frequency(tiny: Path):
    xdmf = tiny.parent / "mesh.xdmf"
    proc = fem("mesh", str(tiny), "--xdmf", str(xdmf))
    assert proc.returncode == 0, proc.stderr
    head = re.search(r"order 1, (\d+) nodes, (\d+) tetrahedra, (\d+) dofs", proc.stdout)
    assert head, proc.stdout
    nodes, cells, dofs = map(int, head.groups())
    assert dofs == 3 * nodes and cells > nodes
    f = float(re.search(r"resolved frequency .*: ([\d.]+) Hz", proc.stdout).group(1))
    rows = re.findall(r"^\s+(\d)\s+(\d+)\s+([\d.]+).*?([\d.]+)$", proc.stdout, re.M)
    assert [int(r[0]) for r in rows] == [0, 1]
    assert sum(int(r[1]) for r in rows) == cells
    # the soft top layer limits the resolved frequency: f = min over layers
    assert f == pytest.approx(min(float(r[3]) for r in rows), abs=1e-3)
    assert float(rows[0][3]) < float(rows[1][3])
    with h5py.File(xdmf.with_suffix(".h5"), "r") as h5:
        assert h5["mesh/points"].shape == (nodes, 3) and h5["mesh/cells"].shape == (cells, 4)
        assert np.bincount(h5["mesh/layer"][...]).tolist() == [int(r[1]) for r in rows]


def test_saved_mesh_gives_the_same_run_and_a_stale_one_is_refused(tiny: Path):
    saved = tiny.parent / "mesh.npz"
    proc = fem("mesh", str(tiny), "--save", str(saved))
    assert proc.returncode == 0 and saved.is_file(), proc.stderr
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["mesh.npz", "tiny.yaml"]   # no temporary left
    fresh, reused = tiny.parent / "fresh.h5", tiny.parent / "reused.h5"
    assert fem("run", str(tiny), "-o", str(fresh), "--quiet", ranks=2).returncode == 0
    proc = fem("run", str(tiny), "-o", str(reused), "--quiet", "--mesh", str(saved), ranks=2)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(fresh, "r") as a, h5py.File(reused, "r") as b:
        np.testing.assert_array_equal(a["receivers/velocity"][...], b["receivers/velocity"][...])
        assert a.attrs["dofs"] == b.attrs["dofs"]
    # the same mesh file for a model with another boundary: refused before any step, nothing written
    other = tiny.parent / "other.yaml"
    other.write_text(TINY.replace("elevation: -12.0", "elevation: -14.0"))
    stale = tiny.parent / "stale.h5"
    proc = fem("run", str(other), "-o", str(stale), "--mesh", str(saved), ranks=2)
    assert proc.returncode == 2 and not stale.exists()
    assert error_lines(proc.stderr) == [f"error: {other}: mesh file {saved} was made for another model or mesh "
                                        f"setting; remake it with `python -m fem mesh SCENARIO --save {saved}`"]


BAD = {
    "unknown key": (("mesh: {order: 1,", "mesh: {order: 1, colour: red,"), "unknown key 'colour'"),
    "missing key": (("time: {duration: 0.1, dt: 0.01}\n", ""), "missing key 'time'"),
    "crossing layers": (("elevation: -12.0", "elevation: [[-12.0, -12.0], [-12.0, 5.0]]"), "crosses"),
    "too-thin layer": (("elevation: -12.0", "elevation: -29.5"), "too thin"),
    "vs <= 0": (("vs: 250.0", "vs: 0.0"), "vs and rho must be positive"),
    "vp too small": (("vp: 1500.0", "vp: 800.0"), "sqrt(4/3)"),
    "surface below z_bottom": (("elevation: -12.0", "elevation: -31.0"), "'b12' crosses 'z_bottom'"),
    "station outside the box": (("[[20.0, 20.0]]", "[[20.0, 45.0]]"), "outside the box"),
    "bad yaml": (("layers:\n", "layers: [\n"), "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenarios_exit_nonzero_with_one_line(case: str, tmp_path: Path, capsys):
    (old, new), message = BAD[case]
    assert old in TINY
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace(old, new, 1))
    out = tmp_path / "out.h5"
    assert main(["run", str(path), "-o", str(out)]) == 2
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert not out.exists() and captured.out == ""


def test_missing_file_and_bad_yaml_through_the_interpreter(tmp_path: Path):
    out = tmp_path / "out.h5"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    for scenario, message in ((tmp_path / "nope.yaml", "no such scenario file"), (bad, "not valid YAML")):
        proc = fem("run", str(scenario), "-o", str(out))
        lines = error_lines(proc.stderr)
        assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert not out.exists()


def test_solver_failure_stops_every_rank(tiny: Path):
    # one CG iteration cannot reach 1e-12: every rank raises together, rank 0 says why
    tiny.write_text(TINY + "solver: {rtol: 1.0e-12, max_iterations: 1}\n")
    out = tiny.parent / "out.h5"
    proc = fem("run", str(tiny), "-o", str(out), "--quiet", ranks=2)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 1 and len(lines) == 1 and "CG did not converge" in lines[0], proc.stderr
    assert not out.exists()


def test_failure_on_one_rank_aborts_instead_of_hanging(tiny: Path):
    # only rank 0 writes the snapshots; it fails (the folder is a file) while rank 1 waits
    blocker = tiny.parent / "blocker"
    blocker.write_text("")
    out = tiny.parent / "out.h5"
    proc = fem("run", str(tiny), "-o", str(out), "--quiet", "--xdmf", str(blocker / "snap.xdmf"), ranks=2)
    assert proc.returncode != 0
    assert "error (rank 0 of 2)" in proc.stderr, proc.stderr
    assert not out.exists()
