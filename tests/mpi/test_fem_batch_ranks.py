"""The multi-case FEM under N ranks: a batch equals its cases run alone on the same ranks (1e-10), and the
one-rank runs (1e-8, round-off of the partitioned sums with CG converged to 1e-12).

Run with `mpiexec -n N python -m pytest -q -p no:cacheprovider tests/mpi/test_fem_batch_ranks.py`
(tests/test_mpi_suites.py does so for N = 1, 2, 3). Three ground models on one mesh (the same
geometry with topography and dipping boundaries, different layer properties), so the batch shares
one partition and halo while every case has its own matrices, loads and CG scalars.
"""
import numpy as np
from mpi4py import MPI

from fem.batch import simulate_batch
from fem.run import mesh_for
from fem.scenario import parse_scenario

GEOMETRY = """
model:
  domain: {x: [0.0, 40.0], y: [0.0, 40.0], z_bottom: -40.0}
  surfaces:
    - {name: ground, elevation: [[2.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 3.0]]}
    - {name: b12, elevation: [[-15.0, -19.0], [-13.0, -17.0]]}
  layers:
    - {vp: VP0, vs: VS0, rho: 1800.0, damping: 0.02}
    - {vp: 1500.0, vs: VS1, rho: 2000.0, damping: 0.01}
mesh: {order: 1, f_max: 3.0, elements_per_wavelength: 4.0}
time: {duration: 0.3, dt: 0.01}
source:
  type: plane_wave
  component: x
  wavelet: {type: ricker, f0: 5.0, t0: 0.2, amplitude: 0.01}
receivers:
  grid: {nx: 3, ny: 3}
  points: [[20.0, 20.0]]
solver: {rtol: 1.0e-12}
"""
PROPERTIES = [(600.0, 250.0, 700.0), (650.0, 280.0, 600.0), (560.0, 230.0, 750.0)]


def scenarios():
    out = []
    for vp0, vs0, vs1 in PROPERTIES:
        text = GEOMETRY.replace("VP0", str(vp0)).replace("VS0", str(vs0)).replace("VS1", str(vs1))
        out.append(parse_scenario(text))
    return out


def test_batch_on_n_ranks_equals_single_cases_and_one_rank():
    comm = MPI.COMM_WORLD
    sc = scenarios()
    mesh = mesh_for(sc[0], comm)
    together, _ = simulate_batch(sc, [mesh] * len(sc), comm)
    serial = None
    if comm.rank == 0:
        serial, _ = simulate_batch(sc, [mesh] * len(sc), MPI.COMM_SELF)
    for c, scenario in enumerate(sc):
        (alone,), _ = simulate_batch([scenario], [mesh], comm)
        assert together[c].error is None and alone.error is None
        np.testing.assert_array_equal(together[c].cg_iterations, alone.cg_iterations)
        if comm.rank == 0:
            scale = np.abs(alone.velocity).max()
            assert scale > 1e-4
            assert np.abs(together[c].velocity - alone.velocity).max() <= 1e-10 * scale
            assert np.abs(together[c].velocity - serial[c].velocity).max() <= 1e-8 * scale
