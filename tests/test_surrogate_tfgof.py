"""Time-frequency envelope/phase misfits and GOF (Kristekova et al. 2006, 2009)."""
import warnings

import numpy as np
import pytest

from surrogate import tfgof

DT = 0.01
N_T = 2048
T = np.arange(N_T) * DT


def ricker(t, f_peak=2.0, t0=10.0):
    a = (np.pi * f_peak * (t - t0)) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def packet(t, f0=2.0, t0=10.0, sigma=3.0):
    return np.exp(-0.5 * ((t - t0) / sigma) ** 2) * np.cos(2.0 * np.pi * f0 * (t - t0))


def test_identical_traces_are_perfect():
    ref = ricker(T)
    em, pm = tfgof.tf_misfits(ref, ref, DT, 0.5, 8.0)
    eg, pg = tfgof.tf_gof(ref, ref, DT, 0.5, 8.0)
    assert em == pytest.approx(0.0, abs=1e-12) and pm == pytest.approx(0.0, abs=1e-12)
    assert eg == pytest.approx(10.0, abs=1e-10) and pg == pytest.approx(10.0, abs=1e-10)


@pytest.mark.parametrize("s", [0.5, 0.9, 1.3, 2.0])
def test_amplitude_scaling_gives_envelope_misfit_s_minus_one(s):
    ref = ricker(T)
    em, pm = tfgof.tf_misfits(s * ref, ref, DT, 0.5, 8.0)
    assert em == pytest.approx(abs(s - 1.0), abs=1e-6)
    assert pm == pytest.approx(0.0, abs=1e-6)
    eg, pg = tfgof.tf_gof(s * ref, ref, DT, 0.5, 8.0)
    assert eg == pytest.approx(10.0 * np.exp(-abs(s - 1.0)), rel=1e-6)
    assert pg == pytest.approx(10.0, abs=1e-5)


def test_sign_flip_is_pure_phase_misfit_of_one():
    ref = ricker(T)
    em, pm = tfgof.tf_misfits(-ref, ref, DT, 0.5, 8.0)
    assert em == pytest.approx(0.0, abs=1e-9)
    assert pm == pytest.approx(1.0, abs=1e-9)
    _, pg = tfgof.tf_gof(-ref, ref, DT, 0.5, 8.0)
    assert pg == pytest.approx(10.0 / np.e, rel=1e-9)


@pytest.mark.parametrize("tau", [0.01, 0.02, 0.04])
def test_time_shift_of_narrowband_packet_is_phase_misfit_2_f0_tau(tau):
    f0 = 2.0
    ref = packet(T, f0)
    pred = packet(T - tau, f0)
    em, pm = tfgof.tf_misfits(pred, ref, DT, 1.0, 4.0)
    assert pm == pytest.approx(2.0 * f0 * tau, rel=0.05)
    assert em < 0.15 * pm
    # the delay flips sign: same phase misfit magnitude
    _, pm_back = tfgof.tf_misfits(packet(T + tau, f0), ref, DT, 1.0, 4.0)
    assert pm_back == pytest.approx(pm, rel=0.05)


def test_sinusoid_amplitude_is_recovered_away_from_edges():
    a, f1 = 3.7, 2.5
    x = a * np.cos(2.0 * np.pi * f1 * T + 0.3)
    freqs = tfgof.log_frequencies(f1, 8.0, 8)                 # freqs[0] == f1
    w = tfgof.cwt_morlet(x, DT, freqs)
    assert w.shape == (8, N_T)
    s = tfgof.OMEGA0 / (2.0 * np.pi * f1)
    interior = slice(int(6 * s / DT), N_T - int(6 * s / DT))
    np.testing.assert_allclose(np.abs(w[0, interior]), a, rtol=1e-6)
    # phase advances at the sinusoid's frequency
    dphi = np.angle(w[0, interior][1:] * np.conj(w[0, interior][:-1]))
    np.testing.assert_allclose(dphi, 2.0 * np.pi * f1 * DT, atol=1e-6)
    # off-peak the Gaussian window attenuates it as exp(-(omega0 (f1/f - 1))^2 / 2)
    expect = a * np.exp(-0.5 * (tfgof.OMEGA0 * (f1 / freqs[1] - 1.0)) ** 2)
    np.testing.assert_allclose(np.abs(w[1, interior]), expect, rtol=1e-5)


def test_leading_axes_are_kept_and_match_single_traces():
    rng = np.random.default_rng(0)
    ref = ricker(T)[None, None] * rng.uniform(0.5, 2.0, (2, 3, 1))
    pred = ref * rng.uniform(0.5, 1.5, (2, 3, 1))
    pred[1, 2] = -ref[1, 2]
    eg, pg = tfgof.tf_gof(pred, ref, DT, 0.5, 8.0, n_freq=16)
    assert eg.shape == (2, 3) and pg.shape == (2, 3)
    e1, p1 = tfgof.tf_gof(pred[1, 2], ref[1, 2], DT, 0.5, 8.0, n_freq=16)
    assert eg[1, 2] == pytest.approx(float(e1)) and pg[1, 2] == pytest.approx(float(p1))
    assert pg[1, 2] == pytest.approx(10.0 / np.e, rel=1e-9)
    w = tfgof.cwt_morlet(ref, DT, tfgof.log_frequencies(0.5, 8.0, 5))
    assert w.shape == (2, 3, 5, N_T)


def test_zero_reference_gives_nan_without_warnings():
    ref = np.stack([ricker(T), np.zeros(N_T)])
    pred = np.stack([ricker(T), ricker(T)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        em, pm = tfgof.tf_misfits(pred, ref, DT, 0.5, 8.0)
        eg, pg = tfgof.tf_gof(pred, ref, DT, 0.5, 8.0)
        ok = tfgof.fits_well(eg)
        summary = tfgof.gof_summary(eg, pg)
        empty = tfgof.gof_summary(eg[1:], pg[1:])
    assert em[0] == 0.0 and np.isnan(em[1]) and np.isnan(pm[1])
    assert np.isnan(eg[1]) and np.isnan(pg[1])
    assert ok.tolist() == [True, False]
    assert summary == {"median_eg": 10.0, "median_pg": 10.0, "frac_fit": 1.0, "n": 1}
    assert empty["n"] == 0 and np.isnan(empty["median_eg"]) and np.isnan(empty["frac_fit"])


def test_thresholds_classes_and_summary():
    assert (tfgof.EXCELLENT_MIN, tfgof.GOOD_MIN, tfgof.FAIR_MIN) == (8.0, 6.0, 4.0)
    assert tfgof.FIT_THRESHOLD == 6.0 and tfgof.GOF_A == 10.0 and tfgof.GOF_K == 1.0
    g = np.array([9.0, 8.0, 7.9, 6.0, 5.99, 4.0, 3.0, np.nan])
    assert tfgof.fits_well(g).tolist() == [True, True, True, True, False, False, False, False]
    assert tfgof.verbal_class(g).tolist() == ["excellent", "excellent", "good", "good",
                                              "fair", "fair", "poor", ""]
    eg = np.array([9.0, 7.0, 5.0, 8.0, np.nan])
    pg = np.array([9.0, 5.0, 7.0, 6.5, 1.0])
    s = tfgof.gof_summary(eg, pg)
    assert s["n"] == 4
    assert s["median_eg"] == pytest.approx(7.5) and s["median_pg"] == pytest.approx(6.75)
    assert s["frac_fit"] == pytest.approx(0.5)


def test_gof_mapping_and_input_checks():
    np.testing.assert_allclose(tfgof.misfit_to_gof([0.0, 1.0, -0.5]), 10 * np.exp([0.0, -1.0, -0.5]))
    with pytest.raises(ValueError):
        tfgof.tf_gof(np.zeros(8), np.zeros(8), DT, 0.5, 60.0)      # above Nyquist
    with pytest.raises(ValueError):
        tfgof.tf_gof(np.zeros(8), np.zeros(9), DT, 0.5, 8.0)
    with pytest.raises(ValueError):
        tfgof.log_frequencies(2.0, 1.0)
