"""XDMF + HDF5 output: the files parse, counts match, the 10-node order is XDMF's (VTK's)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from fem.layered_mesh import build_layered_mesh
from fem.model import GroundModel, Layer, Surface
from fem.xdmf import GMSH_TO_XDMF_TET10, write_xdmf

BOX = ((0.0, 200.0), (0.0, 100.0))


@pytest.fixture(scope="module")
def meshes():
    ground = Surface("ground", np.array([[0.0, 4.0, 2.0], [1.0, 5.0, 3.0]]), *BOX)
    b12 = Surface("b12", np.array([[-30.0]]), *BOX)
    model = GroundModel(*BOX, -80.0, (ground, b12),
                        (Layer(500.0, 150.0, 1700.0, 0.02), Layer(2000.0, 800.0, 2100.0, 0.005)))
    coarse = dict(f_max=1.0, elements_per_wavelength=3.0, min_elements_across=1, size_safety=1.0)
    return {order: build_layered_mesh(model, order, **coarse) for order in (1, 2)}


def read(xdmf_path):
    return ET.parse(xdmf_path).getroot()


def hdf_reference(item: ET.Element) -> tuple[str, str]:
    file_name, dataset = item.text.strip().split(":")
    return file_name, dataset


@pytest.mark.parametrize("order", [1, 2])
def test_static_mesh_parses_with_the_right_counts(tmp_path, meshes, order):
    mesh = meshes[order]
    speed = np.linalg.norm(mesh.points, axis=1)
    xdmf, h5 = write_xdmf(tmp_path / "model.xdmf", mesh, point_data={"distance": speed, "position": mesh.points})
    root = read(xdmf)
    grid = root.find("Domain/Grid")
    topology = grid.find("Topology")
    assert topology.get("TopologyType") == {1: "Tetrahedron", 2: "Tetrahedron_10"}[order]
    assert int(topology.get("NumberOfElements")) == mesh.n_cells
    assert topology.find("DataItem").get("Dimensions") == f"{mesh.n_cells} {mesh.cells.shape[1]}"
    assert grid.find("Geometry/DataItem").get("Dimensions") == f"{mesh.n_nodes} 3"
    attributes = {a.get("Name"): a for a in grid.findall("Attribute")}
    assert attributes["layer"].get("Center") == "Cell"
    assert attributes["position"].get("AttributeType") == "Vector"
    assert attributes["distance"].get("AttributeType") == "Scalar"
    with h5py.File(h5, "r") as f:
        for item in grid.iter("DataItem"):
            file_name, dataset = hdf_reference(item)
            assert file_name == h5.name
            assert " ".join(map(str, f[dataset].shape)) == item.get("Dimensions")
        np.testing.assert_array_equal(f["mesh/layer"][()], mesh.layer)
        np.testing.assert_array_equal(f["point_data/distance"][()], speed)
        cells = f["mesh/cells"][()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5", "model.xdmf"]   # no temporaries
    if order == 2:
        # XDMF/VTK: nodes 7, 8, 9 sit on edges (0,3), (1,3), (2,3); check on the straight interior edges
        p = mesh.points[cells]
        for node, (a, b) in zip((4, 5, 6, 7, 8, 9), ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3))):
            gap = np.linalg.norm(p[:, node] - 0.5 * (p[:, a] + p[:, b]), axis=1)
            assert np.median(gap) == 0.0
            assert gap.max() < 1.0     # curved edges deviate, but only slightly


def test_permutation_swaps_the_last_two_edge_nodes():
    assert sorted(GMSH_TO_XDMF_TET10.tolist()) == list(range(10))
    np.testing.assert_array_equal(GMSH_TO_XDMF_TET10[7:], [7, 9, 8])


def test_snapshots_become_a_temporal_collection(tmp_path, meshes):
    mesh = meshes[2]
    times = np.array([0.0, 0.5, 1.0])
    velocity = np.stack([t * mesh.points for t in times]).astype(np.float32)   # (3, n_nodes, 3)
    xdmf, h5 = write_xdmf(tmp_path / "run.xdmf", mesh, snapshots={"velocity": velocity}, times=times)
    collection = read(xdmf).find("Domain/Grid")
    assert collection.get("CollectionType") == "Temporal"
    grids = collection.findall("Grid")
    assert [float(g.find("Time").get("Value")) for g in grids] == times.tolist()
    with h5py.File(h5, "r") as f:
        for k, grid in enumerate(grids):
            item = grid.find("Attribute[@Name='velocity']/DataItem")
            assert item.get("Precision") == "4" and item.get("NumberType") == "Float"
            np.testing.assert_array_equal(f[hdf_reference(item)[1]][()], velocity[k])


def test_mismatched_shapes_are_refused(tmp_path, meshes):
    mesh = meshes[1]
    with pytest.raises(ValueError, match="point_data"):
        write_xdmf(tmp_path / "bad.xdmf", mesh, point_data={"v": np.zeros(mesh.n_nodes + 1)})
    with pytest.raises(ValueError, match="snapshots"):
        write_xdmf(tmp_path / "bad.xdmf", mesh, snapshots={"v": np.zeros((2, mesh.n_nodes, 3))},
                   times=np.zeros(3))
    assert not any(tmp_path.iterdir())
