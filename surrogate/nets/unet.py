"""A small U-Net over the receiver grid: each station's output sees its neighbours' inputs.

Two uses: the spatial inverse (records -> boundary depths) and the spatial
forward network (`forward_spatial`: ground model maps -> the 3 x T velocity
samples of every station, the time axis in the channels). Why a U-Net and not
a Fourier neural operator for these grids: they are tiny (4 x 4 in CI, 6 x 6
default, 8 x 8 benchmark), so an FNO keeps at most nx/2 + 1 = 5 Fourier modes
per axis, i.e. it is a dense global linear map plus pointwise layers, and its
FFT treats the grid as periodic, which the box is not (the sides are free-field
boundaries and the cross components are largest near them). Two 3 x 3 levels
with pooling reach the whole 8 x 8 grid (receptive field > 16 stations) and
keep local operators, which is what the cross components are: the x motion
scattered by the slopes of the boundaries around a station. Replicate padding
treats the edge as the edge. Resolution independence, the FNO's selling point,
is not used: the grid is fixed per store. (neuraloperator is not a dependency;
an FNO becomes worth it on grids of 32+ stations per side.)

Each station's channels first pass a per-station MLP of 1 x 1 convolutions (`lift`
hidden widths, then `width`): the spatial inverse's stations carry 400 channels
(spectra and three waveforms), which one linear layer of 32 compressed too hard
(surrogate.train TASK_LIFT).
"""
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

    def __init__(self, c_in: int, c_out: int, width: int = 32, levels: int = 2, lift: tuple[int, ...] = ()):
        super().__init__()
        # compress each station's many channels (spectra, waveform samples) on its own: an MLP of 1 x 1 convolutions
        sizes = (c_in, *lift, width)
        self.lift = nn.Sequential(*(layer for a, b in zip(sizes[:-1], sizes[1:])
                                    for layer in (nn.Conv2d(a, b, 1), nn.GELU())))
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
