"""Command line: `python -m fem run SCENARIO.yaml -o RESULT.h5` and `python -m fem mesh SCENARIO.yaml`.

Run under `mpiexec -n N` or `srun` for N ranks. Errors in the input print one
line on stderr (from rank 0) and exit with status 2 on every rank.
"""
from __future__ import annotations

import argparse
import sys

from fem.model import ModelError
from fem.scenario import ScenarioError, load_scenario


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fem", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a scenario and write the result file (HDF5)")
    run.add_argument("scenario", help="scenario file (YAML)")
    run.add_argument("-o", "--output", required=True, help="result file to write (HDF5)")
    run.add_argument("--xdmf", help="also write the mesh and velocity snapshots (every output.snapshots s) "
                                    "as XDMF+HDF5 at this path")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    mesh = sub.add_parser("mesh", help="mesh a scenario's model and report counts, quality and resolved frequency")
    mesh.add_argument("scenario", help="scenario file (YAML)")
    mesh.add_argument("--xdmf", help="write the mesh as XDMF+HDF5 at this path")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    try:
        scenario = load_scenario(args.scenario)
        if args.command == "mesh":
            from fem.mesh_cli import report_mesh
            if comm.rank == 0:
                report_mesh(scenario, args.xdmf)
            return 0
        from fem.run import run_scenario
        run_scenario(scenario, args.output, comm, xdmf=args.xdmf, progress=not args.quiet)
        return 0
    except (ScenarioError, ModelError) as err:
        if comm.rank == 0:
            print(f"error: {args.scenario}: {err}", file=sys.stderr)
        return 2
