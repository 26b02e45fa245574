"""locate_points: the direct search gives today's answers.

Points inside the mesh are found among the nearest cells; the rest (stations
just above a meshed surface that is lower than the true topography) among the
straight cells they could be within `snap` of. The reference is the search
locate_points did before: candidates by nearest centroid, doubled up to
MAX_CANDIDATES, snapping only after all of them.
"""
import numpy as np
import pytest
from scipy.spatial import cKDTree

from fem.box_mesh import box_mesh
from fem.geometry import _locate_doubling, barycentric_min, locate_points, reference_coordinates
from fem.shape import tet_shape

RNG = np.random.default_rng(11)


def jittered_box(order=1):
    """~20k straight tets of a 64 m x 64 m x 80 m box, interior nodes moved by up to 30 % of a spacing,
    with the top lowered in the middle (as a meshed surface under curved topography)."""
    m = box_mesh(((0.0, 64.0), (0.0, 64.0), (-80.0, 0.0)), (16, 16, 13), order)
    points = m.points.copy()
    inner = np.all((points > [0.0, 0.0, -80.0]) & (points < [64.0, 64.0, 0.0]), axis=1)
    points[inner] += RNG.uniform(-1.2, 1.2, (inner.sum(), 3))
    top = points[:, 2] == 0.0
    points[top, 2] -= 0.3 * np.exp(-((points[top, 0] - 32) ** 2 + (points[top, 1] - 32) ** 2) / 400.0)
    return points, m.cells


def today(points, cells, x, tol=1e-8, snap=0.05):
    """locate_points as it searched before: the nearest 8, 16, ... 512 cells."""
    return _locate_doubling(points, cells, cKDTree(points[cells[:, :4]].mean(axis=1)), x, 8, tol, snap)


def test_a_few_hundred_points_get_todays_cells_and_coordinates():
    points, cells = jittered_box()
    assert 19000 < len(cells) < 21000
    interior = RNG.uniform([0.0, 0.0, -80.0], [64.0, 64.0, -0.5], (300, 3))
    on_nodes = points[RNG.choice(len(points), 30)]                         # in many cells at once
    on_faces = points[cells[RNG.choice(len(cells), 30)][:, :3]].mean(axis=1)
    xy = RNG.uniform(0.0, 64.0, (60, 2))
    above = np.c_[xy, np.zeros(60)]                                        # above the lowered top: snapped
    x = np.concatenate([interior, on_nodes, on_faces, above])
    cell, xi = locate_points(points, cells, x)
    ref_cell, ref_xi = today(points, cells, x)

    unique = np.r_[np.arange(300), np.arange(360, 420)]                     # one cell holds or is nearest each
    assert np.array_equal(cell[unique], ref_cell[unique])
    np.testing.assert_allclose(xi[unique], ref_xi[unique], atol=1e-12)
    # on nodes and faces either cell is right: the point is in both, at the same place
    ties = np.arange(300, 360)
    assert barycentric_min(reference_coordinates(points, cells[cell[ties]], x[ties])).min() >= -1e-8
    N, _ = tet_shape(1, xi[:360])
    np.testing.assert_allclose(np.einsum("pa,pai->pi", N, points[cells[cell[:360]]]), x[:360], atol=1e-10)
    assert np.any(np.abs(x[360:, 2] - np.einsum("pa,pai->pi", tet_shape(1, xi[360:])[0],
                                                  points[cells[cell[360:]]])[:, 2]) > 1e-3)   # some snapped


def test_points_far_outside_are_refused_without_searching_everything():
    points, cells = jittered_box()
    with pytest.raises(ValueError, match="lie in no cell"):
        locate_points(points, cells, np.array([[32.0, 32.0, 10.0], [32.0, 32.0, -40.0]]))
    with pytest.raises(ValueError, match="lie in no cell"):
        locate_points(points, cells, np.array([[1e6, 0.0, 0.0]]))
