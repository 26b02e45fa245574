"""Command line: `python -m fem run SCENARIO.yaml -o RESULT.h5 [--mesh MESH.npz]` and
`python -m fem mesh SCENARIO.yaml [--save MESH.npz]`.

Run under `mpiexec -n N` or `srun` for N ranks. Progress lines come from rank 0.

Exit status: 0 done; 2 bad input (the scenario, the model, an unmeshable
layer), found on every rank together, one line on stderr from rank 0; 1 a
failure at run time. A failure that every rank sees together (CG did not
converge) ends every rank cleanly; any other exception may have happened on
one rank only while the others wait in a collective call, so the failing rank
prints it and aborts the whole MPI job (comm.Abort) instead of hanging.
"""
from __future__ import annotations

import argparse
import sys
import traceback

from fem.model import ModelError
from fem.run import SolverError, run_scenario
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
    run.add_argument("--mesh", help="use this mesh file (from `python -m fem mesh --save`) instead of meshing")
    mesh = sub.add_parser("mesh", help="mesh a scenario's model and report counts, quality and resolved frequency")
    mesh.add_argument("scenario", help="scenario file (YAML)")
    mesh.add_argument("--xdmf", help="write the mesh as XDMF+HDF5 at this path")
    mesh.add_argument("--save", help="write the mesh (.npz) for `python -m fem run --mesh`")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    try:
        return _command(args, comm)
    except (ScenarioError, ModelError) as err:
        _report(comm, args.scenario, err)
        return 2
    except SolverError as err:
        _report(comm, args.scenario, err)
        return 1
    except Exception as err:  # possibly on this rank alone: the others may wait forever in a collective
        where = f" (rank {comm.rank} of {comm.size})" if comm.size > 1 else ""
        if isinstance(err, OSError):
            print(f"error{where}: {err}", file=sys.stderr, flush=True)
        else:
            traceback.print_exc()
            print(f"error{where}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        if comm.size > 1:
            comm.Abort(1)
        return 1


def _report(comm, scenario_path: str, err: Exception) -> None:
    """One line on stderr from rank 0, naming the scenario file once."""
    if comm.rank == 0:
        message = str(err)
        if not message.startswith(scenario_path):
            message = f"{scenario_path}: {message}"
        print(f"error: {message}", file=sys.stderr, flush=True)


def _command(args: argparse.Namespace, comm) -> int:
    scenario = load_scenario(args.scenario)
    if args.command == "mesh":
        from fem.mesh_cli import report_mesh
        if comm.rank == 0:
            mesh = report_mesh(scenario, args.xdmf)
            if args.save:
                from fem.mesh_file import save_mesh
                save_mesh(args.save, mesh, scenario)
        return 0
    run_scenario(scenario, args.output, comm, xdmf=args.xdmf, progress=not args.quiet, mesh_file=args.mesh)
    return 0
