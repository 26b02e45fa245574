"""Write a mesh and nodal fields as XDMF 3 + HDF5 for ParaView.

The light XML file ``NAME.xdmf`` references heavy data in ``NAME.h5`` next to
it. Both are written under temporary names and renamed into place, so a reader
never sees a half-written file. Layout of the HDF5 file:

    /mesh/points          (n_nodes, 3) float64, m
    /mesh/cells           (n_cells, 4 or 10) int64, XDMF (= VTK) node order
    /mesh/layer           (n_cells,) int32, layer index
    /point_data/NAME      (n_nodes,) or (n_nodes, 3), static nodal fields
    /snapshots/NAME/KKKKK (n_nodes,) or (n_nodes, 3), field NAME at times[KKKKK]
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from fem.atomic import atomic_path, write_text_atomic
from fem.mesh import Mesh

#: XDMF's 10-node tetrahedron takes the edges (0,1),(1,2),(2,0),(0,3),(1,3),(2,3) (VTK's
#: order); gmsh's last two are (3,2),(3,1): xdmf_cells = gmsh_cells[:, GMSH_TO_XDMF_TET10]
GMSH_TO_XDMF_TET10 = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9, 8])

_TOPOLOGY = {4: "Tetrahedron", 10: "Tetrahedron_10"}


def write_xdmf(path: str | os.PathLike, mesh: Mesh,
               point_data: Mapping[str, np.ndarray] | None = None,
               snapshots: Mapping[str, np.ndarray] | None = None,
               times: np.ndarray | None = None) -> tuple[Path, Path]:
    """Write mesh (+ fields) to path (.xdmf) and its .h5 sibling; returns both paths.

    point_data: static nodal fields, (n_nodes,) scalars or (n_nodes, 3) vectors.
    snapshots: time series, (n_times, n_nodes) or (n_times, n_nodes, 3), at
    times (n_times,) in s; each time becomes one grid of a temporal collection."""
    xdmf_path = Path(path).with_suffix(".xdmf")
    h5_path = xdmf_path.with_suffix(".h5")
    point_data = dict(point_data or {})
    snapshots = dict(snapshots or {})
    times = np.asarray(times if times is not None else [], dtype=np.float64)
    _check_shapes(mesh, point_data, snapshots, times)

    with atomic_path(h5_path) as tmp_h5, h5py.File(tmp_h5, "w") as h5:
        cells = mesh.cells if mesh.cells.shape[1] == 4 else mesh.cells[:, GMSH_TO_XDMF_TET10]
        h5["mesh/points"] = np.asarray(mesh.points, dtype=np.float64)
        h5["mesh/cells"] = np.asarray(cells, dtype=np.int64)
        h5["mesh/layer"] = np.asarray(mesh.layer, dtype=np.int32)
        for name, values in point_data.items():
            h5[f"point_data/{name}"] = values
        for name, series in snapshots.items():
            for k in range(times.size):
                h5[f"snapshots/{name}/{k:05d}"] = series[k]

    root = ET.Element("Xdmf", Version="3.0")
    domain = ET.SubElement(root, "Domain")
    if snapshots:
        series = ET.SubElement(domain, "Grid", Name="mesh", GridType="Collection", CollectionType="Temporal")
        for k, t in enumerate(times):
            grid = _grid(series, f"mesh_{k:05d}", mesh, h5_path.name, point_data)
            ET.SubElement(grid, "Time", Value=repr(float(t)))
            for name, values in snapshots.items():
                _attribute(grid, name, "Node", values[k], f"{h5_path.name}:/snapshots/{name}/{k:05d}")
    else:
        _grid(domain, "mesh", mesh, h5_path.name, point_data)
    ET.indent(root)
    write_text_atomic(xdmf_path, '<?xml version="1.0" ?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n'
                      + ET.tostring(root, encoding="unicode") + "\n")
    return xdmf_path, h5_path


def _check_shapes(mesh: Mesh, point_data: dict, snapshots: dict, times: np.ndarray) -> None:
    for name, values in point_data.items():
        if np.shape(values)[:1] != (mesh.n_nodes,) or np.ndim(values) not in (1, 2):
            raise ValueError(f"point_data['{name}']: shape {np.shape(values)}, expected "
                             f"({mesh.n_nodes},) or ({mesh.n_nodes}, 3)")
    for name, values in snapshots.items():
        if np.shape(values)[:2] != (times.size, mesh.n_nodes) or np.ndim(values) not in (2, 3):
            raise ValueError(f"snapshots['{name}']: shape {np.shape(values)}, expected "
                             f"({times.size}, {mesh.n_nodes}[, 3]) to match times")


def _data_item(parent: ET.Element, array: np.ndarray, reference: str) -> None:
    kind = "Float" if np.issubdtype(array.dtype, np.floating) else "Int"
    item = ET.SubElement(parent, "DataItem", Format="HDF", NumberType=kind,
                         Precision=str(array.dtype.itemsize),
                         Dimensions=" ".join(str(n) for n in array.shape))
    item.text = reference


def _attribute(grid: ET.Element, name: str, center: str, values: np.ndarray, reference: str) -> None:
    values = np.asarray(values)
    kind = "Vector" if values.ndim == 2 else "Scalar"
    attribute = ET.SubElement(grid, "Attribute", Name=name, AttributeType=kind, Center=center)
    _data_item(attribute, values, reference)


def _grid(parent: ET.Element, name: str, mesh: Mesh, h5_name: str, point_data: dict) -> ET.Element:
    grid = ET.SubElement(parent, "Grid", Name=name, GridType="Uniform")
    topology = ET.SubElement(grid, "Topology", TopologyType=_TOPOLOGY[mesh.cells.shape[1]],
                             NumberOfElements=str(mesh.n_cells))
    _data_item(topology, np.asarray(mesh.cells, dtype=np.int64), f"{h5_name}:/mesh/cells")
    geometry = ET.SubElement(grid, "Geometry", GeometryType="XYZ")
    _data_item(geometry, np.asarray(mesh.points, dtype=np.float64), f"{h5_name}:/mesh/points")
    _attribute(grid, "layer", "Cell", np.asarray(mesh.layer, dtype=np.int32), f"{h5_name}:/mesh/layer")
    for name, values in point_data.items():
        _attribute(grid, name, "Node", values, f"{h5_name}:/point_data/{name}")
    return grid
