"""Moment-tensor point source in a homogeneous medium against Aki & Richards' full-space solution.

A regular 10-node tetrahedral mesh (fem.box_mesh) keeps the cost predictable.
The box is absorbing on its sides and bottom and free on top; the comparison
window closes before the first echo from any face (free surface included)
can reach a receiver, from the source's onset (t0 - 2.5 sigma) along the
mirror-image path 2L - d at the P speed.

Accuracy is limited by how a point source is represented on a finite mesh:
the error is the near field's, concentrated within a few elements of the
source, and falls with the element size h at about second order (a singular
load lowers P2's order). Measured, receivers 80 m from the source, relative
L2 misfit at the four receivers:
  h = 32 m (152k dofs): 14.1, 12.8, 9.5, 4.6 %
  h = 24 m (353k dofs):  7.5,  5.7, 4.9, 3.0 %
  h = 20.6 m (556k dofs): 4.4, 3.4, 3.4, 1.8 %   <- this test (~2-3 min on one core)
The time step is not the limit: halving dt from 0.002 s changes no misfit by
more than 0.1 %, and dt = 0.004 s (31 steps per period at 8 Hz, where the
pulse's spectrum has fallen to 4 % of its peak) by at most 0.4 %.
"""
import numpy as np
from mpi4py import MPI

from fem.box_mesh import box_mesh
from fem.exact.fullspace import fullspace_velocity
from fem.point_source import moment_function
from fem.run import simulate
from fem.scenario import parse_scenario
from tests.fem_cases import relative_l2

VP, VS, RHO = 1500.0, 1000.0, 2000.0
HALF = 288.0                       # source depth and half-width of the box, m
DIVISIONS = 28                     # hexahedra per box edge (20.6 m), 6 tetrahedra each
SIGMA, DISTANCE = 0.05, 80.0       # smooth-step width (s), source-receiver distance (m)
SOURCE = np.array([HALF + 5.0, HALF + 3.0, -HALF - 4.0])   # off the mesh's symmetry planes
DIRECTIONS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.8, 0.0], [0.48, 0.36, -0.8]])
RECEIVERS = SOURCE + DISTANCE * DIRECTIONS
T0 = 3.0 * SIGMA

SCENARIO = f"""
model:
  domain: {{x: [0.0, {2 * HALF}], y: [0.0, {2 * HALF}], z_bottom: {-2 * HALF}}}
  surfaces: [{{name: ground, elevation: 0.0}}]
  layers: [{{vp: {VP}, vs: {VS}, rho: {RHO}}}]
mesh: {{order: 2, f_max: 10.0}}
time: {{duration: {T0 + 2 * HALF / VP}, dt: 0.004}}
source:
  type: moment_tensor
  position: {SOURCE.tolist()}
  tensor: {{mxy: 1.0e13, mzz: 4.0e12, mxz: -3.0e12}}
  time_function: {{type: smooth_step, rise_time: {SIGMA}, t0: {T0}}}
receivers:
  interior: {RECEIVERS.tolist()}
solver: {{rtol: 1.0e-9}}
"""


def test_point_source_matches_the_full_space_solution_before_reflections():
    sc = parse_scenario(SCENARIO)
    mesh = box_mesh([[0, 2 * HALF], [0, 2 * HALF], [-2 * HALF, 0]], [DIVISIONS] * 3, order=2)
    xyz, v, stats = simulate(sc, mesh, MPI.COMM_SELF)
    t = np.arange(stats.steps + 1) * sc.time.dt
    exact = fullspace_velocity(sc.source.tensor, lambda s: moment_function(sc.source.time_function, s),
                               VP, VS, RHO, SOURCE, RECEIVERS, t)
    window = t < T0 - 2.5 * SIGMA + (2 * HALF - DISTANCE) / VP
    errors = [relative_l2(v[r][:, window], exact[r][:, window]) for r in range(len(RECEIVERS))]
    overall = relative_l2(v[:, :, window], exact[:, :, window])
    assert max(errors) < 0.05, errors     # the 5 % asked for, at every receiver
    assert overall < 0.04, (overall, errors)
