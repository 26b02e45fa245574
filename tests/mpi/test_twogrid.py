"""hpc.twogrid across ranks: the completed owned block, symmetry and positivity, CG, batch invariance.

Run with `mpiexec -n N python -m pytest -q -p no:cacheprovider tests/mpi/test_twogrid.py`
(tests/test_mpi_suites.py does so for N = 1, 2, 3). The system and the
partitions (METIS, random cell by cell, one that leaves the last rank empty)
are those of tests/mpi/test_hpc_parallel.py. The coarse solve is rank-local,
so the preconditioner changes with the rank count; what must not change is
that it is symmetric positive definite, that CG reaches the direct solution,
and that it needs fewer iterations than block-Jacobi.
"""
import numpy as np
import pytest
import scipy.sparse.linalg as spla
from mpi4py import MPI

from hpc.batched import BatchedMatrix, BlockJacobi
from hpc.batched_cg import pcg_batched
from hpc.twogrid import TwoGrid, _local_matrix, _owned_block
from tests.mpi.test_hpc_parallel import CELLS, KE, N_NODES, PARTS, assemble_matrix, local_dofs, setup

#: per-cell factors of the stiffness of each case: one pattern, different values
FACTORS = [np.ones(CELLS.shape[0]), 1.0 + np.arange(CELLS.shape[0]) % 3]


def case_matrices(cells: np.ndarray, cell_ids: np.ndarray, n_nodes: int, cases) -> list:
    return [assemble_matrix(cells, KE[cell_ids] * FACTORS[c][cell_ids, None, None], n_nodes) for c in cases]


def batched(comm, kind: str, cases=(0,)):
    """(layout, BatchedMatrix of the listed cases, their global matrices)."""
    layout, halo = setup(comm, kind)
    local = case_matrices(layout.local_cells, layout.cells, layout.n_local, cases)
    every = np.arange(CELLS.shape[0])
    return layout, BatchedMatrix(local, halo), case_matrices(CELLS, every, N_NODES, cases)


def global_dot(comm, A: BatchedMatrix, u: np.ndarray, v: np.ndarray) -> float:
    n = A.n_owned_dofs
    return comm.allreduce(float(np.dot(u[:n], v[:n])))


@pytest.mark.parametrize("kind", PARTS)
def test_owned_block_is_the_global_matrix_on_owned_dofs(kind):
    comm = MPI.COMM_WORLD
    layout, A, global_matrices = batched(comm, kind, cases=(0, 1))
    owned = local_dofs(layout)[:A.n_owned_dofs]
    blocks = _owned_block([_local_matrix(A.stack, c) for c in range(A.n_cases)], A.halo)
    for block, reference in zip(blocks, global_matrices):
        expected = reference[owned][:, owned].toarray()
        assert np.abs(block.toarray() - expected).max(initial=0.0) <= 1e-12 * np.abs(reference).max()


@pytest.mark.parametrize("kind", PARTS)
def test_preconditioner_is_symmetric_positive_definite_and_complete(kind):
    comm = MPI.COMM_WORLD
    layout, A, _ = batched(comm, kind)
    pc = TwoGrid(A)
    dofs = local_dofs(layout)
    vectors = np.random.default_rng(5).standard_normal((3, 3 * N_NODES))
    images = []
    for v in vectors:
        z = np.zeros((1, A.n_local_dofs))
        pc.apply(v[dofs][None, :], z, np.array([0]))
        complete = z[0].copy()
        A.halo.forward(complete)
        assert np.array_equal(complete, z[0])
        images.append(z[0])
    for i in range(3):
        assert global_dot(comm, A, vectors[i][dofs], images[i]) > 0.0
        for j in range(i):
            ij = global_dot(comm, A, vectors[i][dofs], images[j])
            ji = global_dot(comm, A, vectors[j][dofs], images[i])
            assert abs(ij - ji) <= 1e-12 * abs(ij)


@pytest.mark.parametrize("kind", PARTS)
def test_cg_reaches_the_direct_solution_in_fewer_iterations_than_block_jacobi(kind):
    comm = MPI.COMM_WORLD
    layout, A, (A_global,) = batched(comm, kind)
    dofs = local_dofs(layout)
    b_global = A_global @ np.random.default_rng(7).standard_normal(A_global.shape[0])
    b = b_global[dofs][None, :]
    x0 = np.zeros_like(b)
    cases = np.array([0])
    jacobi = pcg_batched(A, b, x0, BlockJacobi(A), cases, rtol=1e-10)
    two_grid = pcg_batched(A, b, x0, TwoGrid(A), cases, rtol=1e-10)
    direct = spla.spsolve(A_global.tocsc(), b_global)
    for result in (jacobi, two_grid):
        assert not result.failed
        error = comm.allreduce(np.abs(result.x[0] - direct[dofs]).max(initial=0.0), op=MPI.MAX)
        assert error <= 1e-8 * np.abs(direct).max()
    assert comm.allgather(int(two_grid.iterations[0])) == [int(two_grid.iterations[0])] * comm.Get_size()
    if comm.Get_rank() == 0:
        print(f"\n{kind} on {comm.Get_size()} ranks: CG iterations block-Jacobi {jacobi.iterations[0]}, "
              f"two-grid {two_grid.iterations[0]}")
    assert two_grid.iterations[0] < jacobi.iterations[0]


def test_a_batch_equals_each_case_alone():
    comm = MPI.COMM_WORLD
    layout, A, _ = batched(comm, "metis", cases=(0, 1))
    together = TwoGrid(A)
    r = np.ascontiguousarray(np.random.default_rng(9).standard_normal((2, 3 * N_NODES))[:, local_dofs(layout)])
    z = np.zeros_like(r)
    together.apply(r, z, np.arange(2))
    for c in range(2):
        _, alone_matrix, _ = batched(comm, "metis", cases=(c,))
        alone = TwoGrid(alone_matrix)
        z_alone = np.zeros((1, r.shape[1]))
        alone.apply(r[c:c + 1], z_alone, np.array([0]))
        np.testing.assert_array_equal(z_alone[0], z[c])
