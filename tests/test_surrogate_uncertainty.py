"""The sigma of boundary estimates: the calibration reaches the asked coverage, and the scores evaluate
reports are what they say (by hand on a tiny case)."""
import numpy as np
import pytest

from surrogate.uncertainty import MIN_SIGMA_M, Calibration, coverage_scores, fit, spread


def _synthetic(rng, n, a_true, b_true):
    s = rng.uniform(0.0, 3.0, (n, 2, 25))                            # the networks' spread, m
    e = rng.normal(size=s.shape) * np.sqrt((a_true * s) ** 2 + b_true ** 2)
    return e, s


def test_calibration_covers_95_percent_of_fresh_residuals_and_finds_the_spread_multiplier():
    rng = np.random.default_rng(0)
    e, s = _synthetic(rng, 400, 1.0, 0.5)
    cal = fit(e, s)
    assert np.mean(np.abs(e) <= 2 * cal.sigma(s)) >= 0.95             # on the data it was fitted to
    e2, s2 = _synthetic(rng, 400, 1.0, 0.5)
    assert np.mean(np.abs(e2) <= 2 * cal.sigma(s2)) == pytest.approx(0.95, abs=0.01)
    np.testing.assert_allclose(cal.a, 1.0, rtol=0.25)               # the likelihood recovers how sigma grows
    for k in range(2):                                                # and per boundary, too
        assert np.mean(np.abs(e2[:, k]) <= 2 * cal.sigma(s2)[:, k]) == pytest.approx(0.95, abs=0.015)


def test_one_network_gives_one_homoscedastic_sigma_per_boundary():
    rng = np.random.default_rng(1)
    e = rng.normal(size=(2000, 2, 5)) * np.array([1.0, 3.0])[None, :, None]
    cal = fit(e, np.zeros_like(e))
    np.testing.assert_array_equal(cal.a, 0.0)
    np.testing.assert_allclose(cal.b, 1.96 * np.array([1.0, 3.0]) / 2, rtol=0.06)
    sigma = cal.sigma(np.zeros((1, 2, 5)))
    assert np.all(sigma == cal.b[None, :, None])
    # exact estimates still get a positive sigma
    assert np.all(fit(np.zeros((3, 2, 4)), np.zeros((3, 2, 4))).b == MIN_SIGMA_M)


def test_spread_is_the_std_of_the_members_and_zero_for_one():
    x, y = np.full((1, 2, 3), 1.0), np.full((1, 2, 3), 4.0)
    np.testing.assert_allclose(spread([x, y]), 1.5)
    np.testing.assert_array_equal(spread([x]), 0.0)
    cal = Calibration.from_dict(Calibration(np.array([2.0, 0.0]), np.array([0.5, 1.0])).to_dict())
    np.testing.assert_allclose(cal.sigma(spread([x, y]))[0, :, 0], [np.sqrt(9 + 0.25), 1.0])


def test_coverage_scores_by_hand():
    """Tolerance 2 m; four estimates: errors 0.5, 3, -2.5, 1 m with sigmas 0.5, 2, 0.5, 0.2 m."""
    error = np.array([0.5, 3.0, -2.5, 1.0]).reshape(1, 1, 4)
    sigma = np.array([0.5, 2.0, 0.5, 0.2]).reshape(1, 1, 4)
    s = coverage_scores(error, sigma, 2.0)
    # within 2 sigma: 0.5<=1 yes, 3<=4 yes, 2.5<=1 no, 1<=0.4 no
    assert s["within_2_sigma"] == 0.5
    # misses (|e| >= 2): 3 and -2.5; flagged (2 sigma > 2): only sigma 2
    assert s["n_misses"] == 2 and s["misses_flagged"] == 1 and s["misses_flagged_fraction"] == 0.5
    assert s["flagged_fraction"] == 0.25 and s["n_estimates"] == 4
    assert s["sigma_median_m"] == 0.5
    assert coverage_scores(np.zeros((1, 1, 2)), np.ones((1, 1, 2)), 2.0)["misses_flagged_fraction"] is None
