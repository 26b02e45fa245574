"""Ground-motion misfit measures between predicted and reference station velocities.

All take velocity arrays (N, 3, T) in m/s sampled every dt s and return (N,) per station.
The goodness of fit follows Anderson (2004): each criterion compares one
property p of the two records with S(p1, p2) = 10 exp(-((p1 - p2) / min(p1, p2))^2),
averaged over criteria and components, 0 (no fit) to 10 (identical). Criteria
used (a subset of Anderson's ten that needs no response-spectrum solver):
peak velocity, peak displacement, energy integral (int v^2 dt), energy
duration (time between 5 % and 95 % of it), Fourier amplitude (mean S over
0.1-10 Hz) and the normalised cross-correlation (10 max(0, cc)).
"""
from __future__ import annotations

import numpy as np


def relative_l2(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(N,) ||pred - ref|| / ||ref|| over components and time."""
    num = np.sqrt(((pred - ref) ** 2).sum(axis=(1, 2)))
    return num / np.maximum(np.sqrt((ref**2).sum(axis=(1, 2))), np.finfo(float).tiny)


def peak_ground_velocity(v: np.ndarray) -> np.ndarray:
    """(N,) peak over time of the velocity vector's magnitude, m/s."""
    return np.sqrt((v.astype(np.float64) ** 2).sum(axis=1)).max(axis=-1)


def _score(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    lo = np.maximum(np.minimum(p1, p2), 1e-30)
    return 10.0 * np.exp(-(((p1 - p2) / lo) ** 2))


def _energy_duration(v: np.ndarray, dt: float) -> np.ndarray:
    cum = np.cumsum(v**2, axis=-1)
    cum = cum / np.maximum(cum[..., -1:], 1e-300)
    return ((cum < 0.95).sum(-1) - (cum < 0.05).sum(-1)) * dt


def anderson_gof(pred: np.ndarray, ref: np.ndarray, dt: float, significant: float = 0.05) -> np.ndarray:
    """(N,) Anderson-style goodness of fit, 0-10, averaged over criteria and significant components.

    A component counts when its reference peak exceeds `significant` times the
    station's largest component peak (quiet components would be scored on noise).
    """
    pred, ref = pred.astype(np.float64), ref.astype(np.float64)
    disp_p, disp_r = np.cumsum(pred, -1) * dt, np.cumsum(ref, -1) * dt
    n_fft = 1 << int(np.ceil(np.log2(2 * ref.shape[-1])))
    freqs = np.fft.rfftfreq(n_fft, dt)
    band = (freqs >= 0.1) & (freqs <= 10.0)
    fas_p = np.abs(np.fft.rfft(pred, n_fft, axis=-1))[..., band]
    fas_r = np.abs(np.fft.rfft(ref, n_fft, axis=-1))[..., band]
    norm = np.sqrt((pred**2).sum(-1) * (ref**2).sum(-1))
    cc = (pred * ref).sum(-1) / np.maximum(norm, 1e-300)
    scores = np.stack([
        _score(np.abs(pred).max(-1), np.abs(ref).max(-1)),
        _score(np.abs(disp_p).max(-1), np.abs(disp_r).max(-1)),
        _score((pred**2).sum(-1) * dt, (ref**2).sum(-1) * dt),
        _score(_energy_duration(pred, dt), _energy_duration(ref, dt)),
        _score(fas_p, fas_r).mean(-1),
        10.0 * np.clip(cc, 0.0, 1.0),
    ])                                                            # (criteria, N, 3)
    peaks = np.abs(ref).max(-1)
    use = peaks >= significant * peaks.max(axis=1, keepdims=True)
    return (scores.mean(0) * use).sum(1) / np.maximum(use.sum(1), 1)
