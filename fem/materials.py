"""Per-cell material arrays and the Rayleigh damping fitted to each layer's damping ratio."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.model import GroundModel


def rayleigh_coefficients(damping_ratio: float, band: tuple[float, float], samples: int = 64) -> tuple[float, float]:
    """(alpha 1/s, beta s) of C = alpha*M + beta*K whose damping ratio best fits `damping_ratio` over `band` Hz.

    Rayleigh damping gives xi(w) = alpha/(2w) + beta*w/2; it cannot be flat, so
    (alpha, beta) minimise the squared misfit to the constant ratio on a
    log-spaced grid across the band (equal weight per octave)."""
    if damping_ratio == 0.0:
        return 0.0, 0.0
    w = 2.0 * np.pi * np.geomspace(band[0], band[1], samples)
    design = np.stack([0.5 / w, 0.5 * w], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(design, np.full_like(w, damping_ratio), rcond=None)
    return float(max(alpha, 0.0)), float(max(beta, 0.0))


@dataclass(frozen=True)
class CellMaterial:
    lam: np.ndarray    #: (n_cells,) Lame lambda, Pa
    mu: np.ndarray     #: (n_cells,) shear modulus, Pa
    rho: np.ndarray    #: (n_cells,) density, kg/m^3
    alpha: np.ndarray  #: (n_cells,) mass-proportional Rayleigh coefficient, 1/s
    beta: np.ndarray   #: (n_cells,) stiffness-proportional Rayleigh coefficient, s


def layer_rayleigh(model: GroundModel, band: tuple[float, float]) -> np.ndarray:
    """(n_layers, 2) Rayleigh (alpha, beta) of every layer."""
    return np.array([rayleigh_coefficients(layer.damping, band) for layer in model.layers])


def cell_material(model: GroundModel, layer: np.ndarray, band: tuple[float, float]) -> CellMaterial:
    """Material of each cell from its layer index."""
    ab = layer_rayleigh(model, band)[layer]
    return CellMaterial(model.property_at("lam", layer), model.property_at("mu", layer),
                        model.property_at("rho", layer), ab[:, 0], ab[:, 1])
