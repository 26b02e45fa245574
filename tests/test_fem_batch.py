"""The multi-case FEM: a batch equals its cases run alone; failures stay with their case; many files per process."""
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from mpi4py import MPI

import fem.batch as batch
from fem.batch import simulate_batch
from fem.loads import LoadHistory
from fem.run import mesh_for
from tests.fem_cases import layered_plane_wave

LAYERS = [
    [{"vp": 600.0, "vs": 250.0, "rho": 1800.0, "damping": 0.02}, {"vp": 1500.0, "vs": 700.0, "rho": 2000.0}],
    [{"vp": 700.0, "vs": 300.0, "rho": 1700.0, "damping": 0.03}, {"vp": 1400.0, "vs": 650.0, "rho": 2100.0}],
    [{"vp": 550.0, "vs": 220.0, "rho": 1850.0, "damping": 0.01}, {"vp": 1800.0, "vs": 800.0, "rho": 2200.0}],
]


def scenarios(**kw):
    """Three ground models on one mesh: the same geometry, different layer properties."""
    return [layered_plane_wave("x", layers, [0.0, -12.0], f_max=3.0, f0=2.0, duration=0.6, dt=0.01, box=40.0,
                               z_bottom=-30.0, n=3.0, order=1, rtol=1e-8, **kw) for layers in LAYERS]


@pytest.fixture(scope="module")
def cases():
    sc = scenarios()
    mesh = mesh_for(sc[0], MPI.COMM_SELF)
    return sc, mesh


def test_batch_equals_each_case_alone(cases):
    sc, mesh = cases
    together, _ = simulate_batch(sc, [mesh] * 3, MPI.COMM_SELF)
    for scenario, outcome in zip(sc, together):
        (alone,), _ = simulate_batch([scenario], [mesh], MPI.COMM_SELF)
        assert outcome.error is None and alone.error is None
        scale = np.abs(alone.velocity).max()
        assert scale > 1e-4                                     # the wave arrived at the stations
        assert np.abs(outcome.velocity - alone.velocity).max() <= 1e-10 * scale
        np.testing.assert_array_equal(outcome.cg_iterations, alone.cg_iterations)
    # the cases really differ: per-case matrices, loads and CG scalars
    assert np.abs(together[0].velocity - together[1].velocity).max() > 0.05 * np.abs(together[0].velocity).max()


def test_projection_predictor_needs_fewer_iterations_than_extrapolation(cases):
    sc, mesh = cases
    polynomial = replace(sc[0], solver=replace(sc[0].solver, predictor="polynomial"))
    (proj,), _ = simulate_batch([sc[0]], [mesh], MPI.COMM_SELF)
    (poly,), _ = simulate_batch([polynomial], [mesh], MPI.COMM_SELF)
    # the same answer to the CG tolerance, reached with fewer iterations
    assert np.abs(proj.velocity - poly.velocity).max() <= 1e-6 * np.abs(poly.velocity).max()
    assert proj.cg_iterations[5:].mean() < 0.9 * poly.cg_iterations[5:].mean()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_failing_case_stops_alone(cases, monkeypatch, backend):
    sc, mesh = cases
    real = batch._case_system

    def poisoned(scenario, *args):
        system, load, sampler = real(scenario, *args)
        if scenario is sc[1]:
            series = load.series.copy()
            series[:, 20:] = np.nan
            load = LoadHistory(load.pattern, series)
        return system, load, sampler

    monkeypatch.setattr(batch, "_case_system", poisoned)
    outcomes, _ = simulate_batch(sc, [mesh] * 3, MPI.COMM_SELF, backend=backend)
    monkeypatch.setattr(batch, "_case_system", real)
    assert outcomes[1].velocity is None
    assert outcomes[1].error.startswith("step 20 ") and "non-finite" in outcomes[1].error
    for c in (0, 2):
        (alone,), _ = simulate_batch([sc[c]], [mesh], MPI.COMM_SELF)   # numpy
        assert outcomes[c].error is None
        scale = np.abs(alone.velocity).max()
        assert np.abs(outcomes[c].velocity - alone.velocity).max() <= 1e-10 * scale


def test_output_dir_writes_what_dash_o_writes(cases, tmp_path):
    sc, mesh = cases
    files = []
    for i, scenario in enumerate(sc[:2]):
        files.append(tmp_path / f"m{i}.yaml")
        files[-1].write_text(scenario.text)
    (tmp_path / "bad.yaml").write_text("model: [\n")
    stiff = tmp_path / "stiff.yaml"   # CG capped at one iteration per step: fails at run time
    stiff.write_text(sc[2].text.replace("solver: {rtol: 1e-08}", "solver: {rtol: 1e-08, max_iterations: 1}"))
    run = lambda *args: subprocess.run([sys.executable, "-m", "fem", "run", *map(str, args), "--quiet"],
                                       capture_output=True, text=True, timeout=600)
    many = run(files[0], tmp_path / "bad.yaml", stiff, files[1], "--output-dir", tmp_path / "out")
    assert many.returncode == 2, many.stderr
    lines = many.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"error: {tmp_path / 'bad.yaml'}: ")
    assert lines[1].startswith(f"error: {stiff}: step 1 ") and "did not converge" in lines[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m0.h5", "m1.h5"]
    for f in files:
        one = run(f, "-o", tmp_path / f"{f.stem}.h5")
        assert one.returncode == 0, one.stderr
        with h5py.File(tmp_path / "out" / f"{f.stem}.h5") as a, h5py.File(tmp_path / f"{f.stem}.h5") as b:
            np.testing.assert_array_equal(a["receivers/velocity"][:], b["receivers/velocity"][:])
            np.testing.assert_array_equal(a["receivers/xyz"][:], b["receivers/xyz"][:])
            assert a.attrs["scenario"] == b.attrs["scenario"] and a.attrs["engine"] == "fem"
            assert (a.attrs["batch"], b.attrs["batch"]) == (2, 1)
    clash = run(files[0], files[0], "--output-dir", tmp_path / "clash")
    assert clash.returncode == 2 and "share the name" in clash.stderr
    assert run(files[0], files[1], "-o", tmp_path / "x.h5").returncode == 2   # argparse: -o takes one


def test_cases_of_other_time_steps_run_in_their_own_batch(cases, tmp_path):
    sc, _ = cases
    texts = [sc[0].text, sc[1].text.replace("dt: 0.01", "dt: 0.005")]
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"c{i}.yaml")
        paths[-1].write_text(text)
    proc = subprocess.run([sys.executable, "-m", "fem", "run", *map(str, paths), "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "cases together" not in proc.stderr
    for p in paths:
        with h5py.File(p.with_suffix(".h5")) as f:
            assert f.attrs["batch"] == 1


def test_two_grid_preconditioner_in_the_time_loop(cases):
    sc, mesh = cases
    two_grid = [replace(s, solver=replace(s.solver, preconditioner="two_grid")) for s in sc]
    together, _ = simulate_batch(two_grid, [mesh] * 3, MPI.COMM_SELF)
    for c in range(3):
        (alone,), _ = simulate_batch([two_grid[c]], [mesh], MPI.COMM_SELF)
        (jacobi,), _ = simulate_batch([sc[c]], [mesh], MPI.COMM_SELF)
        np.testing.assert_array_equal(together[c].velocity, alone.velocity)
        # the same answer to the CG tolerance, in fewer iterations
        assert np.abs(alone.velocity - jacobi.velocity).max() <= 1e-6 * np.abs(jacobi.velocity).max()
        assert alone.cg_iterations.mean() < 0.7 * jacobi.cg_iterations.mean()
