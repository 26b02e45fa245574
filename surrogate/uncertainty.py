"""Standard deviation of boundary estimates, calibrated on the validation split.

    sigma = sqrt(a^2 * spread^2 + b^2)        per boundary, m

spread is the disagreement of the trained inverse networks at a station (the
standard deviation of their estimates; 0 where one network is trained, so
sigma = b: one homoscedastic sigma per boundary). (a, b) are fitted so that a
share COVERAGE (95 %) of the validation truths lie within +-2 sigma: for each a
of a grid, the smallest b that covers that share is exact (a quantile of
e^2/4 - a^2 spread^2), and of those (a, b) the one with the lowest Gaussian
negative log-likelihood on validation is kept. Coverage is the constraint
(what a user reads off +-2 sigma), the likelihood picks how much of sigma the
spread explains.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COVERAGE = 0.95
#: spread multipliers tried (0: the spread is ignored)
A_GRID = np.concatenate([[0.0], np.geomspace(0.05, 20.0, 61)])
#: the smallest b, m: a sigma of zero would claim an exact estimate
MIN_SIGMA_M = 1e-3
METHOD = ("sigma = sqrt(a^2 spread^2 + b^2) per boundary; spread: std of the trained inverse networks' "
          "estimates; (a, b): +-2 sigma covers 95 % of validation truths, lowest Gaussian NLL among such")


@dataclass(frozen=True)
class Calibration:
    a: np.ndarray   #: (B,) multiplier of the networks' spread, 1
    b: np.ndarray   #: (B,) floor, m

    def sigma(self, spread: np.ndarray) -> np.ndarray:
        """(..., B, R) standard deviation, m, from the networks' spread (..., B, R), m."""
        a, b = self.a[:, None], self.b[:, None]
        return np.sqrt((a * spread) ** 2 + b ** 2)

    def to_dict(self) -> dict:
        return {"a": self.a.tolist(), "b": self.b.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(np.asarray(d["a"], dtype=float), np.asarray(d["b"], dtype=float))


def spread(member_estimates: list[np.ndarray]) -> np.ndarray:
    """(N, B, R) std of the members' estimates (N, B, R) each; zeros for one member."""
    return np.std(np.stack(member_estimates), axis=0)


def _fit_one(e: np.ndarray, s: np.ndarray, coverage: float) -> tuple[float, float]:
    """(a, b) for one boundary's errors e and spreads s (flat arrays)."""
    best = None
    for a in A_GRID if np.any(s > 0) else A_GRID[:1]:
        need = np.maximum(e ** 2 / 4 - (a * s) ** 2, 0.0)          # b^2 each truth needs to lie within 2 sigma
        b = max(float(np.sqrt(np.quantile(need, coverage, method="higher"))), MIN_SIGMA_M)
        sig2 = (a * s) ** 2 + b ** 2
        nll = float(np.mean(0.5 * np.log(sig2) + e ** 2 / (2 * sig2)))
        if best is None or nll < best[0]:
            best = (nll, float(a), b)
    return best[1], best[2]


def fit(error: np.ndarray, spread_m: np.ndarray, coverage: float = COVERAGE) -> Calibration:
    """Calibration from validation errors (estimate - truth) and spreads, both (N, B, R) m."""
    ab = [_fit_one(error[:, k].ravel(), spread_m[:, k].ravel(), coverage) for k in range(error.shape[1])]
    return Calibration(np.array([a for a, _ in ab]), np.array([b for _, b in ab]))


def coverage_scores(error: np.ndarray, sigma: np.ndarray, tolerance_m: float) -> dict:
    """How the sigmas (N, B, R) hold on errors (N, B, R): coverage of +-2 sigma, and which misses they flag.

    A miss is an estimate outside the tolerance (as within_tolerance counts it: |error| >= tolerance);
    the uncertainty flags an estimate when 2 sigma > tolerance (it does not vouch for the tolerance)."""
    err = np.abs(error)
    miss, flagged = err >= tolerance_m, 2 * sigma > tolerance_m
    n_miss = int(miss.sum())
    return {"within_2_sigma": float((err <= 2 * sigma).mean()), "n_estimates": int(err.size),
            "n_misses": n_miss, "misses_flagged": int((miss & flagged).sum()),
            "misses_flagged_fraction": float((miss & flagged).sum() / n_miss) if n_miss else None,
            "flagged_fraction": float(flagged.mean()), "sigma_median_m": float(np.median(sigma))}
