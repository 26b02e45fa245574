"""Structured, terrain-following tetrahedral meshes whose topology is shared by many ground models.

Horizontally a uniform grid of nx x ny columns over the box; vertically layer i
(between surface i and surface i + 1, the last one down to z_bottom) is cut
into levels[i] equal intervals of each column's own layer thickness. Node
(i, j, k) (k counted up from z_bottom) sits at x0 + i dx, y0 + j dy and an
elevation linear in the layer-relative depth between the model's two surfaces
at that (x, y) (Surface.grid_elevation on the node grid), so the nodes of each
surface's level lie on that surface and the mesh conforms to the ground and to
every boundary by construction. Each hexahedron is split into the 6 Kuhn
tetrahedra of fem.box_mesh.KUHN, the same split everywhere, so the mesh is
conforming; the map keeps x, y affine in (i, j) and z increasing in k, so a
Kuhn tetrahedron's Jacobian is dx dy dz_k (dz_k its vertical edge): positive
wherever every layer has thickness (checked; ModelError names the column).

Order 2: mid-edge nodes numbered by fem.box_mesh.add_midedge_nodes, placed by
the same terrain-following map at the mean grid position and level of their
edge's ends: on vertical edges that is the chord midpoint, on an edge lying in
a surface's level it is on the surface's spline (as gmsh's order-2 nodes are).
Against straight edges (mid-edge nodes on the chords), drawn model 0 below,
x / y / z misfit: 8 x 8 columns, levels 2/2/2: 0.41 / 3.54 / 2.75 % -> 0.18 /
3.03 / 2.27 %; 10 x 10, levels 3/3/2: 0.26 / 2.00 / 1.15 % -> 0.08 / 1.40 /
0.75 %; at no cost.

Cells, node numbering and cell layers depend only on the ColumnTopology
(nx, ny, levels, order), and are built once per topology: every model meshed
with one topology has the same cells array and node count, and only the node
coordinates differ. So does the sampling of ground-surface stations
(`surface_sampling`): a station's cell and reference coordinates depend on the
horizontal grid alone. A mesh takes milliseconds: benchmark configuration,
topology and mesh 2-3 ms (order 2, n = 3, 13k dofs) and 11-20 ms (order 1,
n = 10, 29-33k dofs), the first mesh of a topology 20-47 ms; gmsh 0.6-2.2 s.

Element size (`column_topology`). The axis spacings are bounded,

    dx, dy <= SPACING vs_min / (f_max n),    dz_i <= SPACING vs_i / (f_max n),

vs_min the softest layer's shear speed (the columns run through every layer),
dz_i where layer i is thickest, n the scenario's elements per wavelength.
SPACING = 1/sqrt(3): the hexahedron's main diagonal, the longest Kuhn edge,
meets gmsh's nominal bound h <= vs / (f_max n) in every cell (gmsh itself
reaches 0.9 of it in the median cell and 1.2 at worst). Chosen by measurement
(benchmarks/column_mesh_accuracy.py, which prints the figures): station
misfit per component x / y / z against a gmsh order-2 reference, two drawn
models of the benchmark configuration (64 x 64 x 80 m, f_max 4 Hz, vs 200 /
450 / 900), order 1, n = 10, SPACING swept:

| mesh | dofs | model 0 x / y / z % | model 1 x / y / z % |
|---|---|---|---|
| gmsh (today's) | 12.2k / 12.8k | 0.67 / 6.83 / 3.66 | 0.76 / 6.32 / 4.11 |
| columns, SPACING 0.80 | 12.6k / 13.6k | 0.73 / 8.82 / 4.20 | 1.03 / 10.26 / 5.93 |
| columns, SPACING 0.67 | 21.2k / 21.2k | 0.52 / 7.20 / 3.03 | 0.81 / 8.09 / 4.54 |
| columns, SPACING 0.62 | 24.7k / 23.2k | 0.47 / 6.49 / 2.72 | 0.76 / 7.65 / 4.21 |
| columns, SPACING 0.577 | 29.4k / 32.8k | 0.45 / 5.97 / 2.58 | 0.63 / 6.42 / 3.54 |
| columns order 2, n = 3 | 13.0k / 13.0k | 0.13 / 2.30 / 1.87 | 0.20 / 2.27 / 2.36 |

Order-1 columns match gmsh's worst component (y, the 3D-only cross motion)
only from SPACING ~ 1/sqrt(3), at 2.4-2.6x its dofs: the columns carry the
soft layer's horizontal spacing down through the stiff ones, and their CG
iterations per step rise (56-77 against 32). Order-2 columns at the default
n = 3 beat today's order-1 gmsh meshes on every component at about the same
dofs: the configuration to use with columns. (gmsh's own order-2 meshes of
these models are finer than n = 3 asks, capped by the thin top layer: 30.4k /
30.9k dofs, 0.02 / 0.39 / 0.32 % and 0.04 / 0.50 / 0.39 %.) Flat layers against
the exact column (1D: the vertical rule alone; the case of
tests/test_column_mesh.py, order 2, n = 3, centre / edge station): columns
8.8k dofs, S 0.065 / 0.044 %, P 0.016 / 0.013 %; gmsh 13.4k dofs, S 0.070 /
0.048 %, P 0.017 / 0.014 %.

Minimum counts: MIN_LEVELS = 2 levels across every layer (gmsh's
min_elements_across = 2: a layer has interior nodes, so its field is not one
linear piece between its two boundaries, and a thin layer is no coarser than
in today's meshes), and at least MIN_COLUMNS_PER_CONTROL columns per control
interval of the finest surface grid (between columns the surfaces are
quadratic or linear interpolants of the cubic splines: two per spline piece
follow its inflection).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np

from fem.box_mesh import KUHN, add_midedge_nodes
from fem.mesh import TET_EDGES, Mesh
from fem.model import GroundModel, ModelError
from fem.scenario import Scenario
from fem.shape import tet_reference_nodes, tet_shape

#: axis spacing as a fraction of vs / (f_max n) (module docstring)
SPACING = 1.0 / np.sqrt(3.0)
#: fewest levels across a layer
MIN_LEVELS = 2
#: fewest columns per interval of a surface's control grid
MIN_COLUMNS_PER_CONTROL = 2
#: samples per axis of the grid on which a layer's largest thickness is found
THICKNESS_SAMPLES = 101


@dataclass(frozen=True)
class ColumnTopology:
    """What a column mesh's cells and node numbering depend on."""
    nx: int                    #: columns along x
    ny: int                    #: columns along y
    levels: tuple[int, ...]    #: node intervals across each layer, top layer first
    order: int                 #: element order, 1 (4-node) or 2 (10-node)

    @property
    def nz(self) -> int:
        """Hexahedra per column."""
        return sum(self.levels)

    @property
    def n_cells(self) -> int:
        return 6 * self.nx * self.ny * self.nz


def column_topology(model: GroundModel, order: int, f_max: float, elements_per_wavelength: float,
                    minimum: Mapping | None = None) -> ColumnTopology:
    """The counts the wavelength rule (module docstring) asks for, each at least `minimum`'s.

    f_max in Hz; minimum: {nx, ny, levels} (any of them), the scenario's
    `mesh.columns`, so that every model of a configuration gets one topology."""
    if order not in (1, 2):
        raise ModelError(f"mesh.order: {order} not supported (1 or 2)")
    if not (f_max > 0 and elements_per_wavelength > 0):
        raise ModelError(f"mesh: f_max ({f_max}) and elements per wavelength "
                         f"({elements_per_wavelength}) must be positive")
    vs = np.array([layer.vs for layer in model.layers])
    spacing = SPACING * vs / (f_max * elements_per_wavelength)
    # control intervals of the finest surface grid along y (rows) and x (columns)
    intervals = [int(i) - 1 for i in np.max([s.control.shape for s in model.surfaces], axis=0)]
    nx = max(_count(model.x[1] - model.x[0], spacing.min()), MIN_COLUMNS_PER_CONTROL * intervals[1])
    ny = max(_count(model.y[1] - model.y[0], spacing.min()), MIN_COLUMNS_PER_CONTROL * intervals[0])
    levels = [max(_count(t, s), MIN_LEVELS) for t, s in zip(_max_thickness(model), spacing)]
    minimum = dict(minimum or {})
    floor = minimum.get("levels") or [1] * model.n_layers
    if len(floor) != model.n_layers:
        raise ModelError(f"mesh.columns.levels: {len(floor)} counts for {model.n_layers} layers")
    return ColumnTopology(max(nx, int(minimum.get("nx", 1))), max(ny, int(minimum.get("ny", 1))),
                          tuple(max(n, int(f)) for n, f in zip(levels, floor)), order)


def scenario_topology(scenario: Scenario) -> ColumnTopology:
    """The topology of a scenario's model and `mesh` section (`mesh.columns` the least counts)."""
    m = scenario.mesh
    return column_topology(scenario.model, m.order, m.f_max, m.elements_per_wavelength, m.columns)


def build_column_mesh(model: GroundModel, topology: ColumnTopology) -> Mesh:
    """The model's column mesh of the given topology; ModelError naming the first flat or inverted cell."""
    if len(topology.levels) != model.n_layers:
        raise ModelError(f"mesh: the topology has {len(topology.levels)} layers, the model {model.n_layers}")
    connectivity = _connectivity(topology)
    points = _points(model, topology, connectivity)
    _check_positive(points, connectivity.cells, topology)
    return Mesh(points=points, cells=connectivity.cells, layer=connectivity.layer)


def surface_sampling(topology: ColumnTopology, box: tuple[tuple[float, float], tuple[float, float]],
                     xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell (R,) and reference coordinates (R, 3) of ground-surface stations at xy (R, 2), m.

    The cell is the top-level Kuhn tetrahedron whose top face (on the ground)
    lies over (x, y); xi is the point of that face at (x, y). Every cell's map
    keeps x, y affine in the column's unit-square coordinates (s, t), so the
    answer depends on box, nx, ny and nz only: the same for every model sharing
    the topology. box: ((x0, x1), (y0, y1)), m; stations outside it are refused."""
    (x0, x1), (y0, y1) = box
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    outside = (xy[:, 0] < x0) | (xy[:, 0] > x1) | (xy[:, 1] < y0) | (xy[:, 1] > y1)
    if outside.any():
        raise ModelError(f"station {xy[outside][0].tolist()} lies outside the box x={[x0, x1]} y={[y0, y1]}")
    u = (xy[:, 0] - x0) / (x1 - x0) * topology.nx
    v = (xy[:, 1] - y0) / (y1 - y0) * topology.ny
    i = np.minimum(np.floor(u), topology.nx - 1).astype(np.int64)
    j = np.minimum(np.floor(v), topology.ny - 1).astype(np.int64)
    s, t = u - i, v - j
    kuhn = np.where(s >= t, _TOP_TETS[0], _TOP_TETS[1])
    # the tetrahedron's affine map, restricted to the cube's top face z = 1: solve for xi
    corners = KUHN[kuhn].astype(float)                              # (R, 4, 3)
    edges = np.transpose(corners[:, 1:] - corners[:, :1], (0, 2, 1))   # columns: vertex k - vertex 0
    target = np.stack([s, t, np.ones_like(s)], axis=1) - corners[:, 0]
    xi = np.linalg.solve(edges, target[..., None])[..., 0]
    hexahedron = (i * topology.ny + j) * topology.nz + topology.nz - 1
    return 6 * hexahedron + kuhn, xi


def _kuhn_with_top_face() -> tuple[int, int]:
    """The two Kuhn tetrahedra with a face on the cube's top (z = 1): (the one under s >= t, the other)."""
    on_top = (KUHN[:, :, 2] == 1).sum(axis=1) == 3
    first, second = np.flatnonzero(on_top)
    # under s >= t the top face is the triangle (0,0)-(1,0)-(1,1): it holds corner (1, 0, 1)
    holds = (KUHN[first] == [1, 0, 1]).all(axis=1).any()
    return (int(first), int(second)) if holds else (int(second), int(first))


_TOP_TETS = _kuhn_with_top_face()


def _count(length: float, spacing: float) -> int:
    """Fewest equal intervals of `length` no longer than `spacing` (a hair of round-off forgiven)."""
    return int(np.ceil(length / spacing * (1.0 - 1e-12)))


def _max_thickness(model: GroundModel) -> np.ndarray:
    """(n_layers,) largest thickness of each layer on a dense grid over the box, m."""
    gx = np.linspace(*model.x, THICKNESS_SAMPLES)
    gy = np.linspace(*model.y, THICKNESS_SAMPLES)
    elevation = np.stack([s.grid_elevation(gx, gy) for s in model.surfaces]
                         + [np.full((gy.size, gx.size), model.z_bottom)])
    thickness = elevation[:-1] - elevation[1:]
    if np.any(thickness <= 0.0):
        i = int(np.argmin(thickness.reshape(model.n_layers, -1).min(axis=1)))
        raise ModelError(f"mesh: layer {i} has no thickness somewhere: its surfaces cross or touch")
    return thickness.reshape(model.n_layers, -1).max(axis=1)


@dataclass(frozen=True)
class _Connectivity:
    """The topology-only part of a column mesh (read-only arrays, shared by every mesh of it)."""
    cells: np.ndarray   #: (C, 4|10) int64, gmsh node order
    layer: np.ndarray   #: (C,) int8, layer of each cell
    column: np.ndarray  #: (N, 2) int64, node (x, y) on the grid of spacing (dx, dy) / order
    owner: np.ndarray   #: (N,) int64, layer whose surfaces a node's elevation is interpolated between
    depth: np.ndarray   #: (N,) float64, 0 on the layer's top surface .. 1 on the next surface


@lru_cache(maxsize=8)
def _connectivity(topology: ColumnTopology) -> _Connectivity:
    """Cells, cell layers and where each node sits in the terrain-following map.

    Vertex (i, j, k) is node (i (ny + 1) + j) (nz + 1) + k, k counted up from z_bottom;
    hexahedron (i, j, k) holds cells 6 ((i ny + j) nz + k) + 0..5 in KUHN's order
    (fem.box_mesh); mid-edge nodes follow the vertices in add_midedge_nodes' order and
    sit at the mean grid position and the mean level of their edge's ends."""
    nx, ny, nz, r = topology.nx, topology.ny, topology.nz, topology.order
    ii, jj, kk = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    corner = np.stack([ii, jj, kk], axis=-1).reshape(-1, 1, 1, 3) + KUHN     # (H, 6, 4, 3)
    cells = ((corner[..., 0] * (ny + 1) + corner[..., 1]) * (nz + 1) + corner[..., 2]).reshape(-1, 4)
    # hexahedron level k (from the bottom) lies in the layer whose band of levels holds it
    band = np.repeat(np.arange(len(topology.levels)), topology.levels)[::-1]
    layer = np.tile(np.repeat(band, 6), nx * ny).astype(np.int8)
    vi, vj, vk = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), np.arange(nz + 1), indexing="ij")
    column = r * np.stack([vi.ravel(), vj.ravel()], axis=1)
    level = (nz - vk.ravel()).astype(float)                               # counted down from the ground
    if topology.order == 2:
        n_vertices = column.shape[0]
        _, cells = add_midedge_nodes(np.zeros((n_vertices, 3)), cells)
        ends = np.empty((cells.max() + 1 - n_vertices, 2), dtype=np.int64)
        for e, pair in enumerate(TET_EDGES):
            ends[cells[:, 4 + e] - n_vertices] = cells[:, pair]
        column = np.vstack([column, column[ends].sum(axis=1) // 2])
        level = np.concatenate([level, level[ends].mean(axis=1)])
    top = np.cumsum((0,) + topology.levels[:-1])
    owner = np.minimum(np.searchsorted(top, level, side="right") - 1, len(topology.levels) - 1)
    depth = (level - top[owner]) / np.asarray(topology.levels)[owner]
    connectivity = _Connectivity(cells.astype(np.int64), layer, column, owner, depth)
    for array in (connectivity.cells, layer, column, owner, depth):
        array.flags.writeable = False
    return connectivity


def _points(model: GroundModel, topology: ColumnTopology, c: _Connectivity) -> np.ndarray:
    """(n_nodes, 3) node coordinates, m: grid x, y; z between the owner layer's two surfaces."""
    gx = np.linspace(*model.x, topology.order * topology.nx + 1)
    gy = np.linspace(*model.y, topology.order * topology.ny + 1)
    # (n_surfaces + 1, len(gx), len(gy)): every surface, then z_bottom, on the node grid
    bounding = np.concatenate([np.stack([s.grid_elevation(gx, gy).T for s in model.surfaces]),
                               np.full((1, gx.size, gy.size), model.z_bottom)])
    i, j = c.column[:, 0], c.column[:, 1]
    z = bounding[c.owner, i, j] * (1.0 - c.depth) + bounding[c.owner + 1, i, j] * c.depth
    return np.column_stack([gx[i], gy[j], z])


def _check_positive(points: np.ndarray, cells: np.ndarray, topology: ColumnTopology) -> None:
    """Raise ModelError naming the first cell whose map has det J <= 0 at one of its nodes."""
    # straight cells have one Jacobian; curved ones are checked at their nodes
    xi = tet_reference_nodes(2) if topology.order == 2 else np.zeros((1, 3))
    _, gradients = tet_shape(topology.order, xi)                                   # (q, n, 3)
    # J[c, i, q, j] = sum_a X[c, a, i] dN_a/dxi_j (xi_q): one matrix product
    a, b, c = np.moveaxis(np.tensordot(points[cells], gradients, axes=([1], [1])), 1, 0)
    det_j = np.einsum("cqi,cqi->cq", a, np.cross(b, c)).min(axis=1)
    bad = np.flatnonzero(det_j <= 0.0)
    if bad.size:
        h = bad[0] // 6
        i, j, k = h // (topology.ny * topology.nz), h // topology.nz % topology.ny, h % topology.nz
        centre = points[cells[bad[0], :4]].mean(axis=0)
        raise ModelError(f"mesh: column ({i}, {j}) level {topology.nz - 1 - k} from the top has a flat or "
                         f"inverted cell (det J {det_j[bad[0]]:.3g} m^3) near {np.round(centre, 2).tolist()}: "
                         f"the layers there are too thin or too steep ({bad.size} such cells)")
