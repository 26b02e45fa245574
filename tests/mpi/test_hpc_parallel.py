"""MPI checks of hpc/: halo exchange, distributed matvec and dot, PCG, gather.

Run with `mpiexec -n N python -m pytest -q -p no:cacheprovider tests/mpi/test_hpc_parallel.py`
for N = 1, 2, 3. Every rank builds the same small global problem (an
elasticity-like mass + stiffness system on a jittered box of tetrahedra), so
each distributed result is compared with the serial global computation on
the same rank. The partitions include METIS, a random cell-by-cell split (nodes
shared by three ranks, many neighbours) and one that leaves the last rank empty.
"""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from mpi4py import MPI

from hpc import (DistributedMatrix, Halo, block_jacobi, dot, gather_global, jacobi,
                 local_layout, partition_cells, pcg)
from tests.kuhn_box import kuhn_tets

SHAPE = (8, 7, 6)   # hexahedra along x, y, z; 6 tets each
BLOCK = 3           # dofs per node, interleaved: dof = 3*node + component


def box_mesh(nx: int, ny: int, nz: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_nodes, 3) jittered grid points, m, and (6*nx*ny*nz, 4) Kuhn tets."""
    gx, gy, gz = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), np.arange(nz + 1), indexing="ij")
    points = np.stack([gx.ravel("F"), gy.ravel("F"), gz.ravel("F")], axis=1).astype(float)
    points += 0.05 * np.random.default_rng(1).uniform(-1, 1, points.shape)
    return points, kuhn_tets(nx, ny, nz)


def element_matrices(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(n_cells, 12, 12) SPD element matrices: vector Laplacian + random component coupling + mass."""
    p = points[cells]
    edges = p[:, 1:] - p[:, :1]
    volume = np.abs(np.linalg.det(edges)) / 6.0
    g = np.linalg.inv(edges).transpose(0, 2, 1)            # rows: gradients of barycentrics 1..3
    grads = np.concatenate([-g.sum(axis=1, keepdims=True), g], axis=1)
    laplace = volume[:, None, None] * grads @ grads.transpose(0, 2, 1)
    stiffness = np.einsum("nab,cd->nacbd", laplace, np.eye(3)).reshape(-1, 12, 12)
    b = np.random.default_rng(2).normal(size=(cells.shape[0], 12, 12))
    coupling = 0.05 * volume[:, None, None] * b @ b.transpose(0, 2, 1) / 12
    mass = np.kron((np.ones((4, 4)) + np.eye(4)) / 20.0, np.eye(3)) * volume[:, None, None]
    return stiffness + coupling + 0.1 * mass


def cell_dofs(cells: np.ndarray) -> np.ndarray:
    """(n_cells, 4*BLOCK) dofs of each cell, node-major."""
    return (BLOCK * cells[:, :, None] + np.arange(BLOCK)).reshape(cells.shape[0], BLOCK * cells.shape[1])


def assemble_matrix(cells, ke, n_nodes) -> sp.csr_matrix:
    dofs = cell_dofs(cells)
    rows = np.repeat(dofs, dofs.shape[1], axis=1).ravel()
    cols = np.tile(dofs, (1, dofs.shape[1])).ravel()
    n = BLOCK * n_nodes
    return sp.coo_matrix((ke.ravel(), (rows, cols)), shape=(n, n)).tocsr()


def assemble_vector(cells, fe, n_nodes) -> np.ndarray:
    f = np.bincount(cell_dofs(cells).ravel(), weights=fe.ravel(), minlength=BLOCK * n_nodes)
    return f.astype(np.float64)  # an empty rank gets int64 zeros from bincount


POINTS, CELLS = box_mesh(*SHAPE)
N_NODES = POINTS.shape[0]
KE = element_matrices(POINTS, CELLS)
A_GLOBAL = assemble_matrix(CELLS, KE, N_NODES)


def make_part(kind: str, size: int) -> np.ndarray:
    if kind == "metis":
        return partition_cells(CELLS, size)
    if kind == "random":
        return np.random.default_rng(3).integers(0, size, CELLS.shape[0]).astype(np.int32)
    # "empty_last": the last rank gets no cell when there are several ranks
    return partition_cells(CELLS, max(size - 1, 1))


def setup(comm, kind: str = "metis", block: int = BLOCK):
    part = make_part(kind, comm.Get_size())
    layout = local_layout(CELLS, part, comm.Get_rank(), n_nodes=N_NODES)
    return layout, Halo.from_layout(comm, layout, block)


def local_dofs(layout) -> np.ndarray:
    return (BLOCK * layout.nodes[:, None] + np.arange(BLOCK)).ravel()


def distributed_matrix(comm, kind="metis"):
    layout, halo = setup(comm, kind)
    local = assemble_matrix(layout.local_cells, KE[layout.cells], layout.n_local)
    return layout, DistributedMatrix(local, halo)


PARTS = ["metis", "random", "empty_last"]


@pytest.mark.parametrize("kind", PARTS)
def test_reverse_add_then_forward_gives_assembled_vector(kind):
    comm = MPI.COMM_WORLD
    layout, halo = setup(comm, kind)
    fe = np.random.default_rng(4).normal(size=(CELLS.shape[0], 4 * BLOCK))
    f_global = assemble_vector(CELLS, fe, N_NODES)
    f = assemble_vector(layout.local_cells, fe[layout.cells], layout.n_local)
    partial = f.copy()
    halo.reverse_add(f)
    owned = halo.n_owned_dofs
    np.testing.assert_allclose(f[:owned], f_global[local_dofs(layout)][:owned], rtol=1e-13, atol=1e-13)
    assert np.array_equal(f[owned:], partial[owned:]), "reverse_add leaves ghosts unchanged"
    halo.forward(f)
    np.testing.assert_allclose(f, f_global[local_dofs(layout)], rtol=1e-13, atol=1e-13)
    halo.free()


@pytest.mark.parametrize("block", [1, 3])
def test_forward_copies_owner_values_exactly(block):
    comm = MPI.COMM_WORLD
    layout, halo = setup(comm, "random", block)
    x = np.full((layout.n_local, block), np.nan)
    x[:layout.n_owned] = layout.nodes[:layout.n_owned, None] + 0.25 * np.arange(block)
    halo.forward(x)          # (n_local, block) arrays are accepted as well as flat ones
    assert np.array_equal(x, layout.nodes[:, None] + 0.25 * np.arange(block))
    halo.forward(x)          # persistent requests restart
    assert np.array_equal(x, layout.nodes[:, None] + 0.25 * np.arange(block))
    with pytest.raises(ValueError):
        halo.forward(np.zeros(layout.n_local * block + 1))
    with pytest.raises(TypeError):
        halo.forward(np.zeros(layout.n_local * block, dtype=np.float32))
    halo.free()


def test_halo_refuses_inconsistent_owners_on_every_rank():
    comm = MPI.COMM_WORLD
    layout, halo = setup(comm, "empty_last")
    with pytest.raises(ValueError, match="owner must be"):
        Halo(comm, layout.nodes, layout.n_owned, np.full(layout.n_local, -5), BLOCK)
    halo.free()


@pytest.mark.parametrize("kind", PARTS)
def test_matvec_equals_serial_global_product(kind):
    comm = MPI.COMM_WORLD
    layout, A = distributed_matrix(comm, kind)
    x_global = np.random.default_rng(5).normal(size=BLOCK * N_NODES)
    y_global = A_GLOBAL @ x_global
    x = x_global[local_dofs(layout)]
    y = np.empty_like(x)
    assert A.matvec(x, out=y) is y
    scale = np.abs(y_global).max()
    assert np.abs(y - y_global[local_dofs(layout)]).max(initial=0.0) <= 1e-13 * scale
    assert np.array_equal(A(x), y)


@pytest.mark.parametrize("kind", PARTS)
def test_dot_and_diagonals_equal_serial(kind):
    comm = MPI.COMM_WORLD
    layout, A = distributed_matrix(comm, kind)
    rng = np.random.default_rng(6)
    a_global, b_global = rng.normal(size=(2, BLOCK * N_NODES))
    value = dot(comm, A.n_owned_dofs, a_global[local_dofs(layout)], b_global[local_dofs(layout)])
    assert value == pytest.approx(a_global @ b_global, rel=1e-13)
    assert comm.allgather(value) == [value] * comm.Get_size()
    np.testing.assert_allclose(A.diagonal(), A_GLOBAL.diagonal()[local_dofs(layout)], rtol=1e-13)
    blocks = A.block_diagonal()
    dofs = local_dofs(layout).reshape(-1, BLOCK)
    expected = A_GLOBAL.toarray()[dofs[:, :, None], dofs[:, None, :]]
    np.testing.assert_allclose(blocks, expected, rtol=1e-13, atol=1e-15)


def serial_solve(b_global, x0_global, preconditioner_kind, rtol):
    """The same pcg on one rank over the whole mesh: the reference for any rank count."""
    part = np.zeros(CELLS.shape[0], dtype=np.int32)
    layout = local_layout(CELLS, part, 0, n_nodes=N_NODES)
    A = DistributedMatrix(A_GLOBAL, Halo.from_layout(MPI.COMM_SELF, layout, BLOCK))
    M = jacobi(A) if preconditioner_kind == "jacobi" else block_jacobi(A)
    return pcg(A, b_global, x0_global, M, rtol=rtol, max_iter=2000)


@pytest.mark.parametrize("kind", PARTS)
@pytest.mark.parametrize("preconditioner_kind", ["jacobi", "block_jacobi"])
def test_pcg_is_rank_count_invariant(kind, preconditioner_kind):
    comm = MPI.COMM_WORLD
    layout, A = distributed_matrix(comm, kind)
    rng = np.random.default_rng(7)
    b_global = A_GLOBAL @ rng.normal(size=BLOCK * N_NODES)
    x0_global = np.zeros_like(b_global)
    rtol = 1e-11
    reference = serial_solve(b_global, x0_global, preconditioner_kind, rtol)
    M = jacobi(A) if preconditioner_kind == "jacobi" else block_jacobi(A)
    dofs = local_dofs(layout)
    result = pcg(A, b_global[dofs], x0_global[dofs], M, rtol=rtol, max_iter=2000)
    assert result.relative_residual <= rtol and reference.relative_residual <= rtol
    assert result.iterations == reference.iterations
    assert comm.allgather(result.iterations) == [result.iterations] * comm.Get_size()
    x_norm = np.abs(reference.x).max()
    to_serial = comm.allreduce(np.abs(result.x - reference.x[dofs]).max(initial=0.0), op=MPI.MAX) / x_norm
    direct = spla.spsolve(A_GLOBAL.tocsc(), b_global)
    to_direct = comm.allreduce(np.abs(result.x - direct[dofs]).max(initial=0.0), op=MPI.MAX) / x_norm
    if comm.Get_rank() == 0:
        print(f"\n{kind}/{preconditioner_kind} on {comm.Get_size()} ranks: {result.iterations} iterations, "
              f"relative residual {result.relative_residual:.2e}, max|x - x_serial|/max|x| {to_serial:.1e}, "
              f"max|x - x_direct|/max|x| {to_direct:.1e}")
    assert to_serial <= 1e-10
    assert to_direct <= 1e-8


def test_pcg_predictor_and_callable_operator():
    comm = MPI.COMM_WORLD
    layout, A = distributed_matrix(comm)
    dofs = local_dofs(layout)
    x_exact = np.sin(np.arange(BLOCK * N_NODES) * 0.37)
    b = (A_GLOBAL @ x_exact)[dofs]
    M = jacobi(A)
    cold = pcg(A, b, np.zeros_like(b), M, rtol=1e-9)
    exact_guess = pcg(A, b, x_exact[dofs], M, rtol=1e-9)
    assert exact_guess.iterations == 0
    near = x_exact + 1e-4 * np.cos(np.arange(BLOCK * N_NODES))
    warm = pcg(A, b, near[dofs], M, rtol=1e-9)
    assert 0 < warm.iterations < cold.iterations
    # a plain callable operator and preconditioner give the same iterates
    plain = pcg(lambda v: A.matvec(v), b, np.zeros_like(b), lambda r: M * r,
                comm=comm, n_owned_dofs=A.n_owned_dofs, rtol=1e-9)
    assert plain.iterations == cold.iterations
    np.testing.assert_allclose(plain.x, cold.x, rtol=0, atol=1e-14 * np.abs(cold.x).max())
    zero = pcg(A, np.zeros_like(b), near[dofs], M)
    assert zero.iterations == 0 and not np.any(zero.x)


def test_pcg_refuses_indefinite_operator():
    comm = MPI.COMM_WORLD
    layout, A = distributed_matrix(comm)
    b = np.ones(A.n_local_dofs)
    with pytest.raises(ValueError, match="not positive definite"):
        pcg(lambda v: -A.matvec(v), b, np.zeros_like(b), np.ones_like(b),
            comm=comm, n_owned_dofs=A.n_owned_dofs)


@pytest.mark.parametrize("kind", PARTS)
def test_gather_global_restores_global_order(kind):
    comm = MPI.COMM_WORLD
    layout, halo = setup(comm, kind)
    gathered = gather_global(comm, layout, POINTS[layout.nodes])
    scalar = gather_global(comm, layout, layout.nodes.astype(float), root=comm.Get_size() - 1)
    if comm.Get_rank() == 0:
        assert np.array_equal(gathered, POINTS)
    else:
        assert gathered is None
    if comm.Get_rank() == comm.Get_size() - 1:
        assert np.array_equal(scalar, np.arange(N_NODES, dtype=float))
    halo.free()
