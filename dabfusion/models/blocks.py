"""Small building blocks shared by the stage-1 networks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def norm(c: int) -> nn.Module:
    # GroupNorm, not the paper's BatchNorm: identical in eval and train, independent of batch
    # size and of how a batch is split over GPUs
    return nn.GroupNorm(math.gcd(c, 8), c)


class ConvNormAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1):
        super().__init__(nn.Conv2d(cin, cout, k, stride, k // 2), norm(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(ConvNormAct(c, c), nn.Conv2d(c, c, 3, 1, 1), norm(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Down(nn.Sequential):
    """Halve the resolution: conv, norm, ReLU, 2x2 average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__(ConvNormAct(cin, cout), nn.AvgPool2d(2))


class Up(nn.Sequential):
    """Double the resolution: nearest upsampling, conv, norm, ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvNormAct(cin, cout))


class Hourglass(nn.Module):
    """U-shaped conv net: (B, cin, H, W) -> (B, cin + c_last, H, W) with skip connections."""

    def __init__(self, cin: int, widths: tuple[int, ...]):
        super().__init__()
        self.downs = nn.ModuleList()
        c = cin
        for w in widths:
            self.downs.append(Down(c, w))
            c = w
        self.ups = nn.ModuleList()
        skips = [cin, *widths[:-1]]
        for w, s in zip(reversed(widths), reversed(skips)):
            self.ups.append(Up(c, s))
            c = 2 * s
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for d in self.downs:
            feats.append(d(feats[-1]))
        h = feats.pop()
        for u in self.ups:
            h = torch.cat([u(h), feats.pop()], dim=1)
        return h
