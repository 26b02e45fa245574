"""Failures caught on every rank together: non-finite values on one rank only, or a CG that does not
converge, raise the same error on every rank at the same step (no rank left waiting in a collective:
a hang fails tests/test_mpi_suites.py by its timeout), and no result file is written.

Run with `mpiexec -n N python -m pytest -q -p no:cacheprovider tests/mpi/test_fem_failures.py`
(tests/test_mpi_suites.py does so for N = 1, 2, 3). The tiny model of tests/test_fem_cli.py.
"""
import os
import shutil
import tempfile

import numpy as np
import pytest
from mpi4py import MPI

from fem.loads import LoadHistory
from fem.run import SolverError, run_scenario
from fem.scenario import parse_scenario
from hpc.krylov import pcg
from tests.test_fem_cli import TINY


@pytest.fixture
def shared_dir():
    """A folder every rank sees (made by rank 0), removed after the test."""
    comm = MPI.COMM_WORLD
    path = comm.bcast(tempfile.mkdtemp(prefix="fem-failures-") if comm.rank == 0 else None, root=0)
    yield path
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


def run_and_collect(text: str, folder: str) -> list[str]:
    """run_scenario on COMM_WORLD; every rank's SolverError message (or None), gathered to every rank."""
    comm = MPI.COMM_WORLD
    try:
        run_scenario(parse_scenario(text), os.path.join(folder, "out.h5"), comm, progress=False)
        message = None
    except SolverError as err:
        message = str(err)
    return comm.allgather(message)


def test_nan_on_the_last_rank_stops_every_rank_at_that_step(shared_dir, monkeypatch):
    comm = MPI.COMM_WORLD
    real = LoadHistory.force

    def force(self, k):   # the last rank's load only: the others learn of it through the reductions
        f = real(self, k)
        return f + np.nan if k >= 5 and comm.rank == comm.size - 1 else f

    monkeypatch.setattr(LoadHistory, "force", force)
    messages = run_and_collect(TINY, shared_dir)
    assert len(set(messages)) == 1 and messages[0] is not None, messages
    assert messages[0].startswith("step 5 (t = 0.05 s): ") and "non-finite" in messages[0], messages
    comm.Barrier()
    assert os.listdir(shared_dir) == []


def test_cg_not_converging_stops_every_rank(shared_dir):
    comm = MPI.COMM_WORLD
    messages = run_and_collect(TINY + "solver: {rtol: 1.0e-12, max_iterations: 1}\n", shared_dir)
    assert len(set(messages)) == 1 and messages[0] is not None, messages
    assert messages[0].startswith("step 1 (t = 0.01 s): CG did not converge in 1 iterations"), messages
    comm.Barrier()
    assert os.listdir(shared_dir) == []


def test_the_run_still_succeeds_afterwards(shared_dir):
    # the communicator is in a clean state after the failures above: a good run completes
    comm = MPI.COMM_WORLD
    assert run_and_collect(TINY, shared_dir) == [None] * comm.size
    comm.Barrier()
    assert os.listdir(shared_dir) == ["out.h5"]


def test_pcg_raises_on_every_rank_when_one_rank_holds_nan():
    # a block-diagonal SPD system, one block per rank: no halo, the reductions couple the ranks
    comm = MPI.COMM_WORLD
    rng = np.random.default_rng(comm.rank)
    q = rng.standard_normal((12, 12))
    a = q @ q.T + 12 * np.eye(12)
    b = rng.standard_normal(12)
    if comm.rank == comm.size - 1:
        b[3] = np.nan
    try:
        pcg(lambda v: a @ v, b, np.zeros_like(b), 1.0 / np.diag(a), comm=comm, n_owned_dofs=b.size)
        message = None
    except ValueError as err:
        message = str(err)
    messages = comm.allgather(message)
    assert messages == ["CG: non-finite right-hand side or initial guess"] * comm.size, messages
