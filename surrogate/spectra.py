"""Station spectra: the inverse networks' view of the observations.

Why spectra: for a vertically incident wave the layer boundaries show up as
resonance frequencies of the column (f ~ vs / 4H for a layer of thickness H),
which the amplitude spectrum exposes directly and which does not care about
small time shifts; the logarithm turns the spectral ratios of layered media
into differences and compresses the dynamic range. The inverse networks read
the waveforms beside them (surrogate.features): a short record's spectrum is
coarse, and the reflections' delays are in the phase it drops.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Band:
    f_min: float   #: lowest frequency, Hz
    f_max: float   #: highest frequency, Hz
    n: int         #: number of evenly spaced frequencies

    def frequencies(self) -> np.ndarray:
        """(n,) float64 frequencies, Hz."""
        return np.linspace(self.f_min, self.f_max, self.n)


#: relative floor of the amplitude spectrum: below 1e-6 of a record's peak is noise for any engine
FLOOR = 1e-6


def log_amplitude_spectra(velocity: np.ndarray, dt: float, band: Band) -> np.ndarray:
    """(..., n) float32 log10 Fourier amplitude (m) of velocity (..., T) (m/s, sampled every dt s).

    Zero-padded to 4T so the band is sampled finely; the floor is FLOOR times
    the record's peak amplitude (per leading index of `velocity[..., 0, 0]`
    when velocity is (R, 3, T): one floor per simulation, set by its largest amplitude).
    """
    n_fft = 1 << int(np.ceil(np.log2(4 * velocity.shape[-1])))
    amplitude = np.abs(np.fft.rfft(velocity.astype(np.float64), n_fft, axis=-1)) * dt
    freqs = np.fft.rfftfreq(n_fft, dt)
    if band.f_max > freqs[-1]:
        raise ValueError(f"band up to {band.f_max} Hz exceeds the Nyquist frequency {freqs[-1]} Hz")
    floor = FLOOR * amplitude.max() + np.finfo(np.float64).tiny
    idx = np.searchsorted(freqs, band.frequencies())
    lo = np.clip(idx - 1, 0, len(freqs) - 2)
    w = (band.frequencies() - freqs[lo]) / (freqs[lo + 1] - freqs[lo])
    sampled = amplitude[..., lo] * (1 - w) + amplitude[..., lo + 1] * w
    return np.log10(sampled + floor).astype(np.float32)
