"""GPU check of the torch backend of the batched solve (hpc.torch_batched): speed on CUDA, equality with numpy.

    python benchmarks/gpu_check.py                         # a machine with a GPU: about 1-2 minutes
    python benchmarks/gpu_check.py --device cpu --dofs 2e5 # anywhere (CI-sized)

What it builds. --models ground models drawn from the benchmark configuration
(`python -m surrogate generate --base config/scenarios/benchmark.yaml --n 8
--seed 7 --fixed-layers`), each meshed as a fem.column_mesh of one common
topology (the largest counts any of them asks for, so that they form one
fem.batch batch: same cells, other coordinates and materials) and assembled
on one rank as fem.batch does: the Newmark step matrix M + dt/2 C + dt^2/4 K
(mass, stiffness, Rayleigh damping, Lysmer dashpots) and the plane-wave load
at the middle step as right-hand side. The distinct systems (14,739 dofs
each for the default 8 models of seed 7) are repeated, values and all, until
the batch holds --dofs dofs (3e6: 204 cases, about 2 GB of matrix values
with the 'csr' kernel's copy); one sparsity pattern, as in a run.

What it checks, in this order (each line printed as it completes):

1. equality, CPU (numpy: hpc.batched, hpc.batched_cg) against the device
   (torch): the batched product of the distinct cases (max relative
   difference, must be < 1e-12) and their PCG solutions at the scenario's
   rtol (relative difference < 1e-9, iterations within one, no failure);
2. the batched product of the whole batch on the device for each kernel
   (bsr: cuSPARSE bsrmv on the stacked BSR tensor; csr: cuSPARSE SpMV on the
   stacked scalar CSR tensor; gather: the shared pattern once, gather +
   batched 3x3 matmul + index_add): median seconds, dofs/s, and GB/s of
   matrix values + indices + the two vectors;
3. the block-Jacobi application (batched 3x3 matmul vs block-diagonal BSR);
4. the batched PCG of the whole batch from a zero guess at the scenario's
   rtol (1e-8), for skip 'span' (one launch per operation; the CUDA default)
   and 'runs': wall time, iterations, and dof*iterations/s = sum over cases
   of dofs x the case's iterations / seconds, against the target 1.5e9 on
   one H100 (issue #12); the numpy path's figure on this machine's CPU (one
   thread, the distinct cases) is printed next to it.

The last line is a JSON summary. Exit status 1 when an equality check fails
(the speed target only prints BELOW TARGET).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 1.5e9   #: dof*iterations/s of the batched PCG on one H100 (issue #12)


def log(message: str) -> None:
    print(message, flush=True)


def draw_scenarios(n: int, seed: int, folder: str) -> list[str]:
    subprocess.run([sys.executable, "-m", "surrogate", "generate", "--base",
                    str(ROOT / "config/scenarios/benchmark.yaml"), "--n", str(n), "--seed", str(seed),
                    "--fixed-layers", "--out", folder], check=True, cwd=ROOT, capture_output=True)
    return sorted(glob.glob(os.path.join(folder, "*.yaml")))


def build_systems(paths: list[str]):
    """(step matrices, right-hand sides (N, n), halo) of the scenarios on one rank, one column topology."""
    from mpi4py import MPI

    from fem.boundary import boundary_faces, classify_box_sides
    from fem.column_mesh import ColumnTopology, build_column_mesh, scenario_topology
    from fem.discretize import assemble_local
    from fem.freefield import plane_wave_load
    from fem.materials import cell_material, layer_rayleigh
    from fem.scenario import load_scenario
    from hpc.halo import Halo
    from hpc.layout import local_layout

    scenarios = [load_scenario(p) for p in paths]
    tops = [scenario_topology(s) for s in scenarios]
    top = ColumnTopology(max(t.nx for t in tops), max(t.ny for t in tops),
                         tuple(max(levels) for levels in zip(*[t.levels for t in tops])), tops[0].order)
    meshes = [build_column_mesh(s.model, top) for s in scenarios]
    first = meshes[0]
    part = np.zeros(first.n_cells, dtype=np.int64)
    layout = local_layout(first.cells, part, 0, first.n_nodes)
    halo = Halo.from_layout(MPI.COMM_SELF, layout, block=3)
    bf = boundary_faces(first.points, first.cells)
    model0 = scenarios[0].model
    side = classify_box_sides(first.points, bf.faces, model0.x, model0.y, model0.z_bottom)
    g2l = np.full(first.n_nodes, -1, dtype=np.int64)
    g2l[layout.nodes] = np.arange(layout.n_local)
    faces, face_layer = g2l[bf.faces], first.layer[bf.cell]
    tc = scenarios[0].time
    t = np.arange(tc.n_steps + 1) * tc.dt
    c_c, c_k = 0.5 * tc.dt, 0.25 * tc.dt**2
    matrices, rhs = [], []
    for s, mesh in zip(scenarios, meshes):
        model, band = s.model, s.solver.rayleigh_band
        points = mesh.points[layout.nodes]
        material = cell_material(model, mesh.layer[layout.cells], band)
        system = assemble_local(points, layout.local_cells, material, faces, side, model.property_at("vp", face_layer),
                                model.property_at("vs", face_layer), model.property_at("rho", face_layer))
        matrices.append((system.mass + c_c * system.damping + c_k * system.stiffness).tocsr())
        load = plane_wave_load(model, layer_rayleigh(model, band), s.source, t, points, faces, side, face_layer,
                               3 * layout.n_local)
        rhs.append(load.force(tc.n_steps // 2))
    return matrices, np.array(rhs), halo, top, scenarios[0].solver


def timed(fn, sync, repeats: int) -> float:
    """Median seconds of fn() over repeats (after one warm-up call)."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dofs", type=float, default=3e6, help="total dofs of the batch (default 3e6)")
    parser.add_argument("--models", type=int, default=8, help="distinct drawn models (default 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenarios", help="use these scenario files' folder instead of drawing models")
    parser.add_argument("--kernels", nargs="+", default=["bsr", "csr", "gather"])
    parser.add_argument("--repeats", type=int, default=20, help="matvec repetitions (medians)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from hpc.batched import BatchedMatrix, BlockJacobi
    from hpc.batched_cg import pcg_batched
    from hpc.torch_batched import TorchBatchedMatrix, TorchBlockJacobi, pcg_batched_torch, resolve_device

    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    log(f"gpu_check: torch {torch.__version__} on {device} ({name})")
    summary: dict = {"device": str(device), "device_name": name, "torch": torch.__version__}
    ok = True

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = (sorted(glob.glob(os.path.join(args.scenarios, "*.yaml"))) if args.scenarios
                 else draw_scenarios(args.models, args.seed, tmp))
        distinct, rhs_distinct, halo, top, solver = build_systems(paths[:args.models])
    n = halo.n_local_dofs
    N = len(distinct)
    C = max(N, int(round(args.dofs / n)))
    cases = [distinct[c % N] for c in range(C)]
    rhs = np.stack([rhs_distinct[c % N] for c in range(C)])
    nnz = distinct[0].nnz
    log(f"built {N} distinct systems of {n} dofs ({nnz} nonzeros, topology {top.nx}x{top.ny}x{sum(top.levels)}) "
        f"in {time.perf_counter() - t0:.1f}s; batch: {C} cases, {C * n / 1e6:.2f}M dofs, rtol {solver.rtol:g}")
    summary.update(dofs_per_case=n, cases=C, total_dofs=C * n, rtol=solver.rtol)

    # 1. equality with numpy on the distinct cases
    t0 = time.perf_counter()
    ref = BatchedMatrix(distinct, halo)
    ref_m = BlockJacobi(ref)
    x = np.random.default_rng(0).standard_normal((N, n))
    y_ref = ref.matvec(x)
    t_np = time.perf_counter()
    ref_cg = pcg_batched(ref, rhs_distinct, np.zeros_like(rhs_distinct), ref_m, np.arange(N), solver.rtol,
                         solver.max_iterations)
    t_np = time.perf_counter() - t_np
    np_rate = float(n * ref_cg.iterations.sum() / t_np)
    log(f"numpy (CPU, {N} cases): PCG {t_np:.2f}s, iterations {ref_cg.iterations.tolist()}, "
        f"{np_rate:.3g} dof*it/s")
    summary["numpy_cpu_dof_it_per_s"] = np_rate

    t1 = time.perf_counter()
    A = TorchBatchedMatrix(cases, halo, device)
    M = TorchBlockJacobi(A)
    sync()
    log(f"device matrices: kernel {A.kernel}, shared pattern {A.shared}, {A.nbytes / 1e9:.2f} GB, "
        f"built in {time.perf_counter() - t1:.1f}s")
    xt = torch.zeros((C, n), dtype=torch.float64, device=device)
    xt[:N] = torch.from_numpy(x).to(device)
    yt = A.matvec(xt)
    mv_err = max(float(np.abs(yt[c].cpu().numpy() - y_ref[c]).max() / np.abs(y_ref[c]).max()) for c in range(N))
    b = torch.from_numpy(rhs).to(device)
    res = pcg_batched_torch(A, b, None, M, np.arange(C), solver.rtol, solver.max_iterations)
    sync()
    cg_err = max(float(np.abs(res.x[c].cpu().numpy() - ref_cg.x[c]).max() / np.abs(ref_cg.x[c]).max())
                 for c in range(N))
    its_diff = int(np.abs(res.iterations[:N] - ref_cg.iterations).max())
    same = mv_err < 1e-12 and cg_err < 1e-9 and its_diff <= 1 and not res.failed and not ref_cg.failed
    ok &= same
    log(f"equality CPU(numpy) vs {device.type}(torch): matvec {mv_err:.2e}, PCG solution {cg_err:.2e}, "
        f"iterations differ by <= {its_diff}, failed {sorted(res.failed)} -> {'OK' if same else 'MISMATCH'} "
        f"({time.perf_counter() - t0:.1f}s)")
    summary.update(matvec_rel_diff=mv_err, pcg_rel_diff=cg_err, iterations_diff=its_diff, equal=bool(same))
    del res

    # 2. the batched product, per kernel
    vector_bytes = 2 * C * n * 8
    for kernel in args.kernels:
        try:
            Ak = A if kernel == A.kernel else TorchBatchedMatrix(cases, halo, device, kernel=kernel)
        except Exception as err:  # noqa: BLE001 - report a kernel the device lacks, go on
            log(f"matvec {kernel}: not available ({type(err).__name__}: {str(err)[:120]})")
            continue
        out = torch.empty_like(xt)
        all_cases = np.arange(C)
        ranges = Ak.spans(all_cases)
        seconds = timed(lambda: Ak.product(xt, out, ranges), sync, args.repeats)
        diff = float((out[:N] - yt[:N]).abs().max() / yt[:N].abs().max())
        log(f"matvec {kernel:6s}: {seconds * 1e3:8.3f} ms  {C * n / seconds:.3g} dof/s  "
            f"{(Ak.nbytes + vector_bytes) / seconds / 1e9:7.1f} GB/s  (vs bsr {diff:.1e})")
        summary[f"matvec_{kernel}_s"] = seconds
        if Ak is not A:
            del Ak
            if device.type == "cuda":
                torch.cuda.empty_cache()

    # 3. the preconditioner
    z = torch.empty_like(xt)
    for method in ("matmul", "sparse"):
        try:
            Mm = M if method == M.method else TorchBlockJacobi(A, method)
            seconds = timed(lambda: Mm.apply(yt, z, ranges=[(0, C)]), sync, args.repeats)
            log(f"block Jacobi {method:6s}: {seconds * 1e3:8.3f} ms")
            summary[f"jacobi_{method}_s"] = seconds
        except Exception as err:  # noqa: BLE001
            log(f"block Jacobi {method}: not available ({type(err).__name__}: {str(err)[:120]})")

    # 4. the batched PCG of the whole batch
    for skip in ("span", "runs"):
        A.skip = skip
        timings = []
        for _ in range(2):
            sync()
            t1 = time.perf_counter()
            res = pcg_batched_torch(A, b, None, M, np.arange(C), solver.rtol, solver.max_iterations)
            sync()
            timings.append(time.perf_counter() - t1)
        seconds = min(timings)
        rate = float(n * res.iterations.sum() / seconds)
        verdict = "meets" if rate >= TARGET else "BELOW TARGET"
        log(f"PCG skip={skip}: {seconds:.3f}s, iterations {res.iterations.min()}..{res.iterations.max()} "
            f"(mean {res.iterations.mean():.1f}), {rate:.3g} dof*it/s, {rate / np_rate:.1f}x numpy; "
            f"target {TARGET:.2g}: {verdict}")
        summary[f"pcg_{skip}_s"] = seconds
        summary[f"pcg_{skip}_dof_it_per_s"] = rate
        del res
    if device.type == "cuda":
        summary["max_memory_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    log(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
