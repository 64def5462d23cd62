"""What the diffusion model generates: a0 = [latent flow, occlusion] as one volume (paper eq. 6).

    a0 (B, 3, N, h, w) = [ (grid - identity) / flow_scale ,  2 m - 1 ]

The flow is stored as the displacement of the backward sampling grid from the identity,
divided by ``flow_scale`` (the 99.9th percentile of |displacement| over the training cache),
so both parts live in [-1, 1], the range dynamic thresholding assumes; the occlusion map is
mapped from [0, 1] to [-1, 1] as in LFDM. ``decode`` inverts it (clamping the occlusion).

What the model works on (``TargetSpace``, beyond the paper; the aistpp preset keeps a0 as it is):
- ``diffusion.representation: velocity``: frame 0's flow, then each frame's change from the
  frame before (``to_velocity``; ``from_velocity`` sums it back). Measured on the default's
  cache: the flow channels have standard deviations 0.215 (x) and 0.048 (y), their change from
  frame to frame only 0.047 and 0.008, and the dance's timing lives in that change (on the
  frames of a music beat it is 0.45 times its size elsewhere), so under the noise of all but
  the last steps of the cosine schedule the timing is invisible in a0 itself.
- ``diffusion.standardize``: each channel and frame standardised with the training cache's
  mean and standard deviation, so the noise schedule meets every part at unit scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.warp import identity_grid


def encode(grid: torch.Tensor, occlusion: torch.Tensor, flow_scale: float) -> torch.Tensor:
    """grid (B, N, h, w, 2), occlusion (B, N, 1, h, w) -> a0 (B, 3, N, h, w)."""
    b, n, h, w, _ = grid.shape
    disp = (grid - identity_grid(1, h, w, grid.device, grid.dtype)) / flow_scale
    return torch.cat([disp.permute(0, 4, 1, 2, 3), occlusion.permute(0, 2, 1, 3, 4) * 2 - 1], dim=1)


def to_velocity(a0: torch.Tensor) -> torch.Tensor:
    """(B, C, N, h, w) -> frame 0, then frame k minus frame k - 1 (same shape)."""
    return torch.cat([a0[:, :, :1], a0.diff(dim=2)], dim=2)


def from_velocity(v: torch.Tensor) -> torch.Tensor:
    return v.cumsum(dim=2)


@dataclass
class TargetSpace:
    """a0 <-> what the denoiser generates. mean and std: (C, N) per channel and frame, or None."""

    representation: str = "flows"  # flows | velocity
    mean: list | None = None
    std: list | None = None

    def __post_init__(self):
        if self.representation not in ("flows", "velocity"):
            raise ValueError(f"representation must be 'flows' or 'velocity', got {self.representation!r}")

    @classmethod
    def fit(cls, a0: torch.Tensor, representation: str = "flows", standardize: bool = False,
            min_std: float = 0.01) -> "TargetSpace":
        """Statistics of the training volumes a0 (B, C, N, h, w); std floored at ``min_std`` (a constant channel)."""
        space = cls(representation)
        if standardize:
            x = space._represent(a0).double().transpose(0, 1).transpose(1, 2).flatten(2)  # (C, N, B h w)
            space.mean, space.std = x.mean(dim=2).tolist(), x.std(dim=2).clamp(min=min_std).tolist()
        return space

    def _represent(self, a0: torch.Tensor) -> torch.Tensor:
        return to_velocity(a0) if self.representation == "velocity" else a0

    def _stats(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = a.shape[2]
        mean = torch.as_tensor(self.mean, dtype=a.dtype, device=a.device)[None, :, :n, None, None]
        std = torch.as_tensor(self.std, dtype=a.dtype, device=a.device)[None, :, :n, None, None]
        return mean, std

    def to_model(self, a0: torch.Tensor) -> torch.Tensor:
        a = self._represent(a0)
        if self.mean is not None:
            mean, std = self._stats(a)
            a = (a - mean) / std
        return a

    def to_flows(self, a: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            mean, std = self._stats(a)
            a = a * std + mean
        return from_velocity(a) if self.representation == "velocity" else a

    def to_dict(self) -> dict:
        return {"representation": self.representation, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict | None) -> "TargetSpace":
        return cls(**d) if d else cls()


def decode(a0: torch.Tensor, flow_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """a0 (B, 3, N, h, w) -> grid (B, N, h, w, 2), occlusion (B, N, 1, h, w) in [0, 1]."""
    _, _, _, h, w = a0.shape
    grid = a0[:, :2].permute(0, 2, 3, 4, 1) * flow_scale + identity_grid(1, h, w, a0.device, a0.dtype)
    occ = ((a0[:, 2:3] + 1) / 2).clamp(0, 1).permute(0, 2, 1, 3, 4)
    return grid, occ
