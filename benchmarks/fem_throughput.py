"""FEM throughput on 1 and 2 MPI ranks: a layered box of >= 300k dofs, a few tens of Newmark steps.

    python benchmarks/fem_throughput.py [--divisions 24 24 22] [--steps 30] [--ranks 1 2]

For each rank count the script runs itself under `mpiexec -n N ... --worker`
and prints: dofs, CG iterations per step, seconds per step, dof*steps/s per
rank, the parallel efficiency against one rank (t_1 / (N t_N), target >= 0.8),
the CG iterations per step without the initial-guess predictor (order 0 vs 2),
and the time of one matvec of the step matrix against a memory-bandwidth bound
measured in the same process: a numpy stream triad (a = b + s c) over the same
number of bytes the matvec must move (hpc.DistributedMatrix.nbytes: values,
block column indices and row pointers; x read once, y written once). All ranks time their
matvec and triad at the same moment, so the bound includes the bandwidth the
ranks share. Medians over repetitions.

Mesh: structured Kuhn tetrahedra of order 2 (fem.box_mesh), three flat layers
(vs 200 / 500 / 900 m/s) on a box of 10 m hexahedra; load: a vertically incident
S plane wave with free-field sides (Ricker, f0 = 2 Hz, t0 = 0.6 s). Its load
is small but smooth during the first steps; CG works to a relative tolerance,
so every step does full work. (A wavelet cut off at t = 0 would start with a
jump, whose unresolved high-frequency response defeats the extrapolating
predictor and is not what a run sees.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEX = 10.0           #: m, hexahedron edge of the structured mesh
DT = 0.005           #: s, time step (about 1/(60 f) at the 3 Hz this mesh resolves with n = 4)
REPEATS = 30         #: matvec / triad repetitions (medians)


def scenario_text(nx: int, ny: int, nz: int, duration: float, predictor_order: int) -> str:
    x, y, depth = nx * HEX, ny * HEX, nz * HEX
    b12, b23 = -round(0.2 * nz) * HEX, -round(0.5 * nz) * HEX  # interfaces on grid planes
    return (f"model:\n  domain: {{x: [0.0, {x}], y: [0.0, {y}], z_bottom: {-depth}}}\n"
            f"  surfaces:\n    - {{name: ground, elevation: 0.0}}\n    - {{name: b12, elevation: {b12}}}\n"
            f"    - {{name: b23, elevation: {b23}}}\n"
            f"  layers:\n    - {{vp: 600.0, vs: 200.0, rho: 1800.0, damping: 0.02}}\n"
            f"    - {{vp: 1200.0, vs: 500.0, rho: 1900.0, damping: 0.01}}\n"
            f"    - {{vp: 2000.0, vs: 900.0, rho: 2100.0, damping: 0.0}}\n"
            f"mesh: {{order: 2, f_max: 3.0}}\n"
            f"time: {{duration: {duration}, dt: {DT}}}\n"
            f"source:\n  type: plane_wave\n  component: x\n"
            f"  wavelet: {{type: ricker, f0: 2.0, t0: 0.6, amplitude: 0.01}}\n"
            f"receivers:\n  points: [[{x / 2}, {y / 2}]]\n"
            f"solver: {{predictor_order: {predictor_order}}}\n")


def matvec_and_triad(comm, mesh, scenario) -> dict:
    """Median seconds of one step-matrix matvec and of a stream triad over the same bytes (max over ranks)."""
    from fem.materials import cell_material
    from hpc.distributed import DistributedMatrix
    from hpc.halo import Halo
    from hpc.layout import local_layout
    from hpc.partition import partition_cells
    from fem.assembly import assemble, stiffness_matrices

    part = comm.bcast(partition_cells(mesh.cells, comm.size) if comm.rank == 0 else None, root=0)
    layout = local_layout(mesh.cells, part, comm.rank, mesh.n_nodes)
    halo = Halo.from_layout(comm, layout, block=3)
    material = cell_material(scenario.model, mesh.layer[layout.cells], scenario.solver.rayleigh_band)
    points = mesh.points[layout.nodes]
    # the stiffness has the sparsity of the step matrix M + c_C C + c_K K (same cells, same nodes)
    K = assemble(layout.local_cells, stiffness_matrices(points, layout.local_cells, material.lam, material.mu),
                 layout.n_local)
    A = DistributedMatrix(K, halo)
    x = np.random.default_rng(comm.rank).standard_normal(halo.n_local_dofs)
    halo.forward(x)
    y = np.empty_like(x)
    n = halo.n_local_dofs
    nnz = K.nnz
    matvec_bytes = A.nbytes + 8 * n + 8 * n  # the stored matrix, x read once, y written once
    m = matvec_bytes // 24
    a, b, c = np.zeros(m), np.ones(m), np.full(m, 2.0)

    def timed(fn) -> float:
        samples = []
        for _ in range(REPEATS):
            comm.Barrier()
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        return float(np.median(samples))

    def triad():
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)  # numpy has no fused triad: two passes, a is read and written twice

    t_matvec = timed(lambda: A.matvec(x, y))
    # the storage choice alone, without communication: the local product in CSR and in 3x3 BSR
    from hpc.distributed import _compact, _product
    csr, bsr = _compact(K, 1), _compact(K, 3)
    t_local_csr = timed(lambda: _product(csr, x, y))
    t_local_bsr = timed(lambda: _product(bsr, x, y))
    t_triad_two_pass = timed(triad)
    # the two-pass triad moves 40 B per element (c, a / a, b, a) instead of 24: scale to the bytes asked for
    t_bound = t_triad_two_pass * 24.0 / 40.0
    return {"matvec_s": comm.allreduce(t_matvec, op=max_op()), "bound_s": comm.allreduce(t_bound, op=max_op()),
            "matvec_bytes": comm.allreduce(matvec_bytes), "nnz": comm.allreduce(nnz),
            "local_csr_s": comm.allreduce(t_local_csr, op=max_op()),
            "local_bsr_s": comm.allreduce(t_local_bsr, op=max_op())}


def max_op():
    from mpi4py import MPI
    return MPI.MAX


def worker(args) -> None:
    from mpi4py import MPI
    from fem.box_mesh import box_mesh
    from fem.run import simulate
    from fem.scenario import parse_scenario

    comm = MPI.COMM_WORLD
    nx, ny, nz = args.divisions
    duration = args.steps * DT
    b12, b23 = -round(0.2 * nz) * HEX, -round(0.5 * nz) * HEX
    mesh = box_mesh([[0, nx * HEX], [0, ny * HEX], [-nz * HEX, 0]], (nx, ny, nz), order=2, interfaces=[b12, b23])
    out = {"ranks": comm.size}
    for order in (2, 0) if args.predictors else (2,):
        sc = parse_scenario(scenario_text(nx, ny, nz, duration, order))
        _, _, stats = simulate(sc, mesh, comm)
        out[f"predictor{order}"] = {"dofs": stats.dofs, "steps": stats.steps,
                                     "cg_per_step": float(np.mean(stats.cg_iterations)),
                                     "seconds_steps": comm.allreduce(stats.seconds_steps, op=MPI.MAX),
                                     "seconds_setup": comm.allreduce(stats.seconds_setup, op=MPI.MAX)}
    out.update(matvec_and_triad(comm, mesh, sc))
    if comm.rank == 0:
        Path(args.json).write_text(json.dumps(out))


def run_ranks(ranks: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.json"
        cmd = ["mpiexec", "-n", str(ranks), sys.executable, __file__, "--worker", "--json", str(path),
               "--steps", str(args.steps), "--divisions", *map(str, args.divisions)]
        if not args.predictors:
            cmd.append("--no-predictors")
        done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode != 0:
            sys.exit(f"error: the {ranks}-rank run failed (exit {done.returncode})")
        return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--divisions", type=int, nargs=3, default=[24, 24, 22], help="hexahedra along x, y, z")
    p.add_argument("--steps", type=int, default=30, help="Newmark steps per run")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="rank counts (the first is the baseline)")
    p.add_argument("--no-predictors", dest="predictors", action="store_false",
                   help="skip the predictor-order-0 run (CG iterations without the initial guess)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.divisions) < 5 or args.steps < 1:
        sys.exit("error: --divisions must be >= 5 each and --steps >= 1")
    if args.worker:
        worker(args)
        return 0
    runs = [run_ranks(r, args) for r in args.ranks]
    base = runs[0]["predictor2"]
    t_base = base["seconds_steps"] / base["steps"]
    print(f"{'ranks':>5} {'dofs':>8} {'CG/step':>8} {'s/step':>8} {'dof*step/s/rank':>16} {'efficiency':>10} "
          f"{'CG/step p0':>10} {'matvec ms':>9} {'bound ms':>9} {'matvec/bound':>12}")
    for run in runs:
        s = run["predictor2"]
        t_step = s["seconds_steps"] / s["steps"]
        throughput = s["dofs"] * s["steps"] / s["seconds_steps"] / run["ranks"]
        efficiency = t_base * runs[0]["ranks"] / (t_step * run["ranks"])
        p0 = f"{run['predictor0']['cg_per_step']:10.1f}" if "predictor0" in run else f"{'-':>10}"
        print(f"{run['ranks']:>5} {s['dofs']:>8} {s['cg_per_step']:>8.1f} {t_step:>8.3f} {throughput:>16.3g} "
              f"{efficiency:>10.2f} {p0} {1e3 * run['matvec_s']:>9.2f} {1e3 * run['bound_s']:>9.2f} "
              f"{run['matvec_s'] / run['bound_s']:>12.2f}")
    for run in runs:
        print(f"{run['ranks']} rank(s): local product (no halo) CSR {1e3 * run['local_csr_s']:.2f} ms, "
              f"3x3 BSR {1e3 * run['local_bsr_s']:.2f} ms, CSR/BSR {run['local_csr_s'] / run['local_bsr_s']:.2f}")
    print(f"matvec: {runs[0]['nnz']} nonzeros, {runs[0]['matvec_bytes'] / 1e6:.0f} MB moved per product (1 rank); "
          f"bound = stream triad over the same bytes; efficiency = t_1 / (N t_N), target >= 0.80")
    return 0


if __name__ == "__main__":
    sys.exit(main())
