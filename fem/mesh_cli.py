"""`python -m fem mesh SCENARIO.yaml [--xdmf OUT.xdmf] [--save MESH.npz]`: mesh a scenario's model, report on it.

The mesh is the one `python -m fem run` builds (fem.run.mesh_for: same generator,
order, f_max and elements per wavelength), so the report's counts, quality and
resolved frequency are those of the simulation. A column mesh's report also
names its topology (the counts to put in `mesh.columns` so that other models
of the configuration share it). Serial: meshes on one process.
"""
from __future__ import annotations

import sys

from mpi4py import MPI

from fem.mesh import Mesh
from fem.mesh_report import mesh_report
from fem.run import mesh_for
from fem.scenario import Scenario


def report_mesh(scenario: Scenario, xdmf_path: str | None = None, out=None) -> Mesh:
    """Mesh `scenario`, print the report to `out` (stdout by default), optionally write XDMF+HDF5."""
    out = sys.stdout if out is None else out
    mesh = mesh_for(scenario, MPI.COMM_SELF)
    report = mesh_report(mesh, scenario.model, scenario.mesh.elements_per_wavelength)
    print(report.format(), file=out, flush=True)
    if scenario.mesh.generator == "columns":
        from fem.column_mesh import scenario_topology
        topology = scenario_topology(scenario)
        print(f"columns {topology.nx} x {topology.ny}, levels {list(topology.levels)} (top layer first)",
              file=out, flush=True)
    if xdmf_path:
        from fem.xdmf import write_xdmf
        xdmf, h5 = write_xdmf(xdmf_path, mesh)
        print(f"wrote {xdmf} (+ {h5.name})", file=out, flush=True)
    return mesh
