"""Stage-1 losses: the VGG-19 perceptual pyramid (eq. 2), pixel L1, keypoint equivariance, and
(beyond the paper) a classical optical-flow teacher for the latent flow."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .warp import displacement_from_grid, identity_grid

log = logging.getLogger(__name__)
VGG_SLICES = (4, 9, 18, 27, 36)  # ends of relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 in vgg19.features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGPyramidLoss(nn.Module):
    """sum over scales and VGG-19 slices of mean |V_i(out) - V_i(target)| (Johnson et al., eq. 2).

    Weights come from a local torchvision ``vgg19`` state dict; without it (``require``
    False) a seeded random init is used, with a logged warning and ``pretrained = False``.
    """

    def __init__(self, weights: Path | None, layers: int = 5, scales=(1.0, 0.5, 0.25, 0.125),
                 require: bool = False, seed: int = 0):
        super().__init__()
        from torchvision.models import vgg19

        torch.manual_seed(seed)
        features = vgg19(weights=None).features[: VGG_SLICES[layers - 1]]
        self.pretrained = False
        if weights is not None and Path(weights).exists():
            state = torch.load(weights, map_location="cpu", weights_only=True)
            features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                      if k.startswith("features.") and int(k.split(".")[1]) < len(features)})
            self.pretrained = True
        elif require:
            raise FileNotFoundError(f"VGG-19 weights missing: {weights} (torchvision's vgg19 IMAGENET1K_V1 "
                                    "state dict); fetch it where there is internet, or set require_pretrained: false")
        else:
            log.warning("VGG-19 weights not found at %s: the perceptual loss uses a SEEDED RANDOM INIT", weights)
        self.slices = nn.ModuleList()
        start = 0
        for end in VGG_SLICES[:layers]:
            self.slices.append(features[start:end])
            start = end
        for p in self.parameters():
            p.requires_grad_(False)
        self.scales = tuple(scales)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()

    def train(self, mode: bool = True):  # always frozen
        return super().train(False)

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = out.new_zeros(())
        for s in self.scales:
            a, b = out, target
            if s != 1:
                a = F.interpolate(a, scale_factor=s, mode="bilinear", align_corners=False, recompute_scale_factor=False)
                b = F.interpolate(b, scale_factor=s, mode="bilinear", align_corners=False, recompute_scale_factor=False)
            a, b = (a - self.mean) / self.std, (b - self.mean) / self.std
            for sl in self.slices:
                a, b = sl(a), sl(b)
                loss = loss + (a - b.detach()).abs().mean()
        return loss


def random_affine(b: int, strength: float, generator: torch.Generator, device=None) -> torch.Tensor:
    """(B, 2, 3) affine maps near identity: output coords -> input coords, in [-1, 1] units."""
    noise = torch.randn(b, 2, 3, generator=generator) * strength
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return (eye + noise).to(device)


def apply_affine_to_image(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    b, _, h, w = x.shape
    grid = identity_grid(b, h, w, x.device, x.dtype)
    src = torch.einsum("bij,bhwj->bhwi", theta[:, :, :2], grid) + theta[:, None, None, :, 2]
    return F.grid_sample(x, src, padding_mode="reflection", align_corners=False)


def equivariance_loss(detect, x: torch.Tensor, kp: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Keypoints of a warped frame, mapped back through the warp, should equal the originals (FOMM)."""
    kp_t, _ = detect(apply_affine_to_image(x, theta))
    back = torch.einsum("bij,bkj->bki", theta[:, :, :2], kp_t) + theta[:, None, :, 2]
    return (back - kp).abs().mean()


# Farneback settings of the teacher: a smaller window than the motion metric's
# (metrics/alignment.FARNEBACK) so the teacher is not the metric's own estimate of the motion
TEACHER_FARNEBACK = (0.5, 3, 9, 3, 5, 1.1, 0)


def teacher_flow(ref: np.ndarray, dri: np.ndarray, cells: int) -> np.ndarray:
    """uint8 RGB (H, W, 3) frames -> (cells, cells, 2) backward flow dri -> ref (pixels of the
    frame), Farneback averaged over cells: where each driving pixel's content is in the reference.

    Stage 1 is trained only to reproduce frames, and a flow that moves a thin limb too little
    still reproduces most of its pixels: its flows carried about three quarters of the
    dancers' motion (benchmarks/stage1_motion_budget.py). The teacher says how far things moved.
    Measured: as an L1 target it made the flows shorter still (docs/dancing-on-the-beat.md,
    finding 10), so ``lfae.w_flow`` is off by default.
    """
    import cv2

    g_ref, g_dri = (cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (ref, dri))
    flow = cv2.calcOpticalFlowFarneback(g_dri, g_ref, None, *TEACHER_FARNEBACK)
    return cv2.resize(flow, (cells, cells), interpolation=cv2.INTER_AREA)


def flow_loss(grid: torch.Tensor, teacher: torch.Tensor, image_size: int) -> torch.Tensor:
    """mean |predicted - teacher| displacement in pixels of the frame.

    grid (B, s, s, 2) sampling grid at the latent resolution; teacher (B, s, s, 2) pixels."""
    s = grid.shape[1]
    return (displacement_from_grid(grid) * (image_size / s) - teacher).abs().mean()
