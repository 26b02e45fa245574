"""The moment-tensor full-space solution against independent physics: Stokes' single
force and reciprocity, Kelvin's static solution, far-field radiation patterns,
nodal planes, parity and dimensional scaling."""
import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid

from fem.exact.fullspace import fullspace_velocity
from fem.exact.wavelets import brune, smooth_step

VP, VS, RHO = 2000.0, 1000.0, 2500.0
SIGMA, T0 = 0.02, 0.15   # smooth-step moment function: width, centre (s)
MOMENT = np.array([[1.0, 0.4, -0.3],
                   [0.4, -0.6, 0.7],
                   [-0.3, 0.7, 0.2]]) * 1e15   # symmetric, with an isotropic part, N m


def step(t):
    return smooth_step(t, T0, SIGMA)


def stokes_velocity(force_direction, force_at, x, t):
    """Velocity (P, 3, T) at points x from a force X0 s(t) (1 N) along `force_direction` at
    `force_at`, Aki & Richards eq. 4.23 differentiated in time with analytic s, s', int s."""
    offset = np.atleast_2d(x) - force_at
    r = np.linalg.norm(offset, axis=1)[:, None, None]
    g = (offset / r[:, :, 0])[:, :, None]                    # (P, 3, 1)
    gj = g[:, force_direction:force_direction + 1, :]          # gamma_j
    delta = np.zeros((1, 3, 1))
    delta[0, force_direction, 0] = 1.0
    a, b = r / VP, r / VS
    tt = t[None, None, :]
    s = lambda x_, d=0: smooth_step(x_, T0, SIGMA, derivative=d)
    near = a * s(tt - a) - b * s(tt - b) + s(tt - a, -1) - s(tt - b, -1)
    return ((3 * g * gj - delta) / r**3 * near
            + g * gj / (VP**2 * r) * s(tt - a, 1)
            - (g * gj - delta) / (VS**2 * r) * s(tt - b, 1)) / (4 * np.pi * RHO)


def kelvin_displacement(force_direction, force_at, x):
    """Static displacement (P, 3) from a unit force (Kelvin; A&R 4.23 at late time)."""
    offset = np.atleast_2d(x) - force_at
    r = np.linalg.norm(offset, axis=1)[:, None]
    g = offset / r
    delta = np.eye(3)[force_direction]
    return ((1 / VS**2 - 1 / VP**2) * g * g[:, force_direction:force_direction + 1]
            + (1 / VS**2 + 1 / VP**2) * delta) / (8 * np.pi * RHO * r)


def strain_contraction(field, source, receiver, moment, spacing):
    """sum_pq M_pq d/dxi_q field_n,p(xi) at xi = source, field from a force e_n at receiver,
    by central differences of step `spacing` m."""
    total = 0.0
    for n in range(3):
        for q in range(3):
            e = np.eye(3)[q] * spacing
            d = (field(n, receiver, source + e) - field(n, receiver, source - e)) / (2 * spacing)
            total = total + np.eye(3)[n][:, None] * np.tensordot(moment[:, q], d[0], axes=(0, 0))
    return total


def test_reciprocity_with_stokes_single_force():
    """u_n(x; M at xi) = M_pq d/dxi_q G_pn(xi; x): the strain rate at the source from a
    force at the receiver, contracted with M, is the receiver velocity (Betti)."""
    source = np.array([10.0, -20.0, 5.0])
    receivers = np.array([[60.0, 10.0, -30.0], [-15.0, 5.0, 45.0], [10.0, 120.0, 5.0]])
    t = np.linspace(0.0, 0.45, 901)
    v = fullspace_velocity(MOMENT, step, VP, VS, RHO, source, receivers, t)
    for i, x in enumerate(receivers):
        expected = strain_contraction(lambda n, at, xi: stokes_velocity(n, at, xi, t), source, x,
                                      MOMENT, 1e-3)
        err = np.abs(v[i] - expected).max() / np.abs(expected).max()
        assert err < 1e-8, (i, err)          # measured 6e-10 to 2e-9


def test_static_offset_matches_kelvin():
    """Integrated velocity at late time equals the static field M_pq d/dxi_q G^Kelvin_pn
    (Brune moment function, the one scenarios use)."""
    source = np.zeros(3)
    # Distances whose P and S arrivals fall on samples: the Brune velocity jumps there
    # (s'' does), and a jump between samples would cost the trapezoid rule O(dt).
    receivers = np.array([[30.0, 0.0, 0.0], [20.0, 0.0, -15.0], [0.0, 30.0, -40.0]])
    t = np.linspace(0.0, 1.2, 12001)
    rise = 0.02
    v = fullspace_velocity(MOMENT, lambda x: brune(x, rise), VP, VS, RHO, source, receivers, t,
                           derivative_step=1e-5)
    u_final = cumulative_trapezoid(v, t, axis=2)[:, :, -1]
    for i, x in enumerate(receivers):
        static = strain_contraction(lambda n, at, xi: kelvin_displacement(n, at, xi)[:, :, None],
                                    source, x, MOMENT, 1e-4)[:, 0]
        assert np.allclose(u_final[i], static, rtol=0, atol=2e-5 * np.abs(static).max()), (u_final[i], static)


def far_field_velocity(moment, source, receivers, t):
    offset = receivers - source
    r = np.linalg.norm(offset, axis=1)[:, None, None]
    g = offset / r[:, :, 0]
    gmg = np.einsum("ri,ij,rj->r", g, moment, g)[:, None, None]
    g, mg = g[:, :, None], (g @ moment.T)[:, :, None]
    tt = t[None, None, :]
    dds = lambda x: smooth_step(x, T0, SIGMA, derivative=2)
    return (g * gmg / (VP**3 * r) * dds(tt - r / VP)
            - (g * gmg - mg) / (VS**3 * r) * dds(tt - r / VS)) / (4 * np.pi * RHO)


def test_far_field_dominates_with_error_falling_as_one_over_r():
    """Near and intermediate terms are O(wavelength / r) of the far field."""
    direction = np.array([0.48, -0.6, 0.64])
    errors = []
    for r in (4000.0, 8000.0, 16000.0):
        x = (r * direction)[None, :]
        t = np.linspace(r / VP - 0.1, r / VS + 0.3, 3001)
        v = fullspace_velocity(MOMENT, step, VP, VS, RHO, np.zeros(3), x, t)
        far = far_field_velocity(MOMENT, np.zeros(3), x, t)
        errors.append(np.abs(v - far).max() / np.abs(far).max())
    assert errors[0] < 0.05, errors
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.allclose(ratios, 2.0, rtol=0.1), errors


def test_double_couple_has_no_radial_motion_on_its_nodal_axes():
    """M_xy double couple: the x and y axes lie in nodal planes of P (and of all radial
    motion, near field included); transverse (S) motion there is not zero."""
    mxy = np.zeros((3, 3))
    mxy[0, 1] = mxy[1, 0] = 1e14
    receivers = np.array([[80.0, 0, 0], [-50.0, 0, 0], [0, 70.0, 0], [0, -120.0, 0]])
    t = np.linspace(0.0, 0.5, 1001)
    v = fullspace_velocity(mxy, step, VP, VS, RHO, np.zeros(3), receivers, t)
    radial = np.einsum("ri,rit->rt", receivers / np.linalg.norm(receivers, axis=1)[:, None], v)
    assert np.abs(radial).max() < 1e-12 * np.abs(v).max()
    assert np.abs(v[:2, 1]).max() > 1e-3 * np.abs(v).max()   # y motion on the x axis
    assert np.abs(v[2:, 0]).max() > 1e-3 * np.abs(v).max()   # x motion on the y axis
    diagonal = np.array([[60.0, 60.0, 0.0]]) / np.sqrt(2)
    vd = fullspace_velocity(mxy, step, VP, VS, RHO, np.zeros(3), diagonal, t)
    assert np.abs(vd[0, 0] + vd[0, 1]).max() > 0.1 * np.abs(vd).max()   # P radiates at 45 degrees


def test_explosion_is_purely_radial_with_textbook_far_field():
    m0 = 3e13
    receivers = np.array([[300.0, 400.0, 0.0]])
    t = np.linspace(0.0, 0.6, 1201)
    v = fullspace_velocity(m0 * np.eye(3), step, VP, VS, RHO, np.zeros(3), receivers, t)
    gamma = receivers[0] / 500.0
    transverse = v[0] - np.outer(gamma, gamma @ v[0])
    assert np.abs(transverse).max() < 1e-12 * np.abs(v).max()
    # Exact radial velocity of an explosion: near+intermediate+far reduce to
    # m0/(4 pi rho vp^2) [s'(t-a)/r^2 + s''(t-a)/(vp r)].
    r = 500.0
    tau = t - r / VP
    exact = m0 / (4 * np.pi * RHO * VP**2) * (smooth_step(tau, T0, SIGMA, 1) / r**2
                                              + smooth_step(tau, T0, SIGMA, 2) / (VP * r))
    assert np.abs(gamma @ v[0] - exact).max() < 1e-7 * np.abs(exact).max()


def test_swapping_source_and_receiver_flips_the_sign():
    """Every term is odd in gamma: u(x; xi) = -u(xi; x) in a homogeneous space."""
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-40.0, 25.0, 60.0])
    t = np.linspace(0.0, 0.4, 801)
    v_ab = fullspace_velocity(MOMENT, step, VP, VS, RHO, a, b[None], t)
    v_ba = fullspace_velocity(MOMENT, step, VP, VS, RHO, b, a[None], t)
    assert np.abs(v_ab + v_ba).max() < 1e-12 * np.abs(v_ab).max()


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_dimensional_scaling(scale):
    """Stretching space and time by L with moment L^2 M keeps displacement, so velocity
    scales as 1/L; doubling the density halves it."""
    source, receivers = np.array([5.0, 0.0, -3.0]), np.array([[45.0, 30.0, -20.0], [5.0, -60.0, 10.0]])
    t = np.linspace(0.0, 0.4, 801)
    v = fullspace_velocity(MOMENT, step, VP, VS, RHO, source, receivers, t)
    v_scaled = fullspace_velocity(scale**2 * MOMENT, lambda x: step(x / scale), VP, VS, RHO,
                                  scale * source, scale * receivers, scale * t)
    assert np.abs(scale * v_scaled - v).max() < 1e-6 * np.abs(v).max()
    v_dense = fullspace_velocity(MOMENT, step, VP, VS, 2 * RHO, source, receivers, t)
    assert np.abs(2 * v_dense - v).max() < 1e-13 * np.abs(v).max()


def test_rejects_receiver_at_source():
    with pytest.raises(ValueError, match="coincides"):
        fullspace_velocity(MOMENT, step, VP, VS, RHO, np.zeros(3), np.zeros((1, 3)), np.linspace(0, 1, 11))


@pytest.mark.parametrize("function, params, orders", [
    (brune, dict(rise_time=0.07), (-1, 0, 1, 2)),
    (smooth_step, dict(t0=0.3, sigma=0.04), (-1, 0, 1, 2)),
])
def test_time_function_derivatives_are_consistent(function, params, orders):
    """Each returned derivative is the time derivative of the one below it (away from
    Brune's onset, where s'' jumps), and the moment functions rise from 0 to 1."""
    t = np.linspace(0.001, 1.5, 150001)
    values = {d: function(t, derivative=d, **params) for d in orders}
    for lower, upper in zip(orders[:-1], orders[1:]):
        slope = np.gradient(values[lower], t)[2:-2]
        assert np.abs(slope - values[upper][2:-2]).max() < 1e-6 * np.abs(values[upper]).max()
    assert abs(function(np.array([-1.0]), **params)[0]) < 1e-12
    assert abs(function(np.array([20.0]), **params)[0] - 1.0) < 1e-12


def test_ricker_derivatives_and_peak():
    from fem.exact.wavelets import ricker
    t = np.linspace(0.0, 1.2, 120001)
    w = [ricker(t, 3.0, 0.5, 0.02, derivative=d) for d in (0, 1, 2)]
    assert np.isclose(w[0].max(), 0.02) and np.isclose(t[np.argmax(w[0])], 0.5)
    for lower, upper in ((0, 1), (1, 2)):
        assert np.abs(np.gradient(w[lower], t)[2:-2] - w[upper][2:-2]).max() < 1e-6 * np.abs(w[upper]).max()
