"""Command line: `python -m fem run SCENARIO.yaml -o RESULT.h5 [--mesh MESH.npz]`,
`python -m fem run S1.yaml S2.yaml ... --output-dir OUT [--batch N]` (many scenarios in one
process, fem.run_batch) and `python -m fem mesh SCENARIO.yaml [--save MESH.npz]`.

Run under `mpiexec -n N` or `srun` for N ranks. Progress lines come from rank 0.

Exit status: 0 done; 2 bad input (the scenario, the model, an unmeshable
layer), found on every rank together, one line on stderr from rank 0; 1 a
failure at run time. With --output-dir each failing scenario gets its line and
no result file while the others run on; the exit status is then 2 if any
scenario was bad input, else 1 if any failed at run time. A failure that every rank sees together (CG did not
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
    run.add_argument("scenario", nargs="+", help="scenario file(s) (YAML)")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", help="result file to write (HDF5), for one scenario")
    where.add_argument("--output-dir", help="folder for OUT/STEM.h5, one per scenario (many scenarios in one process)")
    run.add_argument("--batch", type=int, default=32,
                     help="with --output-dir: at most this many scenarios advance together (default 32)")
    run.add_argument("--xdmf", help="also write the mesh and velocity snapshots (every output.snapshots s) "
                                    "as XDMF+HDF5 at this path")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--mesh", nargs="+", help="use these mesh files (from `python -m fem mesh --save`), one per "
                                               "scenario in the same order, instead of meshing")
    mesh = sub.add_parser("mesh", help="mesh a scenario's model and report counts, quality and resolved frequency")
    mesh.add_argument("scenario", help="scenario file (YAML)")
    mesh.add_argument("--xdmf", help="write the mesh as XDMF+HDF5 at this path")
    mesh.add_argument("--save", help="write the mesh (.npz) for `python -m fem run --mesh`")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.output is not None and len(args.scenario) > 1:
            parser.error("-o takes one scenario; use --output-dir OUT for several")
        if args.mesh is not None and len(args.mesh) != len(args.scenario):
            parser.error(f"--mesh: {len(args.mesh)} mesh file(s) for {len(args.scenario)} scenario(s)")
        if args.output_dir is not None and args.xdmf:
            parser.error("--xdmf takes one scenario with -o")
    scenario_name = args.scenario[0] if args.command == "run" else args.scenario
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    try:
        return _command(args, comm)
    except (ScenarioError, ModelError) as err:
        _report(comm, scenario_name, err)
        return 2
    except SolverError as err:
        _report(comm, scenario_name, err)
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
    if args.command == "run" and args.output_dir is not None:
        from fem.run_batch import run_scenarios
        meshes = dict(zip(args.scenario, args.mesh)) if args.mesh else None
        failed = run_scenarios(args.scenario, args.output_dir, comm, args.batch, not args.quiet, meshes)
        return max(failed.values(), default=0)
    scenario = load_scenario(args.scenario[0] if args.command == "run" else args.scenario)
    if args.command == "mesh":
        from fem.mesh_cli import report_mesh
        if comm.rank == 0:
            mesh = report_mesh(scenario, args.xdmf)
            if args.save:
                from fem.mesh_file import save_mesh
                save_mesh(args.save, mesh, scenario)
        return 0
    run_scenario(scenario, args.output, comm, xdmf=args.xdmf, progress=not args.quiet,
                 mesh_file=args.mesh[0] if args.mesh else None)
    return 0

