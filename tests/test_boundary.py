"""Boundary extraction, outward normals, side classification, and the box mesher."""
import numpy as np
import pytest

from fem.boundary import (BOTTOM, SIDE_NAMES, TOP, X0, X1, Y0, Y1, boundary_faces,
                          classify_box_sides)
from fem.box_mesh import box_mesh
from fem.geometry import map_faces
from fem.mesh import TET_EDGES
from fem.quadrature import triangle_rule

RNG = np.random.default_rng(3)
BOX = ((-1.0, 3.0), (0.0, 2.0), (-1.0, 0.5))
LX, LY, LZ = 4.0, 2.0, 1.5


def face_integrals(points, faces, degree=4):
    """Area, int n dA and int n.x dA over the faces (divergence theorem checks)."""
    rule = triangle_rule(degree)
    g = map_faces(points, faces, rule.points)
    w = g.area * rule.weights
    area = w.sum(axis=1)
    flux = np.einsum("fq,fqi->fi", w, g.normal)
    nx = np.einsum("fq,fqi,fqi->f", w, g.normal, g.x)
    return area, flux, nx


@pytest.mark.parametrize("order", [1, 2])
def test_box_boundary_is_closed_outward_and_has_the_box_area(order):
    m = box_mesh(BOX, (4, 3, 2), order)
    bf = boundary_faces(m.points, m.cells)
    assert bf.faces.shape == (2 * 2 * (4 * 3 + 4 * 2 + 3 * 2), 3 * order)
    area, flux, nx = face_integrals(m.points, bf.faces)
    assert area.sum() == pytest.approx(2 * (LX * LY + LX * LZ + LY * LZ), rel=1e-13)
    np.testing.assert_allclose(flux.sum(axis=0), 0.0, atol=1e-12)      # closed surface
    assert nx.sum() == pytest.approx(3 * LX * LY * LZ, rel=1e-13)        # div x = 3: outward
    # each face's normal points away from its own cell's centroid
    centre = m.points[m.cells[bf.cell, :4]].mean(axis=1)
    face_centre = m.points[bf.faces[:, :3]].mean(axis=1)
    assert np.all(np.einsum("fi,fi->f", flux, face_centre - centre) > 0)


def test_orientation_is_outward_for_negatively_oriented_cells():
    m = box_mesh(BOX, (2, 2, 2), 2)
    cells = m.cells.copy()
    flip = RNG.random(len(cells)) < 0.5
    # swapping vertices 1 and 2 swaps edges (0,1)<->(2,0) and (3,2)<->(3,1): nodes 4<->6, 8<->9
    cells[flip] = cells[flip][:, [0, 2, 1, 3, 6, 5, 4, 7, 9, 8]]
    bf = boundary_faces(m.points, cells)
    _, _, nx = face_integrals(m.points, bf.faces)
    assert np.all(nx > -1e-14) and nx.sum() == pytest.approx(3 * LX * LY * LZ, rel=1e-13)


def test_six_node_faces_carry_their_midedge_nodes_in_gmsh_order():
    m = box_mesh(BOX, (2, 2, 1), 2)
    f = boundary_faces(m.points, m.cells).faces
    p = m.points
    for k, (a, b) in enumerate([(0, 1), (1, 2), (2, 0)]):
        np.testing.assert_allclose(p[f[:, 3 + k]], 0.5 * (p[f[:, a]] + p[f[:, b]]), atol=1e-14)


@pytest.mark.parametrize("order", [1, 2])
def test_sides_of_a_box_with_a_curved_top(order):
    m = box_mesh(BOX, (4, 3, 3), order)
    x, y, z = m.points.T
    # lift the top smoothly; the sides and bottom stay planes
    top = 0.5 + 0.3 * np.sin(np.pi * (x + 1) / LX) * np.sin(np.pi * y / LY)
    pts = np.column_stack([x, y, -1.0 + (z + 1.0) * (top + 1.0) / 1.5])
    bf = boundary_faces(pts, m.cells)
    side = classify_box_sides(pts, bf.faces, x=BOX[0], y=BOX[1], z_bottom=BOX[2][0])
    assert side.dtype == np.int8 and SIDE_NAMES[TOP] == "top"
    counts = np.bincount(side, minlength=6)
    # two triangles per quadrilateral of the (4, 3, 3) grid
    assert counts.tolist() == [2 * 4 * 3, 2 * 3 * 3, 2 * 3 * 3, 2 * 4 * 3, 2 * 4 * 3, 2 * 4 * 3]
    area, flux, _ = face_integrals(pts, bf.faces)
    for code, normal, expected in ((X0, [-1, 0, 0], LY * LZ), (Y1, [0, 1, 0], LX * LZ),
                                   (BOTTOM, [0, 0, -1], LX * LY)):
        sel = side == code
        np.testing.assert_allclose(flux[sel] / area[sel, None], np.broadcast_to(normal, (sel.sum(), 3)),
                                   atol=1e-12)
        if code == BOTTOM:
            assert area[sel].sum() == pytest.approx(expected, rel=1e-13)
    assert np.all(flux[side == TOP, 2] > 0)
    # defaults from the bounding box agree with the explicit extents
    np.testing.assert_array_equal(classify_box_sides(pts, bf.faces), side)
    for code in (X1, Y0):
        assert np.all(np.isclose(pts[bf.faces[side == code]][..., 0 if code == X1 else 1],
                                 BOX[0][1] if code == X1 else BOX[1][0]))


def test_non_manifold_connectivity_is_refused():
    m = box_mesh(BOX, (1, 1, 1), 1)
    with pytest.raises(ValueError, match="more than two cells"):
        boundary_faces(m.points, np.vstack([m.cells, m.cells[:1]]))


@pytest.mark.parametrize("order", [1, 2])
def test_box_mesh_is_conforming_positive_and_shares_midedge_nodes(order):
    nx, ny, nz = 3, 2, 4
    m = box_mesh(BOX, (nx, ny, nz), order)
    assert m.n_cells == 6 * nx * ny * nz and m.cells.dtype == np.int64
    v = m.points[m.cells[:, :4]]
    vol = np.linalg.det(v[:, 1:] - v[:, :1]) / 6
    assert np.all(vol > 0) and vol.sum() == pytest.approx(LX * LY * LZ, rel=1e-13)
    vertices = (nx + 1) * (ny + 1) * (nz + 1)
    if order == 2:
        # Euler: unique edges of the Kuhn mesh = nodes - vertices; every mid node used
        edges = np.unique(np.sort(m.cells[:, TET_EDGES[:, :2]], axis=2).reshape(-1, 2), axis=0)
        assert m.n_nodes == vertices + len(edges)
        assert np.array_equal(np.unique(m.cells[:, 4:]), np.arange(vertices, m.n_nodes))
    else:
        assert m.n_nodes == vertices
    # conforming: only the outer surface is boundary (checked by area in the test above)
    assert len(boundary_faces(m.points, m.cells).faces) == 4 * (nx * ny + nx * nz + ny * nz)


def test_box_mesh_layers_follow_interfaces():
    m = box_mesh(((0, 1), (0, 1), (-30.0, 0.0)), (2, 2, 6), 1, interfaces=[-5.0, -20.0])
    zc = m.points[m.cells].mean(axis=1)[:, 2]
    expected = np.where(zc > -5, 0, np.where(zc > -20, 1, 2))
    np.testing.assert_array_equal(m.layer, expected)
    assert m.layer.dtype == np.int8 and np.bincount(m.layer).tolist() == [24, 72, 48]
    with pytest.raises(ValueError, match="not interior grid planes"):
        box_mesh(((0, 1), (0, 1), (-30.0, 0.0)), (2, 2, 6), 1, interfaces=[-7.0])
