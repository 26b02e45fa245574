"""Failures caught in the single-scenario run (`python -m fem run S.yaml -o R.h5`, issue #13 item 4).

Non-finite values or a CG that does not converge stop the run on every rank with one line
(from rank 0) naming the scenario, the step, its time and the cause; exit status 1; no result
file, no temporary file and no snapshots are left. A scenario cannot make the system non-finite
(validation refuses such models), so NaN and inf are injected into the load at a chosen step:
in-process by a monkeypatch, under `mpiexec -n 2` by a wrapper around fem.cli.main that poisons
the load on one rank only (the other rank must learn of it through the CG's reductions, not hang).
The tiny model of tests/test_fem_cli.py: ~1.2k dofs, 10 steps.
"""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from fem.cli import main
from fem.loads import LoadHistory
from fem.run import SolverError, run_scenario
from fem.scenario import parse_scenario
from hpc.krylov import pcg
from tests.test_fem_cli import ENV, TINY, error_lines
from tests.test_mpi_suites import mpiexec

ROOT = Path(__file__).resolve().parents[1]
STEP_LINE = re.compile(r"^error: (?P<path>\S+): step (?P<step>\d+) \(t = (?P<t>[0-9.e+-]+) s\): (?P<why>.+)$")


def poison_load(monkeypatch, from_step: int, value: float = np.nan) -> None:
    """The load (every case, every rank of this process) turns into `value` from step from_step on."""
    real = LoadHistory.force

    def force(self, k):
        f = real(self, k)
        return np.full_like(f, value) if k >= from_step else f

    monkeypatch.setattr(LoadHistory, "force", force)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_load_stops_the_run_with_one_line_and_no_files(tiny: Path, monkeypatch, capsys, value):
    poison_load(monkeypatch, from_step=4, value=value)
    out, snap = tiny.parent / "out.h5", tiny.parent / "snap.xdmf"
    assert main(["run", str(tiny), "-o", str(out), "--xdmf", str(snap), "--quiet"]) == 1
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1, captured.err
    match = STEP_LINE.match(lines[0])
    assert match and match["path"] == str(tiny), lines
    assert (int(match["step"]), float(match["t"])) == (4, 0.04)
    assert "non-finite" in match["why"], lines
    # neither the result (nor its temporary) nor the snapshots: only the scenario is left
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["tiny.yaml"]
    assert captured.out == ""


def test_run_scenario_raises_solver_error_naming_the_step(tiny: Path, monkeypatch):
    poison_load(monkeypatch, from_step=10)   # the last step: nothing after it would catch it
    out = tiny.parent / "out.h5"
    with pytest.raises(SolverError, match=r"^step 10 \(t = 0\.1 s\): non-finite"):
        run_scenario(parse_scenario(TINY), str(out), MPI.COMM_SELF, progress=False)
    assert not out.exists()


def test_cg_not_converging_stops_the_run(tiny: Path, capsys):
    tiny.write_text(TINY + "solver: {rtol: 1.0e-12, max_iterations: 1}\n")
    out = tiny.parent / "out.h5"
    assert main(["run", str(tiny), "-o", str(out), "--quiet"]) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    match = STEP_LINE.match(lines[0])
    assert match and (int(match["step"]), float(match["t"])) == (1, 0.01), lines
    assert re.fullmatch(r"CG did not converge in 1 iterations \(relative residual \d\.\d\de[+-]\d+\)",
                        match["why"]), lines
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["tiny.yaml"]


WRAPPER = textwrap.dedent("""\
    import sys
    import numpy as np
    from mpi4py import MPI
    from fem.loads import LoadHistory
    real = LoadHistory.force
    def force(self, k):   # NaN on the last rank only, from step 6 on
        f = real(self, k)
        return f + np.nan if k >= 6 and MPI.COMM_WORLD.rank == MPI.COMM_WORLD.size - 1 else f
    LoadHistory.force = force
    from fem.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_nan_on_one_rank_stops_every_rank_without_hanging(tiny: Path):
    wrapper = tiny.parent / "poisoned_fem.py"
    wrapper.write_text(WRAPPER)
    out = tiny.parent / "out.h5"
    cmd = [mpiexec(), "-n", "2", sys.executable, str(wrapper), "run", str(tiny), "-o", str(out)]
    # a rank left waiting in a collective would hang: the timeout fails the test instead
    proc = subprocess.run(cmd, env=dict(ENV, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in error_lines(proc.stderr) if not line.startswith("fem: ")]  # progress: rank 0
    assert len(errors) == 1, proc.stderr
    match = STEP_LINE.match(errors[0])
    assert match and int(match["step"]) == 6 and "non-finite" in match["why"], proc.stderr
    # the progress stopped at the failing step
    assert re.findall(r"^fem: step (\d+)/", proc.stderr, re.M)[-1] == "6", proc.stderr
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["poisoned_fem.py", "tiny.yaml"]


def spd_system(n: int = 30):
    rng = np.random.default_rng(3)
    q = rng.standard_normal((n, n))
    a = q @ q.T + n * np.eye(n)
    return a, rng.standard_normal(n)


@pytest.mark.parametrize("where", ["rhs", "guess"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_pcg_refuses_non_finite_input(where, value):
    a, b = spd_system()
    x0 = np.zeros_like(b)
    (b if where == "rhs" else x0)[7] = value
    with pytest.raises(ValueError, match="non-finite right-hand side or initial guess"):
        pcg(lambda v: a @ v, b, x0, 1.0 / np.diag(a), comm=MPI.COMM_SELF, n_owned_dofs=b.size)


def test_pcg_refuses_an_operator_that_turns_non_finite():
    a, b = spd_system()
    calls = [0]

    def apply(v):   # finite for r0 = b - A x0, NaN from the first iteration on
        calls[0] += 1
        return a @ v if calls[0] == 1 else np.full_like(v, np.nan)

    with pytest.raises(ValueError, match="CG breakdown at iteration 1: p.Ap = nan"):
        pcg(apply, b, np.zeros_like(b), 1.0 / np.diag(a), comm=MPI.COMM_SELF, n_owned_dofs=b.size)


def test_pcg_non_convergence_reports_a_finite_residual():
    a, b = spd_system()
    res = pcg(lambda v: a @ v, b, np.zeros_like(b), 1.0 / np.diag(a), comm=MPI.COMM_SELF,
              n_owned_dofs=b.size, rtol=1e-14, max_iter=1)
    assert res.iterations == 1 and np.isfinite(res.relative_residual) and res.relative_residual > 1e-14
