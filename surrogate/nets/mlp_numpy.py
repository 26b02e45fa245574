"""The MLP's forward pass in numpy: inference from the trained weights without importing torch.

Layer for layer what surrogate.nets.mlp.MLP computes in float32 (Linear, exact
GELU, ..., Linear). Numpy has no erf; GELU's normal tail 1 - Phi(|x|) =
erfc(|x|/sqrt 2)/2 is Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7),
evaluated in float32 as torch does: within 4.2e-7 of the exact GELU on
[-6, 6], where torch's own float32 GELU is within 3.6e-7
(tests/test_surrogate_modelfile.py).
"""
from __future__ import annotations

import numpy as np

_SQRT_HALF = np.float32(np.sqrt(0.5))
_P = np.float32(0.3275911)
_A = tuple(np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def gelu(x: np.ndarray) -> np.ndarray:
    """x Phi(x) (torch's default, erf-based GELU) of a float32 array."""
    a = np.abs(x) * _SQRT_HALF
    t = 1.0 / (1.0 + _P * a)
    tail = _A[4] * t                                     # Horner, in place: these arrays are the layer's size
    for coefficient in _A[3::-1]:
        tail += coefficient
        tail *= t
    a *= a
    np.negative(a, out=a)
    tail *= np.exp(a, out=a)
    tail *= 0.5                                          # 1 - Phi(|x|): small, no cancellation
    return x * np.where(x >= 0, 1.0 - tail, tail)


def linear_layers(weights: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W (out, in), b (out,)) of each Linear of an MLP state dict (`body.<i>.weight`), input first."""
    indices = sorted({int(k.split(".")[1]) for k in weights if k.startswith("body.")})
    return [(weights[f"body.{i}.weight"], weights[f"body.{i}.bias"]) for i in indices]


def mlp_forward(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """(N, n_outputs) float32 from standardised inputs x (N, n_inputs)."""
    h = np.asarray(x, dtype=np.float32)
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = gelu(h)
    return h
