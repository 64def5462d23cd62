"""Per-frame image metrics: PSNR, SSIM, LPIPS (then averaged over frames and videos).

- PSNR on [0, 1]: MSE over C, H, W per frame, 20 log10(1 / sqrt(MSE)); identical frames
  give +inf, which is capped at 100 dB so that means stay finite (documented choice).
- SSIM: 11 x 11 Gaussian window, sigma 1.5, C1 = 0.01^2, C2 = 0.03^2 on [0, 1], per channel,
  'valid' window positions only, averaged; equals scikit-image's structural_similarity with
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.
- LPIPS: the ``lpips`` package (v0.1 linear heads, AlexNet), inputs scaled to [-1, 1]. The
  AlexNet backbone comes from a local torchvision state dict when present, else a seeded
  random init (``pretrained`` False: not comparable with published numbers).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)
PSNR_CAP = 100.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N,) dB."""
    mse = ((a.double() - b.double()) ** 2).flatten(1).mean(1)
    out = 20 * torch.log10(1.0 / torch.sqrt(mse))
    return torch.clamp(torch.nan_to_num(out, posinf=PSNR_CAP), max=PSNR_CAP).float()


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N,) mean SSIM over channels and valid window positions."""
    a, b = a.double(), b.double()
    c = a.shape[1]
    # the 2D Gaussian window is separable: one 11 x 1 and one 1 x 11 pass over all five maps at once
    g = _gaussian_1d().to(a.device)
    maps = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    maps = F.conv2d(maps, g.view(1, 1, 11, 1).expand(5 * c, 1, 11, 1), groups=5 * c)
    maps = F.conv2d(maps, g.view(1, 1, 1, 11).expand(5 * c, 1, 1, 11), groups=5 * c)
    mu_a, mu_b, e_aa, e_bb, e_ab = maps.split(c, dim=1)
    var_a, var_b, cov = e_aa - mu_a**2, e_bb - mu_b**2, e_ab - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1).float()


class LPIPS:
    """LPIPS distance; ``pretrained`` says whether the AlexNet backbone had real weights."""

    def __init__(self, alexnet_weights: Path | None = None, seed: int = 0):
        import lpips

        torch.manual_seed(seed)
        have = alexnet_weights is not None and Path(alexnet_weights).exists()
        self.model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        if have:
            state = torch.load(alexnet_weights, map_location="cpu", weights_only=True)
            feats = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
            net = self.model.net
            for name in ("slice1", "slice2", "slice3", "slice4", "slice5"):
                sl = getattr(net, name)
                sl.load_state_dict({k: feats[k] for k in sl.state_dict()})
        else:
            log.warning("AlexNet weights for LPIPS not found (%s): LPIPS uses a SEEDED RANDOM backbone",
                        alexnet_weights)
        self.pretrained = have
        self.model.eval()

    @torch.no_grad()
    def __call__(self, a: torch.Tensor, b: torch.Tensor, batch: int = 64) -> torch.Tensor:
        out = [self.model(a[i:i + batch] * 2 - 1, b[i:i + batch] * 2 - 1).flatten() for i in range(0, len(a), batch)]
        return torch.cat(out) if out else torch.zeros(0)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
