"""Newmark-beta (average acceleration): energy conservation and dissipation, second-order accuracy."""
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from fem.assembly import assemble, face_matrix, mass_matrices, stiffness_matrices
from fem.boundary import TOP, boundary_faces, classify_box_sides
from fem.box_mesh import box_mesh
from fem.newmark import Newmark, NewmarkState


def system(order=2):
    mesh = box_mesh([[0, 40], [0, 30], [-20, 0]], [4, 3, 2], order=order)
    lam, mu, rho = 2e9, 1e9, 2000.0
    K = assemble(mesh.cells, stiffness_matrices(mesh.points, mesh.cells, lam, mu), mesh.n_nodes)
    M = assemble(mesh.cells, mass_matrices(mesh.points, mesh.cells, rho), mesh.n_nodes)
    bf = boundary_faces(mesh.points, mesh.cells)
    side = classify_box_sides(mesh.points, bf.faces)
    absorbing = bf.faces[side != TOP]
    C = face_matrix(mesh.points, absorbing, np.full((len(absorbing), 3), rho * 1000.0), mesh.n_nodes)
    return mesh, M.tocsc(), K.tocsc(), C.tocsc()


def integrate(M, K, C, u0, dt, steps):
    """Free vibration from rest at displacement u0; returns the energy after each step."""
    coef_c, coef_k = 0.5 * dt, 0.25 * dt * dt
    lu = spla.splu((M + coef_c * C + coef_k * K).tocsc())
    scheme = Newmark(dt, lambda v: C @ v, lambda u: K @ u, lambda rhs, guess: (lu.solve(rhs), 0))
    a0 = spla.splu(M).solve(-(K @ u0))
    state = NewmarkState(u0.copy(), np.zeros_like(u0), a0)
    energy = [0.5 * u0 @ (K @ u0)]
    for _ in range(steps):
        scheme.step(state, np.zeros_like(u0))
        energy.append(0.5 * state.v @ (M @ state.v) + 0.5 * state.u @ (K @ state.u))
    return np.array(energy), state


def initial_displacement(mesh):
    x = mesh.points
    u = np.zeros((mesh.n_nodes, 3))
    u[:, 0] = 1e-3 * np.sin(np.pi * x[:, 0] / 40) * np.cos(np.pi * x[:, 2] / 20)
    u[:, 2] = 5e-4 * np.cos(np.pi * x[:, 1] / 30)
    return u.ravel()


def test_undamped_closed_system_conserves_energy():
    mesh, M, K, C = system()
    energy, _ = integrate(M, K, 0 * C, initial_displacement(mesh), dt=2e-3, steps=200)
    assert np.abs(energy / energy[0] - 1).max() < 1e-10


def test_dashpots_dissipate_energy_monotonically():
    mesh, M, K, C = system()
    energy, _ = integrate(M, K, C, initial_displacement(mesh), dt=2e-3, steps=200)
    assert np.all(np.diff(energy) <= 1e-12 * energy[0])
    assert energy[-1] < 0.5 * energy[0]


def test_second_order_in_time():
    mesh, M, K, C = system(order=1)
    u0 = initial_displacement(mesh)
    T = 0.04
    ref = integrate(M, K, C, u0, dt=T / 1024, steps=1024)[1].u
    errors = [np.linalg.norm(integrate(M, K, C, u0, dt=T / n, steps=n)[1].u - ref) for n in (32, 64, 128)]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - 2.0) < 0.2), rates


def test_predictor_extrapolates_polynomial_accelerations_exactly():
    scheme = Newmark(0.1, None, None, None, predictor_order=2)
    state = NewmarkState(np.zeros(1), np.zeros(1), np.zeros(1))
    for k in (1.0, 2.0, 3.0):               # a(t) = t^2 sampled at t = 1, 2, 3
        state.history.appendleft(np.array([k * k]))
    np.testing.assert_allclose(scheme.guess(state), [16.0])
