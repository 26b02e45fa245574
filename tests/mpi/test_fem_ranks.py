"""Rank-count invariance of the whole solver: N ranks give the 1-rank traces to 1e-8 relative.

Run with `mpiexec -n N python -m pytest -q -p no:cacheprovider tests/mpi/test_fem_ranks.py`
(tests/test_mpi_suites.py does so for N = 1, 2, 3). The model has topography
(the ground surface is a control grid) and dipping layer boundaries (b12 and
b23 control grids), so partitions cut through curved interfaces and the
free-field sides of a laterally varying column. The mesh is built once on
rank 0 and broadcast; rank 0 runs it alone on COMM_SELF, then every rank runs
it together on COMM_WORLD. With CG converged to 1e-12, what is left between
the two is round-off from the different summation orders of the partitioned
dot products and matvecs.
"""
import time

import numpy as np
import pytest
from mpi4py import MPI

from fem.exact.fullspace import fullspace_velocity
from fem.point_source import moment_function
from fem.run import mesh_for, simulate
from fem.scenario import parse_scenario

MODEL = """
model:
  domain: {x: [0.0, 40.0], y: [0.0, 40.0], z_bottom: -60.0}
  surfaces:
    - {name: ground, elevation: [[2.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 3.0]]}
    - {name: b12, elevation: [[-19.0, -23.0], [-17.0, -21.0]]}
    - {name: b23, elevation: [[-38.0, -42.0], [-36.0, -40.0]]}
  layers:
    - {vp: 600.0, vs: 250.0, rho: 1800.0, damping: 0.02}
    - {vp: 1200.0, vs: 500.0, rho: 1900.0, damping: 0.01}
    - {vp: 2000.0, vs: 900.0, rho: 2100.0, damping: 0.0}
solver: {rtol: 1.0e-12}
receivers:
  grid: {nx: 2, ny: 2}
  points: [[20.0, 20.0], [1.0, 39.0]]
"""

# order 2 (the production element), ~6k dofs; the surface peak arrives at ~0.36 s
PLANE_WAVE = MODEL + """
mesh: {order: 2, f_max: 3.0, elements_per_wavelength: 3.0}
time: {duration: 0.4, dt: 0.01}
source:
  type: plane_wave
  component: x
  wavelet: {type: ricker, f0: 5.0, t0: 0.22, amplitude: 0.01}
"""

# order 1, in the stiff bottom layer, below the dipping b23
SOURCE = np.array([22.0, 18.0, -50.0])
MOMENT_TENSOR = MODEL + f"""
mesh: {{order: 1, f_max: 6.0, elements_per_wavelength: 4.0}}
time: {{duration: 0.2, dt: 0.004}}
source:
  type: moment_tensor
  position: {SOURCE.tolist()}
  tensor: {{mxy: 1.0e10, mzz: 4.0e9, mxz: -3.0e9}}
  time_function: {{type: smooth_step, rise_time: 0.015, t0: 0.05}}
"""


def wait_quietly(comm: MPI.Comm) -> None:
    """Barrier that sleeps instead of spinning, so idle ranks leave the cores to rank 0's serial run."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.005)


def one_and_n_ranks(text: str):
    """(scenario, station xyz (R, 3), 1-rank and N-rank velocity (R, 3, T)) on every rank, same mesh."""
    comm = MPI.COMM_WORLD
    scenario = parse_scenario(text)
    mesh = mesh_for(scenario, comm)               # gmsh on rank 0, broadcast
    serial = None
    if comm.rank == 0:
        _, serial, _ = simulate(scenario, mesh, MPI.COMM_SELF)
    wait_quietly(comm)
    xyz, parallel, _ = simulate(scenario, mesh, comm)
    serial, parallel = comm.bcast((serial, parallel), root=0)
    return scenario, xyz, serial, parallel


@pytest.fixture(scope="module")
def plane_wave():
    return one_and_n_ranks(PLANE_WAVE)


@pytest.fixture(scope="module")
def moment_tensor():
    return one_and_n_ranks(MOMENT_TENSOR)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| over all stations, components and times."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_plane_wave_traces_do_not_depend_on_the_rank_count(plane_wave):
    _, _, serial, parallel = plane_wave
    assert relative_difference(parallel, serial) < 1e-8


def test_plane_wave_is_amplified_at_the_surface(plane_wave):
    # an incident S wave doubles at a free surface and grows further in the soft
    # top layer; well below 1.5x or above 6x would mean a broken load or boundary
    scenario, _, serial, _ = plane_wave
    peak = np.abs(serial[:, 0]).max(axis=-1)
    amplitude = scenario.source.wavelet.amplitude
    assert np.all((peak > 1.5 * amplitude) & (peak < 6.0 * amplitude)), peak / amplitude
    # the x-polarised wave barely leaks into y and z on these gentle slopes
    assert np.abs(serial[:, 1:]).max() < 0.25 * peak.max()


def test_moment_tensor_traces_do_not_depend_on_the_rank_count(moment_tensor):
    _, _, serial, parallel = moment_tensor
    assert relative_difference(parallel, serial) < 1e-8


def test_moment_tensor_amplitude_is_of_the_full_space_order(moment_tensor):
    # free surface and layering change the amplitude by a small factor, not by orders of magnitude
    scenario, xyz, serial, _ = moment_tensor
    src = scenario.source
    t = np.arange(serial.shape[-1]) * scenario.time.dt
    layer = scenario.model.layers[2]
    reference = fullspace_velocity(src.tensor, lambda s: moment_function(src.time_function, s),
                                   layer.vp, layer.vs, layer.rho, src.position, xyz, t)
    ratio = np.abs(serial).max() / np.abs(reference).max()
    assert 0.3 < ratio < 10.0, ratio
