"""Fully connected network: the point-wise inverse model (one station's spectra -> its depths,
as in Yamaguchi et al. 2020) and the forward model (one station's column -> its waveforms)."""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """x (N, n_inputs) -> (N, n_outputs); GELU hidden layers, no normalisation layers
    (so that DDP over shards equals one process over the whole batch)."""

    def __init__(self, n_inputs: int, n_outputs: int, hidden: tuple[int, ...]):
        super().__init__()
        widths = (n_inputs, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.GELU()]
        layers.append(nn.Linear(widths[-1], n_outputs))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
