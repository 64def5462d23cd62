"""Backward warping with a sampling grid: the one implementation used by training and inference.

A latent flow is stored as a sampling grid ``grid`` (B, H, W, 2), (x, y) in [-1, 1]
(``align_corners=False`` convention): output pixel (i, j) takes the input at ``grid[:, i, j]``.
This is the paper's backward flow; eq. (1) is ``warp(z, grid, occlusion)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity_grid(b: int, h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(b, h, w, 2) grid that samples every pixel at its own centre."""
    ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) / w * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).unsqueeze(0).expand(b, h, w, 2)


def grid_from_displacement(disp: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) displacement in pixels (dx, dy) -> sampling grid."""
    b, h, w, _ = disp.shape
    scale = torch.tensor([2.0 / w, 2.0 / h], device=disp.device, dtype=disp.dtype)
    return identity_grid(b, h, w, disp.device, disp.dtype) + disp * scale


def displacement_from_grid(grid: torch.Tensor) -> torch.Tensor:
    """Inverse of ``grid_from_displacement``: pixels (dx, dy) each output pixel reads from."""
    b, h, w, _ = grid.shape
    scale = torch.tensor([w / 2.0, h / 2.0], device=grid.device, dtype=grid.dtype)
    return (grid - identity_grid(b, h, w, grid.device, grid.dtype)) * scale


def resize_grid(grid: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The same grid at another resolution. The displacement (grid - identity) is what gets
    resampled: resampling the grid itself would clamp it at the borders, where the outer
    pixels would then read from the wrong place (and from the zero padding)."""
    b, gh, gw, _ = grid.shape
    if (gh, gw) == (h, w):
        return grid
    disp = grid - identity_grid(b, gh, gw, grid.device, grid.dtype)
    disp = F.interpolate(disp.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=False)
    return identity_grid(b, h, w, grid.device, grid.dtype) + disp.permute(0, 2, 3, 1)


def warp(x: torch.Tensor, grid: torch.Tensor, occlusion: torch.Tensor | None = None,
         mode: str = "bilinear", inside: bool = False) -> torch.Tensor:
    """Eq. (1): m * f_w(x, f). x (B, C, H, W); grid (B, h, w, 2) resized to H x W; occlusion (B, 1, H, W).

    ``mode="bicubic"`` keeps images sharp: bilinear sampling at sub-pixel offsets is a low-pass
    filter, and a video warped by a small flow otherwise comes out visibly blurred.
    ``inside=True`` (generated flows) keeps every read within the outermost pixel centres: a
    generated flow that points a border pixel past the edge would read the zero padding and
    paint black bands along the frame's sides; it reads the edge pixel instead.
    """
    grid = resize_grid(grid, x.shape[2], x.shape[3])
    if inside:
        h, w = x.shape[2], x.shape[3]
        limit = torch.tensor([1 - 1 / w, 1 - 1 / h], device=grid.device, dtype=grid.dtype)
        grid = torch.maximum(torch.minimum(grid, limit), -limit)
    out = F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode="zeros", align_corners=False)
    if occlusion is not None:
        if occlusion.shape[2:] != out.shape[2:]:
            occlusion = F.interpolate(occlusion, size=out.shape[2:], mode="bilinear", align_corners=False)
        out = out * occlusion
    return out
