"""Stage 1: the latent flow auto-encoder (paper section 3.3, Fig. 4).

    z      = encoder(x_ref)                        (B, C_z, H/4, W/4)
    f, m   = flow_predictor(x_ref, x_dri)          grid (B, H/4, W/4, 2), occlusion (B, 1, H/4, W/4)
    z~     = m * warp(z, f)                        eq. (1), models/warp.py
    x_out  = m * warp(x_ref, f) + (1 - m) * decoder(z~, ...)   trained to reproduce x_dri

Encoder and decoder follow Johnson et al. (7x7 conv, two downsamplings, residual blocks,
two upsamplings, 7x7 conv), with the residual blocks after the warp so the decoder can
inpaint what the occlusion map hides. Beyond the paper's decoder(z~) (measured in
benchmarks/bench_fvd_ceiling.py): the reference image itself is warped too, bicubically,
and kept wherever the occlusion map says it is visible, so moving a frame does not blur it;
a penalty on (1 - m) in training keeps the decoder's inpainting to what the reference
cannot show. The flow predictor follows FOMM: K keypoints with local affine Jacobians from
an hourglass, K + 1 sparse motions (one is the identity for the background), and a second
hourglass that mixes them into a dense grid with a softmax mask and predicts the occlusion
map. As the paper says, the flow predictor receives both frames: the dense motion network
also sees the driving frame and adds a small dense correction to the keypoint motions,
which lets the flow learn within a CPU budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvNormAct, Down, Hourglass, ResBlock, Up
from .warp import identity_grid, resize_grid, warp


@dataclass
class LFAEConfig:
    image_size: int = 64
    channels: int = 32  # first encoder width; C_z = 4 x channels
    res_blocks: int = 3
    keypoints: int = 10
    motion_scale: float = 0.5  # the motion networks see the frames at this scale
    hourglass: tuple[int, ...] = (32, 64, 128)
    kp_temperature: float = 0.1
    kp_sigma: float = 0.1  # width of the keypoint heatmaps given to the dense motion net
    jacobians: bool = True
    image_warp: str = "bicubic"  # how the reference image itself is warped (features: bilinear)
    gated_decoder: bool = True  # the decoder's correction only where the occlusion map hides the reference

    @property
    def latent_channels(self) -> int:
        return 4 * self.channels

    @property
    def latent_size(self) -> int:
        return self.image_size // 4

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hourglass"] = list(self.hourglass)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LFAEConfig":
        d = dict(d)
        d["hourglass"] = tuple(d.get("hourglass", cls.hourglass))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class ImageEncoder(nn.Module):
    """(B, 3, H, W) in [0, 1] -> [the image, (B, c, H, W), (B, 2c, H/2, W/2), z (B, 4c, H/4, W/4)]."""

    def __init__(self, c: int):
        super().__init__()
        self.stem = ConvNormAct(3, c, k=7)
        self.down1, self.down2 = Down(c, 2 * c), Down(2 * c, 4 * c)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        s0 = self.stem(x)
        s1 = self.down1(s0)
        return [x, s0, s1, self.down2(s1)]


class ImageDecoder(nn.Module):
    """Warped features (finest first) -> (B, 3, H, W) in [0, 1].

    The paper decodes z~ = m * warp(z, f) alone. Like LFDM's generator, the finer levels are
    warped by the same flow and occlusion and joined on the way up; the finest level is the
    reference image itself: sharp where the reference is visible, inpainted where it is not.
    """

    def __init__(self, c: int, res_blocks: int, gated: bool = True):
        super().__init__()
        self.gated = gated
        self.res = nn.Sequential(*[ResBlock(4 * c) for _ in range(res_blocks)])
        self.up1, self.up2 = Up(4 * c, 2 * c), Up(2 * c, c)
        self.out = nn.Conv2d(c, 3, 7, 1, 3)
        nn.init.zeros_(self.out.weight)  # start as "the warped reference" (ungated) or mid-grey fill (gated)
        nn.init.zeros_(self.out.bias)

    def forward(self, feats: list[torch.Tensor], occlusion: torch.Tensor | None = None) -> torch.Tensor:
        """``feats[0]`` is the warped reference m * warp(x_ref); ``occlusion`` m (B, 1, h, w), any h, w.

        Gated:   out = m * warp(x_ref) + (1 - m) * decoded     (the reference kept as it is where visible)
        Ungated: out = m * warp(x_ref) + 0.5 tanh(correction)  (a correction everywhere)
        """
        image, s0, s1, z = feats
        h = self.out(self.up2(self.up1(self.res(z)) + s1) + s0)
        if not (self.gated and occlusion is not None):
            return (image + 0.5 * torch.tanh(h)).clamp(0.0, 1.0)
        occlusion = F.interpolate(occlusion, size=image.shape[2:], mode="bilinear", align_corners=False)
        return (image + (1 - occlusion) * torch.sigmoid(h)).clamp(0.0, 1.0)


class KeypointDetector(nn.Module):
    """(B, 3, h, w) -> keypoints (B, K, 2) in [-1, 1] and Jacobians (B, K, 2, 2)."""

    def __init__(self, cfg: LFAEConfig):
        super().__init__()
        self.hg = Hourglass(3, cfg.hourglass)
        self.heat = nn.Conv2d(self.hg.out_channels, cfg.keypoints, 7, 1, 3)
        self.jac = nn.Conv2d(self.hg.out_channels, 4 * cfg.keypoints, 7, 1, 3) if cfg.jacobians else None
        if self.jac is not None:  # start at identity Jacobians
            nn.init.zeros_(self.jac.weight)
            self.jac.bias.data.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(cfg.keypoints))
        self.k, self.temperature = cfg.keypoints, cfg.kp_temperature

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.hg(x)
        b, _, h, w = feat.shape
        heat = F.softmax(self.heat(feat).flatten(2) / self.temperature, dim=-1).view(b, self.k, h, w)
        grid = identity_grid(1, h, w, x.device, heat.dtype)[0]  # (h, w, 2)
        kp = torch.einsum("bkhw,hwc->bkc", heat, grid)
        if self.jac is None:
            jac = torch.eye(2, device=x.device, dtype=kp.dtype).expand(b, self.k, 2, 2)
        else:
            j = self.jac(feat).view(b, self.k, 4, h, w)
            jac = (j * heat.unsqueeze(2)).sum((-1, -2)).view(b, self.k, 2, 2)
        return kp, jac


def gaussian_maps(kp: torch.Tensor, h: int, w: int, sigma: float) -> torch.Tensor:
    """(B, K, 2) keypoints -> (B, K, h, w) Gaussian bumps."""
    grid = identity_grid(1, h, w, kp.device, kp.dtype)  # (1, h, w, 2)
    d = grid.unsqueeze(1) - kp[:, :, None, None, :]
    return torch.exp(-(d**2).sum(-1) / (2 * sigma**2))


class DenseMotion(nn.Module):
    """Keypoints of both frames + the reference frame -> dense backward grid and occlusion."""

    def __init__(self, cfg: LFAEConfig):
        super().__init__()
        k = cfg.keypoints
        # per motion: the reference deformed by it and its heatmap; plus the driving frame, as
        # the paper's flow predictor receives both frames
        cin = (k + 1) * (3 + 1) + 3
        self.hg = Hourglass(cin, cfg.hourglass)
        self.mask = nn.Conv2d(self.hg.out_channels, k + 1, 7, 1, 3)
        # a small dense correction on top of the keypoint motions (zero at the start)
        self.residual = nn.Conv2d(self.hg.out_channels, 2, 7, 1, 3)
        nn.init.zeros_(self.residual.weight)
        nn.init.zeros_(self.residual.bias)
        self.occlusion = nn.Conv2d(self.hg.out_channels, 1, 7, 1, 3)
        # start from "everything stays where it is and is visible": the identity motion wins
        # the softmax and the occlusion map is ~0.99, so the decoder learns to use the warped
        # reference from the first step instead of learning to ignore it
        nn.init.zeros_(self.mask.weight)
        self.mask.bias.data.zero_()
        self.mask.bias.data[0] = 5.0  # ~94 % of the weight with 10 keypoints
        nn.init.zeros_(self.occlusion.weight)
        nn.init.constant_(self.occlusion.bias, 5.0)
        self.sigma = cfg.kp_sigma

    def sparse_motions(self, h, w, kp_ref, jac_ref, kp_dri, jac_dri) -> torch.Tensor:
        """(B, K+1, h, w, 2): identity, then z -> kp_ref + J_ref J_dri^-1 (z - kp_dri) per keypoint."""
        b, k, _ = kp_ref.shape
        ident = identity_grid(b, h, w, kp_ref.device, kp_ref.dtype)
        jac = jac_ref @ torch.linalg.inv(jac_dri + 1e-4 * torch.eye(2, device=jac_dri.device, dtype=jac_dri.dtype))
        rel = ident.unsqueeze(1) - kp_dri[:, :, None, None, :]  # (B, K, h, w, 2)
        moved = torch.einsum("bkij,bkhwj->bkhwi", jac, rel) + kp_ref[:, :, None, None, :]
        return torch.cat([ident.unsqueeze(1), moved], dim=1)

    def forward(self, ref_small, dri_small, kp_ref, jac_ref, kp_dri, jac_dri):
        b, _, h, w = ref_small.shape
        motions = self.sparse_motions(h, w, kp_ref, jac_ref, kp_dri, jac_dri)  # (B, K+1, h, w, 2)
        heat = gaussian_maps(kp_dri, h, w, self.sigma) - gaussian_maps(kp_ref, h, w, self.sigma)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)  # (B, K+1, h, w)
        k1 = motions.shape[1]
        deformed = F.grid_sample(ref_small.repeat_interleave(k1, 0), motions.flatten(0, 1), align_corners=False)
        x = torch.cat([deformed.view(b, k1, 3, h, w), heat.unsqueeze(2)], dim=2).flatten(1, 2)
        feat = self.hg(torch.cat([x, dri_small], dim=1))
        mask = F.softmax(self.mask(feat), dim=1)  # (B, K+1, h, w)
        correction = 0.25 * torch.tanh(self.residual(feat)).permute(0, 2, 3, 1)  # at most 1/8 of the frame
        grid = (mask.unsqueeze(-1) * motions).sum(1) + correction
        return grid, torch.sigmoid(self.occlusion(feat))


class LatentFlowAE(nn.Module):
    def __init__(self, cfg: LFAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = ImageEncoder(cfg.channels)
        self.decoder = ImageDecoder(cfg.channels, cfg.res_blocks, cfg.gated_decoder)
        self.keypoints = KeypointDetector(cfg)
        self.dense_motion = DenseMotion(cfg)

    def _small(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.motion_scale == 1:
            return x
        return F.interpolate(x, scale_factor=self.cfg.motion_scale, mode="bilinear", align_corners=False,
                             recompute_scale_factor=False)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features, finest first; the last one is the latent z (B, C_z, H/4, W/4)."""
        return self.encoder(x)

    def decode(self, warped: list[torch.Tensor], occlusion: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(warped, occlusion)

    def detect(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keypoints(self._small(x))

    def predict_flow(self, ref: torch.Tensor, dri: torch.Tensor, kp_ref=None, kp_dri=None):
        """Backward latent flow and occlusion from ``dri`` to ``ref``, both at the latent resolution."""
        kp_ref = kp_ref if kp_ref is not None else self.detect(ref)
        kp_dri = kp_dri if kp_dri is not None else self.detect(dri)
        grid, occ = self.dense_motion(self._small(ref), self._small(dri), *kp_ref, *kp_dri)
        s = self.cfg.latent_size
        grid = resize_grid(grid, s, s)
        if occ.shape[-1] != s:
            occ = F.interpolate(occ, size=(s, s), mode="bilinear", align_corners=False)
        return grid, occ, kp_ref, kp_dri

    def animate(self, ref: torch.Tensor, grid: torch.Tensor, occ: torch.Tensor,
                feats: list[torch.Tensor] | None = None, inside: bool = False) -> torch.Tensor:
        """Render the reference frame moved by a (generated) latent flow: decoder(m * warp(z, f)).

        ``feats`` (from ``encode(ref)``) can be passed to reuse them across many flows;
        ``inside`` keeps every read inside the frame (``warp``), for generated flows.
        """
        feats = self.encode(ref) if feats is None else feats
        image = warp(feats[0], grid, occ, mode=self.cfg.image_warp, inside=inside)
        return self.decode([image] + [warp(f, grid, occ, inside=inside) for f in feats[1:]], occ)

    def forward(self, ref: torch.Tensor, dri: torch.Tensor) -> dict:
        grid, occ, kp_ref, kp_dri = self.predict_flow(ref, dri)
        return {"out": self.animate(ref, grid, occ), "grid": grid, "occlusion": occ,
                "kp_ref": kp_ref, "kp_dri": kp_dri}
