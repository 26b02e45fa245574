"""A small U-Net over the receiver grid: each station's estimate sees its neighbours' spectra."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    # replicate padding: the grid edge is not a zero-valued station
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="replicate"), nn.GELU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1, padding_mode="replicate"), nn.GELU())


class UNet(nn.Module):
    """x (N, C_in, ny, nx) -> (N, C_out, ny, nx); any grid size (skips are resized to match)."""

    def __init__(self, c_in: int, c_out: int, width: int = 32, levels: int = 2):
        super().__init__()
        self.lift = nn.Sequential(nn.Conv2d(c_in, width, 1), nn.GELU())   # compress the many spectral channels
        self.down = nn.ModuleList(_block(width * 2**i, width * 2 ** (i + 1)) for i in range(levels))
        self.top = _block(width, width)
        self.up = nn.ModuleList(_block(width * 2 ** (i + 1) + width * 2**i, width * 2**i)
                                for i in reversed(range(levels)))
        self.head = nn.Conv2d(width, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lift(x)
        skips = [self.top(h)]
        for block in self.down:
            skips.append(block(F.avg_pool2d(skips[-1], 2, ceil_mode=True)))
        h = skips.pop()
        for block in self.up:
            skip = skips.pop()
            h = block(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False),
                                 skip], dim=1))
        return self.head(h)
