"""Time-frequency envelope and phase goodness of fit between predicted and reference traces.

Follows Kristekova, Kristek, Moczo & Day (2006, BSSA 96, 1836-1850) for the
misfit criteria and Kristekova, Kristek & Moczo (2009, GJI 178, 813-825) for
the goodness of fit built on them.

Choices made here:

* Time-frequency representation: continuous wavelet transform with the
  analytic Morlet wavelet, omega0 = 6, evaluated on `n_freq` log-spaced
  frequencies in [f_min, f_max]. It is computed in the frequency domain: the
  trace is zero padded (enough that the widest wavelet does not wrap around),
  its spectrum multiplied by 2 exp(-(s w - omega0)^2 / 2) on w > 0 (zero on
  w <= 0) with scale s = omega0 / (2 pi f), and transformed back. With this
  normalisation a sinusoid a cos(2 pi f t) gives |W(t, f)| = a.
* Misfits: the single-valued, globally normalised envelope and phase misfits
  of the 2006 paper,
      TFEM(t, f) = |W_pred| - |W_ref|,
      TFPM(t, f) = |W_ref| * dphi(t, f) / pi,  dphi = arg W_pred - arg W_ref in (-pi, pi],
      EM = sqrt( sum |TFEM|^2 / sum |W_ref|^2 ),
      PM = sqrt( sum |TFPM|^2 / sum |W_ref|^2 ),
  with the sums over the trace's time samples (not the padding) and the
  frequency grid. EM = |s - 1| for pred = s * ref; PM = 1 for pred = -ref.
* Goodness of fit (2009): EG = A exp(-|EM|^k), PG = A exp(-|PM|^k), A = 10,
  k = 1, so 10 is a perfect fit. Verbal classes: 8-10 excellent, 6-8 good,
  4-6 fair, 0-4 poor; a trace "fits well" when its GOF is at least 6.

A trace whose reference is zero over the whole band (e.g. an all-zero trace)
has no defined misfit: its EM, PM, EG and PG are NaN, with no warnings raised.

Frequencies should stay well below the Nyquist frequency (f_max <= 1/(4 dt)
keeps the whole Gaussian window of omega0 = 6 inside the sampled band);
f_max above Nyquist is an error.
"""
from __future__ import annotations

import numpy as np

OMEGA0 = 6.0
GOF_A = 10.0
GOF_K = 1.0
EXCELLENT_MIN = 8.0
GOOD_MIN = 6.0
FAIR_MIN = 4.0
FIT_THRESHOLD = GOOD_MIN

_CHUNK_BYTES = 1 << 26            # complex work arrays per chunk of traces, ~64 MiB
_WAVELET_WIDTHS = 6.0             # zero padding, in Gaussian time widths of the widest wavelet


def log_frequencies(f_min: float, f_max: float, n_freq: int = 32) -> np.ndarray:
    """(n_freq,) log-spaced frequencies from f_min to f_max, Hz, both included."""
    if not (0.0 < f_min <= f_max):
        raise ValueError(f"need 0 < f_min <= f_max, got {f_min}, {f_max}")
    if n_freq < 1:
        raise ValueError(f"n_freq must be positive, got {n_freq}")
    if n_freq == 1:
        return np.array([float(f_min)])
    return np.geomspace(f_min, f_max, n_freq)


def _n_fft(n_t: int, dt: float, f_low: float, omega0: float) -> int:
    s_max = omega0 / (2.0 * np.pi * f_low)
    need = n_t + int(np.ceil(_WAVELET_WIDTHS * s_max / dt))
    return 1 << int(np.ceil(np.log2(max(need, 2))))


def _filters(freqs: np.ndarray, n_fft: int, dt: float, omega0: float) -> np.ndarray:
    """(n_freq, n_fft // 2 + 1) analytic Morlet windows on the rfft grid (zero at w = 0)."""
    w = 2.0 * np.pi * np.fft.rfftfreq(n_fft, dt)
    scale = omega0 / (2.0 * np.pi * freqs)
    g = 2.0 * np.exp(-0.5 * (scale[:, None] * w[None, :] - omega0) ** 2)
    g[:, 0] = 0.0
    return g


def _check(dt: float, freqs: np.ndarray) -> None:
    if dt <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if freqs.max() > 0.5 / dt:
        raise ValueError(f"frequency {freqs.max()} Hz above Nyquist {0.5 / dt} Hz")


def _cwt_flat(x: np.ndarray, g: np.ndarray, n_fft: int) -> np.ndarray:
    """(B, n_freq, T) transform of (B, T) traces with prepared windows g."""
    n_t = x.shape[-1]
    spec = np.fft.rfft(x, n_fft, axis=-1)                          # (B, n_rfft)
    full = np.zeros((x.shape[0], g.shape[0], n_fft), dtype=np.complex128)
    full[..., : g.shape[1]] = spec[:, None, :] * g[None]
    if n_fft % 2 == 0:                                             # Nyquist bin is real: no analytic part
        full[..., n_fft // 2] = 0.0
    return np.fft.ifft(full, axis=-1)[..., :n_t]


def cwt_morlet(x: np.ndarray, dt: float, freqs: np.ndarray, omega0: float = OMEGA0) -> np.ndarray:
    """(..., n_freq, T) complex analytic-Morlet CWT of real traces x (..., T) at freqs, Hz.

    Normalised so that a cos(2 pi f t) has |W(t, f)| = a away from the trace ends.
    """
    x = np.asarray(x, dtype=np.float64)
    freqs = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
    _check(dt, freqs)
    if np.any(freqs <= 0):
        raise ValueError("frequencies must be positive")
    n_t = x.shape[-1]
    n_fft = _n_fft(n_t, dt, freqs.min(), omega0)
    g = _filters(freqs, n_fft, dt, omega0)
    flat = x.reshape(-1, n_t)
    out = np.empty((flat.shape[0], freqs.size, n_t), dtype=np.complex128)
    chunk = max(1, _CHUNK_BYTES // (16 * freqs.size * n_fft))
    for i in range(0, flat.shape[0], chunk):
        out[i : i + chunk] = _cwt_flat(flat[i : i + chunk], g, n_fft)
    return out.reshape(x.shape[:-1] + (freqs.size, n_t))


def tf_misfits(pred: np.ndarray, ref: np.ndarray, dt: float, f_min: float, f_max: float,
               n_freq: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Single-valued envelope and phase misfits (EM, PM), each of shape (...), of traces (..., T).

    Globally normalised (Kristekova et al. 2006): EM = sqrt(sum (|Wp| - |Wr|)^2 / sum |Wr|^2),
    PM = sqrt(sum (|Wr| dphi / pi)^2 / sum |Wr|^2), sums over time and the log-spaced
    frequency grid in [f_min, f_max]. NaN where the reference transform is zero.
    """
    pred = np.asarray(pred, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"pred {pred.shape} and ref {ref.shape} differ in shape")
    freqs = log_frequencies(f_min, f_max, n_freq)
    _check(dt, freqs)
    lead, n_t = ref.shape[:-1], ref.shape[-1]
    n_fft = _n_fft(n_t, dt, freqs.min(), OMEGA0)
    g = _filters(freqs, n_fft, dt, OMEGA0)
    p_flat, r_flat = pred.reshape(-1, n_t), ref.reshape(-1, n_t)
    n_tr = r_flat.shape[0]
    env2 = np.empty(n_tr)
    pha2 = np.empty(n_tr)
    den = np.empty(n_tr)
    chunk = max(1, _CHUNK_BYTES // (2 * 16 * freqs.size * n_fft))
    for i in range(0, n_tr, chunk):
        sl = slice(i, i + chunk)
        wp = _cwt_flat(p_flat[sl], g, n_fft)
        wr = _cwt_flat(r_flat[sl], g, n_fft)
        ap, ar = np.abs(wp), np.abs(wr)
        dphi = np.angle(wp * np.conj(wr))                          # [-pi, pi]; -pi and pi weigh alike
        env2[sl] = ((ap - ar) ** 2).sum(axis=(-2, -1))
        pha2[sl] = ((ar * dphi / np.pi) ** 2).sum(axis=(-2, -1))
        den[sl] = (ar**2).sum(axis=(-2, -1))
    ok = den > 0
    safe = np.where(ok, den, 1.0)
    em = np.where(ok, np.sqrt(env2 / safe), np.nan)
    pm = np.where(ok, np.sqrt(pha2 / safe), np.nan)
    return em.reshape(lead), pm.reshape(lead)


def misfit_to_gof(misfit: np.ndarray, a: float = GOF_A, k: float = GOF_K) -> np.ndarray:
    """Kristekova et al. (2009) goodness of fit A exp(-|M|^k); NaN stays NaN."""
    return a * np.exp(-np.abs(np.asarray(misfit, dtype=np.float64)) ** k)


def tf_gof(pred: np.ndarray, ref: np.ndarray, dt: float, f_min: float, f_max: float,
           n_freq: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Envelope and phase goodness of fit (EG, PG), each (...), 0-10, of traces (..., T).

    EG = 10 exp(-EM), PG = 10 exp(-PM) with EM, PM from `tf_misfits`. NaN for a zero reference.
    """
    em, pm = tf_misfits(pred, ref, dt, f_min, f_max, n_freq)
    return misfit_to_gof(em), misfit_to_gof(pm)


def fits_well(gof: np.ndarray) -> np.ndarray:
    """Boolean array: GOF >= FIT_THRESHOLD (good or excellent); NaN gives False."""
    g = np.asarray(gof, dtype=np.float64)
    return np.nan_to_num(g, nan=-np.inf) >= FIT_THRESHOLD


def verbal_class(gof: np.ndarray) -> np.ndarray:
    """Array of 'excellent', 'good', 'fair', 'poor' ('' for NaN) for GOF values."""
    g = np.asarray(gof, dtype=np.float64)
    v = np.nan_to_num(g, nan=-np.inf)
    return np.select([v >= EXCELLENT_MIN, v >= GOOD_MIN, v >= FAIR_MIN, v > -np.inf],
                     ["excellent", "good", "fair", "poor"], default="")


def gof_summary(eg: np.ndarray, pg: np.ndarray) -> dict:
    """Median EG, median PG and the fraction of traces with EG >= 6 and PG >= 6.

    Traces where either value is NaN are left out; `n` counts those kept. With
    none kept, the medians and the fraction are NaN.
    """
    eg = np.asarray(eg, dtype=np.float64).ravel()
    pg = np.asarray(pg, dtype=np.float64).ravel()
    if eg.shape != pg.shape:
        raise ValueError(f"eg {eg.shape} and pg {pg.shape} differ in shape")
    keep = ~(np.isnan(eg) | np.isnan(pg))
    n = int(keep.sum())
    if n == 0:
        return {"median_eg": float("nan"), "median_pg": float("nan"),
                "frac_fit": float("nan"), "n": 0}
    e, p = eg[keep], pg[keep]
    return {"median_eg": float(np.median(e)), "median_pg": float(np.median(p)),
            "frac_fit": float(np.mean((e >= FIT_THRESHOLD) & (p >= FIT_THRESHOLD))), "n": n}
