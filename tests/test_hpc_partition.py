"""Serial checks of the mesh partition and of each rank's local layout."""
import numpy as np
import pytest

from hpc import dual_graph, local_layout, node_owner, partition_cells
from tests.kuhn_box import kuhn_tets


def edge_cut(cells: np.ndarray, part: np.ndarray) -> int:
    g = dual_graph(cells).tocoo()
    return int(np.sum(part[g.row] != part[g.col]) // 2)


CELLS = kuhn_tets(6, 5, 4)


def test_dual_graph_counts_interior_faces():
    nx, ny, nz = 6, 5, 4
    g = dual_graph(CELLS)
    # each boundary quad is two triangles; every other face is shared by exactly two tets
    boundary_faces = 4 * (nx * ny + ny * nz + nz * nx)
    assert g.nnz == 4 * CELLS.shape[0] - boundary_faces
    assert (g != g.T).nnz == 0 and g.diagonal().sum() == 0
    assert np.all(np.diff(g.indptr) <= 4)


@pytest.mark.parametrize("n_parts", [2, 3, 4, 7, 12])
def test_every_cell_in_one_balanced_part(n_parts):
    part = partition_cells(CELLS, n_parts)
    assert part.shape == (CELLS.shape[0],) and part.dtype == np.int32
    sizes = np.bincount(part, minlength=n_parts)
    assert sizes.size == n_parts and sizes.min() > 0
    # METIS' default imbalance tolerance is 3 % (k-way) / 0.1 % (bisection); allow rounding on top
    assert sizes.max() <= 1.03 * CELLS.shape[0] / n_parts + 1


@pytest.mark.parametrize("n_parts", [2, 3, 7])
def test_cut_far_below_random_split(n_parts):
    part = partition_cells(CELLS, n_parts)
    random_part = np.random.default_rng(0).permutation(np.arange(CELLS.shape[0]) % n_parts)
    assert edge_cut(CELLS, part) < 0.25 * edge_cut(CELLS, random_part)


def test_deterministic_and_blind_to_midside_nodes():
    first = partition_cells(CELLS, 3)
    assert np.array_equal(first, partition_cells(CELLS.copy(), 3))
    # 10-node cells on the same vertices: mid-edge ids must not change the graph
    n_nodes = CELLS.max() + 1
    midside = n_nodes + np.arange(CELLS.shape[0] * 6).reshape(-1, 6)
    assert np.array_equal(first, partition_cells(np.hstack([CELLS, midside]), 3))


def test_one_part_and_bad_input():
    assert np.array_equal(partition_cells(CELLS, 1), np.zeros(CELLS.shape[0]))
    with pytest.raises(ValueError, match="cannot split"):
        partition_cells(CELLS[:5], 6)
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            partition_cells(CELLS, bad)
    with pytest.raises(ValueError, match="k>=4"):
        partition_cells(CELLS[:, :3], 2)
    with pytest.raises(ValueError, match="integer"):
        partition_cells(CELLS.astype(float), 2)


@pytest.mark.parametrize("n_parts", [1, 2, 3, 5])
def test_layouts_cover_every_node_once(n_parts):
    part = partition_cells(CELLS, n_parts)
    n_nodes = int(CELLS.max()) + 1
    owner = node_owner(CELLS, part, n_nodes)
    layouts = [local_layout(CELLS, part, r) for r in range(n_parts)]
    owned = np.concatenate([lay.nodes[:lay.n_owned] for lay in layouts])
    assert np.array_equal(np.sort(owned), np.arange(n_nodes))
    assert np.array_equal(np.sort(np.concatenate([lay.cells for lay in layouts])),
                          np.arange(CELLS.shape[0]))
    for rank, lay in enumerate(layouts):
        assert lay.n_global_nodes == n_nodes
        own, ghost = lay.nodes[:lay.n_owned], lay.nodes[lay.n_owned:]
        assert np.all(np.diff(own) > 0) and np.all(np.diff(ghost) > 0)
        assert np.array_equal(lay.owner, owner[lay.nodes])
        assert np.all(lay.owner[:lay.n_owned] == rank)
        # the lowest touching rank owns a node, so a ghost's owner is a lower rank
        assert np.all(lay.owner[lay.n_owned:] < rank)
        assert np.array_equal(lay.nodes[lay.local_cells], CELLS[lay.cells])
        assert np.all(part[lay.cells] == rank)
        assert set(np.unique(lay.local_cells)) == set(range(lay.n_local))


def test_owner_is_lowest_touching_part():
    cells = np.array([[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]])
    owner = node_owner(cells, np.array([2, 0, 1]), n_nodes=7)
    assert owner.tolist() == [2, 0, 0, 0, 0, 1, -1]


def test_rank_without_cells_gets_empty_layout():
    part = np.zeros(CELLS.shape[0], dtype=np.int32)
    lay = local_layout(CELLS, part, rank=1)
    assert lay.n_local == 0 and lay.n_owned == 0 and lay.local_cells.shape == (0, 4)
    assert lay.n_global_nodes == CELLS.max() + 1
