"""Standardisation statistics, computed on the training split only and saved with the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Normaliser:
    mean: np.ndarray   #: (C,) float64 per-feature mean, units of the feature
    std: np.ndarray    #: (C,) float64 per-feature std (1 where a feature is constant)

    @classmethod
    def fit(cls, samples: np.ndarray, scalar: bool = False) -> "Normaliser":
        """Statistics over axis 0 of samples (N, C); `scalar`: one mean 0 and one RMS for all C."""
        samples = samples.astype(np.float64)
        if scalar:
            rms = np.sqrt(np.mean(samples**2))
            return cls(np.zeros(samples.shape[1]), np.full(samples.shape[1], rms if rms > 0 else 1.0))
        std = samples.std(axis=0)
        # a constant feature (e.g. fixed layer properties) carries no information: leave it at 0
        return cls(samples.mean(axis=0), np.where(std > 1e-12 * (1 + np.abs(samples.mean(axis=0))), std, 1.0))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardise the last axis of x (..., C)."""
        return ((x - self.mean) / self.std).astype(np.float32)

    def revert(self, z: np.ndarray) -> np.ndarray:
        """Undo `apply`: physical units from standardised values (..., C)."""
        return z.astype(np.float64) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


def standardise(a: np.ndarray, norm: Normaliser) -> np.ndarray:
    """Standardise samples (N, C) or channel-first grids (N, C, ny, nx) along C."""
    return np.moveaxis(norm.apply(np.moveaxis(a, 1, -1)), -1, 1) if a.ndim == 4 else norm.apply(a)


def revert(a: np.ndarray, norm: Normaliser) -> np.ndarray:
    """Physical values from standardised samples (N, C) or grids (N, C, ny, nx)."""
    return np.moveaxis(norm.revert(np.moveaxis(a, 1, -1)), -1, 1) if a.ndim == 4 else norm.revert(a)
