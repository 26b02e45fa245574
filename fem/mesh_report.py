"""Mesh statistics for a GroundModel mesh: counts, element quality, sizes, resolved frequency.

Quality is the normalised radius ratio q = 3 r_in / r_circ of the vertex
tetrahedron (1 for the regular tetrahedron, 0 for a flat one). For order 2
the curved cells are also checked through their Jacobian determinant at the
nodes and quadrature points, relative to the straight cell's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.layered_mesh import mesh_size
from fem.mesh import Mesh
from fem.model import GroundModel
from fem.quadrature import tetrahedron_rule
from fem.shape import tet_reference_nodes, tet_shape


@dataclass(frozen=True)
class MeshReport:
    n_nodes: int                   #: number of nodes
    n_cells: int                   #: number of tetrahedra
    dofs: int                      #: 3 * n_nodes displacement unknowns
    order: int                     #: element order, 1 or 2
    cells_per_layer: np.ndarray    #: (n_layers,) int64, tetrahedra in each layer
    quality_min: float             #: min radius ratio 3 r_in / r_circ, dimensionless
    quality_median: float          #: median radius ratio, dimensionless
    jacobian_ratio_min: float      #: min det J(curved) / det J(straight) over nodes and quadrature points
    edge_stats: np.ndarray         #: (n_layers, 3) float64, min / median / max edge length per layer, m
    vs: np.ndarray                 #: (n_layers,) float64, shear-wave speed per layer, m/s
    layer_frequency: np.ndarray    #: (n_layers,) float64, min vs / (h n) per layer, Hz (h longest edge)
    f_resolved: float              #: min over cells of vs / (h n), Hz
    elements_per_wavelength: float #: the n the frequencies use

    def format(self) -> str:
        """Readable multi-line summary."""
        lines = [f"mesh: order {self.order}, {self.n_nodes} nodes, {self.n_cells} tetrahedra, "
                 f"{self.dofs} dofs",
                 f"quality (radius ratio 3 r_in/r_circ, 1 = regular): min {self.quality_min:.3f}, "
                 f"median {self.quality_median:.3f}; min curved/straight Jacobian "
                 f"{self.jacobian_ratio_min:.3f}",
                 f"resolved frequency f = min vs/(h n), h = longest edge, n = "
                 f"{self.elements_per_wavelength:g}: {self.f_resolved:.3f} Hz",
                 "layer   cells    vs m/s   edge min / median / max m      f_resolved Hz"]
        for i, count in enumerate(self.cells_per_layer):
            lo, mid, hi = self.edge_stats[i]
            lines.append(f"{i:5d} {count:7d} {self.vs[i]:9.1f}   {lo:8.2f} / {mid:8.2f} / {hi:8.2f}"
                         f"   {self.layer_frequency[i]:10.3f}")
        return "\n".join(lines)


def mesh_report(mesh: Mesh, model: GroundModel, elements_per_wavelength: float) -> MeshReport:
    """Statistics of a mesh of model; frequencies for n = elements_per_wavelength."""
    quality = radius_ratio(mesh)
    size = mesh_size(mesh, model, elements_per_wavelength)
    layer = mesh.layer.astype(np.int64)
    edges = _edge_lengths(mesh)
    edge_stats = np.full((model.n_layers, 3), np.nan)
    for i in range(model.n_layers):  # a handful of layers, each a vectorised reduction
        mine = edges[layer == i].ravel()
        if mine.size:
            edge_stats[i] = mine.min(), np.median(mine), mine.max()
    return MeshReport(n_nodes=mesh.n_nodes, n_cells=mesh.n_cells, dofs=3 * mesh.n_nodes,
                      order=mesh.order,
                      cells_per_layer=np.bincount(layer, minlength=model.n_layers),
                      quality_min=float(quality.min()), quality_median=float(np.median(quality)),
                      jacobian_ratio_min=float(jacobian_ratio(mesh).min()),
                      edge_stats=edge_stats, vs=np.array([lay.vs for lay in model.layers]),
                      layer_frequency=size.layer_frequency, f_resolved=size.f_resolved,
                      elements_per_wavelength=size.elements_per_wavelength)


def _edge_lengths(mesh: Mesh) -> np.ndarray:
    """(n_cells, 6) lengths of the straight vertex edges, m, in gmsh's edge order."""
    p = mesh.points[mesh.cells[:, :4]]
    return np.linalg.norm(p[:, [1, 2, 0, 0, 2, 1]] - p[:, [0, 1, 2, 3, 3, 3]], axis=-1)


def radius_ratio(mesh: Mesh) -> np.ndarray:
    """(n_cells,) normalised radius ratio 3 r_in / r_circ of each vertex tetrahedron."""
    p = mesh.points[mesh.cells[:, :4]]
    volume = np.abs(np.linalg.det(p[:, 1:] - p[:, :1])) / 6.0
    faces = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    a, b, c = p[:, faces[:, 0]], p[:, faces[:, 1]], p[:, faces[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=-1).sum(axis=1)
    r_in = 3.0 * volume / area
    # Circumradius from the products of opposite edge lengths: 24 V R = sqrt(...)
    edge = _edge_lengths(mesh)                 # (01, 12, 20, 30, 32, 31)
    u, v, w = edge[:, 0] * edge[:, 4], edge[:, 2] * edge[:, 5], edge[:, 3] * edge[:, 1]
    product = (u + v + w) * (u + v - w) * (u - v + w) * (-u + v + w)
    r_circ = np.sqrt(np.maximum(product, 0.0)) / (24.0 * volume)
    return 3.0 * r_in / r_circ


def jacobian_determinants(mesh: Mesh, xi: np.ndarray) -> np.ndarray:
    """(n_cells, q) det(dx/dxi) of the isoparametric map at reference points xi (q, 3), m^3."""
    _, dN = tet_shape(mesh.order, xi)                        # (q, k, 3)
    jac = np.einsum("cki,qkj->cqij", mesh.points[mesh.cells], dN)
    return np.linalg.det(jac)


def jacobian_ratio(mesh: Mesh) -> np.ndarray:
    """(n_cells,) min over nodes and quadrature points of det J / det J of the straight cell.

    1 for straight cells; a value <= 0 means a curved cell folds over itself."""
    xi = np.vstack([tet_reference_nodes(mesh.order), tetrahedron_rule(2 * mesh.order).points])
    straight = jacobian_determinants(Mesh(mesh.points, mesh.cells[:, :4], mesh.layer),
                                     np.zeros((1, 3)))[:, 0]
    return (jacobian_determinants(mesh, xi) / straight[:, None]).min(axis=1)


def curved_cell_volumes(mesh: Mesh) -> np.ndarray:
    """(n_cells,) volumes of the (possibly curved) cells, m^3: exact integral of det J.

    det J of an order-p map is a polynomial of degree 3 (p - 1), so a rule of that
    degree integrates it exactly."""
    rule = tetrahedron_rule(3 * (mesh.order - 1))
    return jacobian_determinants(mesh, rule.points) @ rule.weights
