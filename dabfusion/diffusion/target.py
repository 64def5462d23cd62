"""What the diffusion model generates: a0 = [latent flow, occlusion] as one volume (paper eq. 6).

    a0 (B, 3, N, h, w) = [ (grid - identity) / flow_scale ,  2 m - 1 ]

The flow is stored as the displacement of the backward sampling grid from the identity,
divided by ``flow_scale`` (the 99.9th percentile of |displacement| over the training cache),
so both parts live in [-1, 1], the range dynamic thresholding assumes; the occlusion map is
mapped from [0, 1] to [-1, 1] as in LFDM. ``decode`` inverts it (clamping the occlusion).
"""

from __future__ import annotations

import torch

from ..models.warp import identity_grid


def encode(grid: torch.Tensor, occlusion: torch.Tensor, flow_scale: float) -> torch.Tensor:
    """grid (B, N, h, w, 2), occlusion (B, N, 1, h, w) -> a0 (B, 3, N, h, w)."""
    b, n, h, w, _ = grid.shape
    disp = (grid - identity_grid(1, h, w, grid.device, grid.dtype)) / flow_scale
    return torch.cat([disp.permute(0, 4, 1, 2, 3), occlusion.permute(0, 2, 1, 3, 4) * 2 - 1], dim=1)


def decode(a0: torch.Tensor, flow_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """a0 (B, 3, N, h, w) -> grid (B, N, h, w, 2), occlusion (B, N, 1, h, w) in [0, 1]."""
    _, _, _, h, w = a0.shape
    grid = a0[:, :2].permute(0, 2, 3, 4, 1) * flow_scale + identity_grid(1, h, w, a0.device, a0.dtype)
    occ = ((a0[:, 2:3] + 1) / 2).clamp(0, 1).permute(0, 2, 1, 3, 4)
    return grid, occ
