"""The layered-column plane-wave solution against closed forms (halfspace, Kramer's
single layer on elastic rock), interface and surface conditions, and an independent
1D finite-element time-domain solution of the same damped column."""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from fem.exact.column import Column, column_response, transfer_functions
from fem.exact.wavelets import ricker, smooth_step

DT = 0.005
T = DT * np.arange(800)
F0, T0, AMP = 2.0, 0.8, 0.01    # Ricker: peak Hz, centre s (exp(-25) at t = 0), m/s


def incident(delay=0.0):
    return ricker(T, F0, T0 + delay, AMP)


def homogeneous(thicknesses, vp=1000.0, vs=400.0, rho=2000.0, z_top=5.0):
    n = len(thicknesses)
    return Column(thickness=np.array(thicknesses), vp=np.full(n, vp), vs=np.full(n, vs),
                  rho=np.full(n, rho), alpha=np.zeros(n), beta=np.zeros(n),
                  halfspace=(vp, vs, rho), z_top=z_top)


def three_layers(damped=True):
    """The scenario's column: soft over stiff over an elastic halfspace."""
    return Column(thickness=np.array([20.0, 30.0]), vp=np.array([500.0, 1200.0]),
                  vs=np.array([150.0, 400.0]), rho=np.array([1700.0, 1900.0]),
                  alpha=np.array([0.3, 0.15]) * damped, beta=np.array([0.002, 0.001]) * damped,
                  halfspace=(2000.0, 800.0, 2100.0), z_top=0.0)


@pytest.mark.parametrize("component, speed", [("x", 400.0), ("y", 400.0), ("z", 1000.0)])
def test_homogeneous_halfspace_doubles_the_delayed_incident_wave(component, speed):
    for stack, z_top in (([30.0, 70.0], 5.0), ([100.0], 5.0), ([], -95.0)):   # [] : bare halfspace
        column = homogeneous(stack, z_top=z_top)
        r = column_response(column, component, incident(), DT, np.array([z_top]))
        expected = 2.0 * incident((z_top + 95.0) / speed)
        assert np.abs(r.velocity[0] - expected).max() < 1e-6 * np.abs(expected).max()   # measured 4e-10


def test_homogeneous_field_is_incident_plus_reflected_with_exact_delays():
    """Up- and down-going waves at every depth, in the stack and in the halfspace below;
    du/dz = (-v_up + v_down) / c; a pulse with a nonzero mean checks the zero frequency."""
    column, c = homogeneous([30.0, 70.0]), 400.0
    z = np.array([5.0, -20.0, -25.0, -95.0, -120.0, -300.0])
    depth = 5.0 - z
    pulse = lambda delay: 0.01 * smooth_step(T, T0 + delay, 0.05, derivative=1) * 0.05
    for wavelet in (lambda d: incident(d), pulse):
        r = column_response(column, "x", wavelet(0.0), DT, z)
        for i, d in enumerate(depth):
            up, down = wavelet((100.0 - d) / c), wavelet((100.0 + d) / c)
            peak = np.abs(up).max()
            assert np.abs(r.velocity[i] - (up + down)).max() < 1e-6 * peak, i
            assert np.abs(r.strain[i] - (down - up) / c).max() < 1e-6 * peak / c, i


def kramer_single_layer(omega, h, rho, vs, alpha, beta, rho_rock, vs_rock):
    """Surface velocity per unit incident velocity: 2 / (cos k*H + i a* sin k*H) (Kramer
    1996 eq. 7.19, outcrop = 2 x incident) with the Rayleigh complex density and modulus."""
    rho_star = rho * (1.0 - 1j * alpha / omega)
    g_star = rho * vs**2 * (1.0 + 1j * omega * beta)
    k_star = omega * np.sqrt(rho_star / g_star)
    ratio = g_star * k_star / omega / (rho_rock * vs_rock)   # complex impedance ratio
    return 2.0 / (np.cos(k_star * h) + 1j * ratio * np.sin(k_star * h))


@pytest.mark.parametrize("alpha, beta", [(0.0, 0.0), (0.4, 0.003)])
def test_single_layer_matches_kramer_transfer_function(alpha, beta):
    h, rho, vs, rho_r, vs_r = 25.0, 1800.0, 200.0, 2200.0, 900.0
    column = Column(thickness=np.array([h]), vp=np.array([600.0]), vs=np.array([vs]), rho=np.array([rho]),
                    alpha=np.array([alpha]), beta=np.array([beta]), halfspace=(2000.0, vs_r, rho_r), z_top=0.0)
    omega = 2 * np.pi * np.linspace(0.05, 25.0, 500)
    velocity, _, _ = transfer_functions(column, "x", omega, np.array([0.0]))
    exact = kramer_single_layer(omega, h, rho, vs, alpha, beta, rho_r, vs_r)
    assert np.abs(velocity[0] - exact).max() < 1e-10 * np.abs(exact).max()
    if alpha == 0.0:
        resonance = 2 * np.pi * vs / (4 * h)
        peak, _, _ = transfer_functions(column, "x", np.array([resonance]), np.array([0.0]))
        assert np.isclose(abs(peak[0, 0]), 2.0 * rho_r * vs_r / (rho * vs), rtol=1e-12)


def test_damping_lowers_the_resonance_peak():
    omega = 2 * np.pi * np.linspace(0.1, 15.0, 3000)
    peaks, pgv = [], []
    for scale in (0.0, 0.5, 1.0, 2.0):
        column = three_layers()
        column = Column(column.thickness, column.vp, column.vs, column.rho, scale * column.alpha,
                        scale * column.beta, column.halfspace, column.z_top)
        velocity, _, _ = transfer_functions(column, "x", omega, np.array([0.0]))
        peaks.append(np.abs(velocity).max())
        pgv.append(np.abs(column_response(column, "x", incident(), DT, np.array([0.0])).velocity).max())
    assert np.all(np.diff(peaks) < 0), peaks
    assert np.all(np.diff(pgv) < 0), pgv


def test_free_surface_and_interface_conditions():
    """du/dz = 0 at the free surface; velocity and traction G* du/dz continuous across an
    interface, while the one-sided strains jump by the modulus ratio (undamped: G2/G1)."""
    for damped in (False, True):
        column = three_layers(damped)
        z = np.array([0.0, -20.0, -20.0, -50.0, -50.0])
        layer = np.array([0, 0, 1, 1, 2])
        r = column_response(column, "x", incident(), DT, z, layer)
        assert np.abs(r.strain[0]).max() < 1e-9 * np.abs(r.strain[1]).max()
        for upper, lower in ((1, 2), (3, 4)):
            scale = np.abs(r.stress[upper]).max()
            assert np.abs(r.velocity[upper] - r.velocity[lower]).max() < 1e-9 * np.abs(r.velocity[upper]).max()
            assert np.abs(r.stress[upper] - r.stress[lower]).max() < 1e-9 * scale
        if not damped:
            g = column.rho * column.vs**2
            assert np.allclose(r.strain[1] * g[0], r.strain[2] * g[1], atol=1e-9 * scale)
        else:
            # traction includes the viscous part: sigma = G (du/dz + beta d/dt du/dz)
            g, beta = column.rho[0] * column.vs[0] ** 2, column.beta[0]
            viscous = g * (r.strain[1] + beta * np.gradient(r.strain[1], DT))
            assert np.abs(viscous - r.stress[1]).max() < 2e-3 * np.abs(r.stress[1]).max()


def test_default_layer_is_the_upper_one_and_points_are_validated():
    column = three_layers()
    z = np.array([-20.0, -20.0])
    default = column_response(column, "x", incident(), DT, z[:1])
    upper = column_response(column, "x", incident(), DT, z, np.array([0, 1]))
    assert np.array_equal(default.strain[0], upper.strain[0])
    assert not np.allclose(upper.strain[0], upper.strain[1])
    with pytest.raises(ValueError, match="above the free surface"):
        column_response(column, "x", incident(), DT, np.array([1.0]))
    with pytest.raises(ValueError, match="does not lie in layer"):
        column_response(column, "x", incident(), DT, np.array([-10.0]), np.array([1]))
    with pytest.raises(ValueError, match="component"):
        column_response(column, "s", incident(), DT, np.array([-10.0]))


def test_many_depths_in_any_order_with_repeats_match_single_evaluations():
    column = three_layers()
    rng = np.random.default_rng(0)
    z = rng.choice(np.linspace(-80.0, 0.0, 41), size=3000)      # blocks of the internal chunking
    r = column_response(column, "z", incident(), DT, z)
    for i in rng.choice(z.size, 5, replace=False):
        single = column_response(column, "z", incident(), DT, z[i:i + 1])
        assert np.array_equal(r.velocity[i], single.velocity[0])
        assert np.array_equal(r.strain[i], single.strain[0])


def test_strongly_damped_thick_layer_is_split_without_overflow():
    """A layer thick and damped enough for cos(k h) to overflow gives the same answer as the
    same material given as ten explicit sublayers."""
    kw = dict(vp=np.array([400.0]), vs=np.array([100.0]), rho=np.array([1600.0]),
              alpha=np.array([2.0]), beta=np.array([0.05]), halfspace=(1500.0, 600.0, 2000.0), z_top=0.0)
    thick = Column(thickness=np.array([3000.0]), **kw)
    split = Column(thickness=np.full(10, 300.0), **{k: (np.repeat(v, 10) if isinstance(v, np.ndarray) else v)
                                                     for k, v in kw.items()})
    z = np.array([0.0, -1000.0, -2950.0, -3000.0])
    a = column_response(thick, "x", incident(), DT, z)
    b = column_response(split, "x", incident(), DT, z)
    assert np.all(np.isfinite(a.velocity)) and np.abs(a.velocity[-1]).max() > 0.5 * AMP
    assert np.allclose(a.velocity, b.velocity, rtol=0, atol=1e-9 * AMP)


def finite_element_column(column, component, wavelet, n_steps, dt, substeps, element_size):
    """Independent reference: linear 1D FE, consistent mass, C = alpha M + beta K per layer,
    a dashpot bottom driven by rho c (2 v_inc - v), Newmark average acceleration.
    wavelet: callable incident velocity v_inc(t), m/s, evaluated on the fine time steps."""
    modulus = column.rho * (column.vp if component == "z" else column.vs) ** 2
    vp_h, vs_h, rho_h = column.halfspace
    impedance = rho_h * (vp_h if component == "z" else vs_h)
    n_el_layer = np.round(column.thickness / element_size).astype(int)
    layer = np.repeat(np.arange(column.thickness.size), n_el_layer)
    h = np.repeat(column.thickness / n_el_layer, n_el_layer)
    z = column.z_top - np.concatenate([[0.0], np.cumsum(h)])       # node 0 at the surface
    n = z.size
    rows = np.stack([np.arange(n - 1), np.arange(n - 1), np.arange(1, n), np.arange(1, n)], axis=1)
    cols = np.stack([np.arange(n - 1), np.arange(1, n), np.arange(n - 1), np.arange(1, n)], axis=1)
    m_el = (column.rho[layer] * h / 6.0)[:, None] * np.array([2.0, 1.0, 1.0, 2.0])
    k_el = (modulus[layer] / h)[:, None] * np.array([1.0, -1.0, -1.0, 1.0])
    c_el = column.alpha[layer][:, None] * m_el + column.beta[layer][:, None] * k_el
    assemble = lambda v: sp.csc_matrix((v.ravel(), (rows.ravel(), cols.ravel())), shape=(n, n))
    mass, stiff, damp = assemble(m_el), assemble(k_el), assemble(c_el)
    damp = damp + sp.csc_matrix(([impedance], ([n - 1], [n - 1])), shape=(n, n))
    step = dt / substeps
    solver = splu((mass + 0.5 * step * damp + 0.25 * step**2 * stiff).tocsc())
    t_fine = step * np.arange((n_steps - 1) * substeps + 1)
    v_inc = wavelet(t_fine)
    u, v, a = np.zeros(n), np.zeros(n), np.zeros(n)
    out = np.zeros((n, n_steps))
    for i in range(1, t_fine.size):
        force = np.zeros(n)
        force[-1] = 2.0 * impedance * v_inc[i]
        rhs = force - damp @ (v + 0.5 * step * a) - stiff @ (u + step * v + 0.25 * step**2 * a)
        a_new = solver.solve(rhs)
        u = u + step * v + 0.25 * step**2 * (a + a_new)
        v = v + 0.5 * step * (a + a_new)
        a = a_new
        if i % substeps == 0:
            out[:, i // substeps] = v
    return z, out


@pytest.mark.parametrize("component", ["x", "z"])
def test_matches_independent_time_domain_finite_elements(component):
    """Agreement to ~1e-4 of the peak, and second-order convergence of the FE towards it."""
    column = three_layers()
    wavelet = lambda t: ricker(t, F0, T0, AMP)
    probes = np.array([0.0, -10.0, -20.0, -35.0, -50.0])   # surface, layer 1, interface, layer 2, bottom
    r = column_response(column, component, incident(), DT, probes)
    errors = []
    for size, substeps in ((0.5, 5), (0.25, 10)):
        z_fe, v_fe = finite_element_column(column, component, wavelet, T.size, DT, substeps, size)
        rows = np.searchsorted(-z_fe, -probes)
        assert np.allclose(z_fe[rows], probes)
        errors.append(np.abs(r.velocity - v_fe[rows]).max() / np.abs(v_fe[rows]).max())
    assert errors[-1] < 2e-4, errors                               # measured 4.7e-5 (x), 6.7e-6 (z)
    assert 3.5 < errors[0] / errors[1] < 4.5, errors               # O(h^2 + dt^2): 4 expected


def test_long_ringing_does_not_wrap_around():
    """An undamped soft layer on stiff rock rings far beyond the record; the answer on the
    record must not depend on how much silence follows the wavelet."""
    column = Column(thickness=np.array([40.0]), vp=np.array([400.0]), vs=np.array([100.0]),
                    rho=np.array([1600.0]), alpha=np.zeros(1), beta=np.zeros(1),
                    halfspace=(4000.0, 2500.0, 2600.0), z_top=0.0)
    z = np.array([0.0, -20.0])
    short = column_response(column, "x", incident(), DT, z)
    padded = column_response(column, "x", np.concatenate([incident(), np.zeros(8 * T.size)]), DT, z)
    ringing = np.abs(short.velocity[:, -100:]).max() / np.abs(short.velocity).max()
    assert ringing > 0.3                                           # still ringing at the end
    err = np.abs(short.velocity - padded.velocity[:, :T.size]).max() / np.abs(short.velocity).max()
    assert err < 1e-6, err
