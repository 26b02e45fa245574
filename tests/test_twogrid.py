"""hpc.twogrid on one rank: aggregation, the lambda_max estimate, SPD, batch invariance, CG.

The system is a Newmark step matrix M + beta dt^2 K of a two-layer box of
order-1 tetrahedra (soft over stiff, 8 m cells): at dt = 0.05 s the stiffness
dominates the diagonal in the stiff layer, the case where block-Jacobi leaves
smooth modes behind.
"""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from mpi4py import MPI

from fem.assembly import assemble, mass_matrices, stiffness_matrices
from fem.box_mesh import box_mesh
from hpc.batched import BatchedMatrix, BlockJacobi
from hpc.batched_cg import pcg_batched
from hpc.halo import Halo
from hpc.layout import local_layout
from hpc.twogrid import TwoGrid, standard_aggregation

VS = np.array([200.0, 900.0])     #: m/s, top and bottom layer
VP = np.array([500.0, 1800.0])    #: m/s
RHO = np.array([1700.0, 2100.0])  #: kg/m^3
MESH = box_mesh([[0.0, 40.0], [0.0, 40.0], [-48.0, 0.0]], (5, 5, 6), order=1, interfaces=[-16.0])


def step_matrix(dt: float) -> sp.csr_matrix:
    """M + beta dt^2 K (beta = 1/4) of MESH, (3 n_nodes)^2."""
    layer = MESH.layer
    mu, lam = RHO * VS**2, RHO * (VP**2 - 2 * VS**2)
    n = MESH.points.shape[0]
    K = assemble(MESH.cells, stiffness_matrices(MESH.points, MESH.cells, lam[layer], mu[layer]), n)
    M = assemble(MESH.cells, mass_matrices(MESH.points, MESH.cells, RHO[layer]), n)
    return (M + 0.25 * dt**2 * K).tocsr()


def batch(dts: list[float]) -> BatchedMatrix:
    n = MESH.points.shape[0]
    layout = local_layout(MESH.cells, np.zeros(MESH.cells.shape[0], dtype=np.int32), 0, n)
    return BatchedMatrix([step_matrix(dt) for dt in dts], Halo.from_layout(MPI.COMM_SELF, layout, 3))


def dense_preconditioner(pc: TwoGrid, case: int, n: int) -> np.ndarray:
    """(n, n) B of one case, column by column."""
    columns = np.eye(n)
    out = np.zeros((pc.matrix.n_cases, n))
    result = np.zeros((n, n))
    for j in range(n):
        r = np.zeros((pc.matrix.n_cases, n))
        r[case] = columns[j]
        pc.apply(r, out, np.array([case]))
        result[:, j] = out[case]
    return result


def test_standard_aggregation_of_a_chain():
    # roots 0, 3, 6 take their neighbours; node 8 joins its neighbour 7's aggregate
    chain = sp.diags([np.ones(8), np.ones(8)], [-1, 1], shape=(9, 9), format="csr")
    aggregate, count = standard_aggregation(chain)
    assert count == 3
    assert aggregate.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2]


def test_lambda_max_estimate_is_just_below_the_largest_eigenvalue():
    A = batch([0.05])
    pc = TwoGrid(A)
    D = sp.block_diag(list(A.block_diagonal()[0])).tocsc()
    exact = spla.eigsh(step_matrix(0.05).tocsc(), k=1, M=D, which="LA", return_eigenvectors=False)[0]
    assert 0.97 * exact <= pc.lambda_max[0] <= exact * (1 + 1e-10)


def test_preconditioner_is_spd_and_equals_the_two_grid_formula():
    A = batch([0.05])
    pc = TwoGrid(A)
    n = A.n_local_dofs
    B = dense_preconditioner(pc, 0, n)
    scale = np.abs(B).max()
    assert np.abs(B - B.T).max() <= 1e-13 * scale
    assert np.linalg.eigvalsh((B + B.T) / 2).min() > 0.0

    # B = (2S - SAS) + (I - SA) Q (I - AS), S = omega D^-1, Q = P (P^T A P)^-1 P^T, P from the aggregates
    Ad = step_matrix(0.05).toarray()
    S = pc.omega[0] * np.linalg.inv(sp.block_diag(list(A.block_diagonal()[0])).toarray())
    graph = sp.csr_matrix(sp.kron(sp.eye(MESH.points.shape[0]), np.ones((1, 3)))
                          @ (step_matrix(0.05) != 0) @ sp.kron(sp.eye(MESH.points.shape[0]), np.ones((3, 1))))
    graph.setdiag(0)
    graph.eliminate_zeros()
    aggregate, count = standard_aggregation(graph)
    P = np.kron(np.eye(count)[aggregate], np.eye(3))
    Q = P @ np.linalg.solve(P.T @ Ad @ P, P.T)
    G = np.eye(n) - S @ Ad
    reference = 2 * S - S @ Ad @ S + G @ Q @ G.T
    assert np.abs(B - reference).max() <= 1e-10 * scale


def test_a_batch_of_three_equals_each_case_alone():
    dts = [0.01, 0.03, 0.05]
    together = TwoGrid(batch(dts))
    r = np.random.default_rng(1).standard_normal((3, together.matrix.n_local_dofs))
    z = np.full_like(r, 7.0)
    together.apply(r, z, np.array([0, 2]))
    assert np.all(z[1] == 7.0)   # a case not asked for is left alone
    together.apply(r, z, np.arange(3))
    for c, dt in enumerate(dts):
        alone = TwoGrid(batch([dt]))
        assert alone.lambda_max[0] == together.lambda_max[c]
        z_alone = np.zeros((1, r.shape[1]))
        alone.apply(r[c:c + 1], z_alone, np.array([0]))
        np.testing.assert_array_equal(z_alone[0], z[c])


@pytest.mark.parametrize("dt", [0.02, 0.05])
def test_cg_reaches_the_block_jacobi_solution_in_fewer_iterations(dt):
    A = batch([dt])
    b = A.matvec(np.random.default_rng(2).standard_normal((1, A.n_local_dofs)))
    x0 = np.zeros_like(b)
    cases = np.array([0])
    jacobi = pcg_batched(A, b, x0, BlockJacobi(A), cases, rtol=1e-10)
    two_grid = pcg_batched(A, b, x0, TwoGrid(A), cases, rtol=1e-10)
    direct = spla.spsolve(step_matrix(dt).tocsc(), b[0])
    assert not jacobi.failed and not two_grid.failed
    for result in (jacobi, two_grid):
        assert np.abs(result.x[0] - direct).max() <= 1e-8 * np.abs(direct).max()
    assert two_grid.iterations[0] <= jacobi.iterations[0] / 2


def test_damping_must_keep_the_smoother_convergent():
    with pytest.raises(ValueError, match="damping"):
        TwoGrid(batch([0.05]), damping=1.0)
