"""Recording particle velocity at the stations, interpolated with the element shape functions.

Each station is located once in the global mesh (the same answer on every
rank); the rank that owns the holding cell records it. At the end the traces
are gathered to rank 0 in station order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fem.geometry import locate_points
from fem.mesh import Mesh
from fem.scenario import Scenario
from fem.shape import tet_shape
from fem.stations import station_xy, station_xyz


@dataclass(frozen=True)
class StationSampler:
    xyz: np.ndarray             #: (R, 3) all station coordinates, m
    mine: np.ndarray            #: (R_local,) indices of the stations this rank records
    operator: sp.csr_matrix     #: (3*R_local, n_local_dofs) velocity at my stations from local nodal values

    @property
    def n_local(self) -> int:
        return self.mine.size

    @staticmethod
    def build(scenario: Scenario, mesh: Mesh, part: np.ndarray, g2l: np.ndarray, rank: int,
              surface: tuple[np.ndarray, np.ndarray] | None = None) -> "StationSampler":
        """The sampler of this rank's stations.

        surface: cell (S,) and reference coordinates (S, 3) of the ground stations (the grid and
        the points, station order), the same for every mesh of a column topology; by default
        fem.column_mesh.surface_sampling for `mesh.generator: columns`. Stations not given
        there (interior ones; all of them on gmsh meshes) are located in the mesh."""
        xyz = station_xyz(scenario.model, scenario.receivers)
        if surface is None and scenario.mesh.generator == "columns":
            surface = _column_surface_sampling(scenario, mesh)
        if surface is None:
            cell, xi = locate_points(mesh.points, mesh.cells, xyz)
        else:
            inner_cell, inner_xi = locate_points(mesh.points, mesh.cells, xyz[len(surface[0]):])
            cell, xi = np.concatenate([surface[0], inner_cell]), np.concatenate([surface[1], inner_xi])
        mine = np.flatnonzero(part[cell] == rank)
        N, _ = tet_shape(mesh.order, xi[mine])                 # (R_local, n)
        nodes = g2l[mesh.cells[cell[mine]]]                     # (R_local, n) local node ids
        n = nodes.shape[1]
        rows = (3 * np.arange(mine.size)[:, None, None] + np.arange(3)[None, None, :]).repeat(n, axis=1)
        cols = 3 * nodes[:, :, None] + np.arange(3)[None, None, :]
        vals = np.repeat(N[:, :, None], 3, axis=2)
        op = sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())),
                           shape=(3 * mine.size, 3 * int(g2l.max() + 1)))
        return StationSampler(xyz, mine, op)

    def sample(self, v: np.ndarray) -> np.ndarray:
        """(R_local, 3) velocity at my stations from the complete local velocity vector."""
        return (self.operator @ v).reshape(-1, 3)

    def gather(self, comm, records: np.ndarray) -> np.ndarray | None:
        """(R, 3, T) traces of all stations on rank 0 (None elsewhere)."""
        parts = comm.gather((self.mine, records), root=0)
        if comm.rank != 0:
            return None
        out = np.zeros((len(self.xyz),) + records.shape[1:])
        for idx, rec in parts:
            out[idx] = rec
        return out


def _column_surface_sampling(scenario: Scenario, mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """The ground stations' (cell, xi) on the scenario's column mesh (fem.column_mesh.surface_sampling)."""
    from fem.column_mesh import scenario_topology, surface_sampling
    topology = scenario_topology(scenario)
    if topology.n_cells != mesh.n_cells:
        raise ValueError(f"the mesh has {mesh.n_cells} cells, the scenario's column topology "
                         f"{topology} {topology.n_cells}: not the scenario's column mesh")
    model = scenario.model
    return surface_sampling(topology, (model.x, model.y), station_xy(model, scenario.receivers))
