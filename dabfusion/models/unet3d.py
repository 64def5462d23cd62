"""Stage 2 denoiser: a conditional 3D U-Net over latent-flow volumes (paper section 3.4, Fig. 3).

    x      (B, 3, N, h, w)   noisy [flow (2), occlusion (1)] for the N frames, h = w = latent size
    z0     (B, C_z, h, w)    the reference frame's latent, concatenated on channels to every frame
    t      (B,)              diffusion step, sinusoidal embedding + MLP
    e      (B, D)            music embedding (CLAP style, Wav2CLIP movement, flattened rhythm)
    beats  (B, N, 6)         per-frame rhythm features (only with ``frame_rhythm``)
    drop   (B,) bool         rows that get the learned null condition (classifier-free guidance)
    ->     (B, 3, N, h, w)   predicted noise epsilon

After Ho et al.'s video diffusion U-Net: per level two residual blocks with factorised
space (1x3x3) and time (3x1x1) convolutions, GroupNorm + SiLU, FiLM from [time, music]
embedding; a spatial linear attention and a temporal attention (relative position bias) per
level; full spatial attention in the middle; down/up sampling in space only; len(dim_mults)
levels down, one fewer up, then one residual block at full resolution.

Beyond the paper (``frame_rhythm``): each frame's beat features are embedded by a small
temporal conv net and give every residual block an extra per-frame FiLM, so frame k's
beat reaches frame k directly instead of through one global vector. ``z0_every_level``: z0,
average-pooled, also enters each coarser level and the middle through a zero-initialised 1x1
conv (measured in docs/dancing-on-the-beat.md, finding 11; off by default).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class UNet3DConfig:
    latent_channels: int = 64  # C_z of stage 1
    cond_dim: int = 736  # dim(e)
    dim: int = 32
    dim_mults: tuple[int, ...] = (1, 2, 4)
    heads: int = 4
    head_dim: int = 16
    frame_rhythm: bool = False
    z0_every_level: bool = False  # beyond LFDM: z0 also enters each coarser level and the middle
    rhythm_dim: int = 6
    max_frames: int = 128  # relative position bias covers distances up to this

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dim_mults"] = list(self.dim_mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "UNet3DConfig":
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "dim_mults" in d:
            d["dim_mults"] = tuple(d["dim_mults"])
        return cls(**d)


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) steps -> (B, dim): [sin(t w_i), cos(t w_i)], w_i = 10000^(-i / (dim/2 - 1))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


def group_norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(c, 8), c)


class ResBlock3D(nn.Module):
    """(B, cin, N, h, w) -> (B, cout, N, h, w), FiLM from a global vector and optional per-frame vectors."""

    def __init__(self, cin: int, cout: int, emb_dim: int, frame_dim: int | None):
        super().__init__()
        self.norm1, self.norm2 = group_norm(cin), group_norm(cout)
        self.space1 = nn.Conv3d(cin, cout, (1, 3, 3), padding=(0, 1, 1))
        self.time1 = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        self.space2 = nn.Conv3d(cout, cout, (1, 3, 3), padding=(0, 1, 1))
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.frame_film = nn.Linear(frame_dim, 2 * cout) if frame_dim else None
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()
        for m in (self.time1, self.space2):  # each block starts as (nearly) the identity
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, frame_emb: torch.Tensor | None) -> torch.Tensor:
        h = self.space1(F.silu(self.norm1(x)))
        h = h + self.time1(h)
        scale, shift = self.film(emb)[:, :, None, None, None].chunk(2, dim=1)
        if self.frame_film is not None and frame_emb is not None:
            fs, fb = self.frame_film(frame_emb).permute(0, 2, 1)[..., None, None].chunk(2, dim=1)  # (B, c, N, 1, 1)
            scale, shift = scale + fs, shift + fb
        h = self.norm2(h) * (1 + scale) + shift
        h = self.space2(F.silu(h))
        return h + self.skip(x)


class SpatialLinearAttention(nn.Module):
    """Per frame, linear attention over the h x w positions (cost linear in h w)."""

    def __init__(self, c: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, inner = heads, heads * head_dim
        self.norm = group_norm(c)
        self.qkv = nn.Conv2d(c, 3 * inner, 1, bias=False)
        self.out = nn.Conv2d(inner, c, 1)
        self.scale = head_dim**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n, h, w = x.shape
        y = self.norm(x).transpose(1, 2).reshape(b * n, c, h, w)
        q, k, v = self.qkv(y).reshape(b * n, 3, self.heads, -1, h * w).unbind(1)  # (bn, heads, d, hw)
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q).reshape(b * n, -1, h, w)
        out = self.out(out).reshape(b, n, c, h, w).transpose(1, 2)
        return x + out


class SpatialAttention(nn.Module):
    """Per frame, full softmax attention over the h x w positions (used in the middle)."""

    def __init__(self, c: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, inner = heads, heads * head_dim
        self.norm = group_norm(c)
        self.qkv = nn.Linear(c, 3 * inner, bias=False)
        self.out = nn.Linear(inner, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n, h, w = x.shape
        y = self.norm(x).permute(0, 2, 3, 4, 1).reshape(b * n, h * w, c)
        q, k, v = self.qkv(y).reshape(b * n, h * w, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b * n, h * w, -1)
        out = self.out(out).reshape(b, n, h, w, c).permute(0, 4, 1, 2, 3)
        return x + out


class TemporalAttention(nn.Module):
    """Per position, attention over the N frames with a learned relative position bias per head."""

    def __init__(self, c: int, heads: int, head_dim: int, max_frames: int):
        super().__init__()
        self.heads, inner = heads, heads * head_dim
        self.norm = group_norm(c)
        self.qkv = nn.Linear(c, 3 * inner, bias=False)
        self.out = nn.Linear(inner, c)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.max_frames = max_frames
        self.rel_bias = nn.Parameter(torch.zeros(heads, 2 * max_frames - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n, h, w = x.shape
        if n > self.max_frames:
            raise ValueError(f"{n} frames, but the model's relative position bias covers {self.max_frames}")
        y = self.norm(x).permute(0, 3, 4, 2, 1).reshape(b * h * w, n, c)
        q, k, v = self.qkv(y).reshape(b * h * w, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        idx = torch.arange(n, device=x.device)
        bias = self.rel_bias[:, (idx[None, :] - idx[:, None]) + self.max_frames - 1].to(q.dtype)  # (heads, n, n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.unsqueeze(0))
        out = self.out(out.transpose(1, 2).reshape(b * h * w, n, -1))
        return x + out.reshape(b, h, w, n, c).permute(0, 4, 3, 1, 2)


class Level(nn.Module):
    """Two residual blocks, spatial linear attention, temporal attention."""

    def __init__(self, cin: int, cout: int, emb_dim: int, frame_dim: int | None, cfg: UNet3DConfig):
        super().__init__()
        self.res1 = ResBlock3D(cin, cout, emb_dim, frame_dim)
        self.res2 = ResBlock3D(cout, cout, emb_dim, frame_dim)
        self.spatial = SpatialLinearAttention(cout, cfg.heads, cfg.head_dim)
        self.temporal = TemporalAttention(cout, cfg.heads, cfg.head_dim, cfg.max_frames)

    def forward(self, x, emb, frame_emb):
        x = self.res2(self.res1(x, emb, frame_emb), emb, frame_emb)
        return self.temporal(self.spatial(x))


class UNet3D(nn.Module):
    def __init__(self, cfg: UNet3DConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        emb_dim = 4 * d
        self.time_mlp = nn.Sequential(nn.Linear(d, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.cond_mlp = nn.Sequential(nn.Linear(cfg.cond_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.null_cond = nn.Parameter(torch.zeros(emb_dim))  # classifier-free guidance's "no music"
        film_dim = 2 * emb_dim  # [time, music], as LFDM joins text and time
        frame_dim = None
        if cfg.frame_rhythm:
            frame_dim = emb_dim
            self.rhythm_net = nn.Sequential(
                nn.Conv1d(cfg.rhythm_dim, emb_dim, 3, padding=1), nn.SiLU(), nn.Conv1d(emb_dim, emb_dim, 3, padding=1))
        # LFDM concatenates z0 to every frame before the first conv; that conv is linear, so it
        # splits exactly into a per-frame part on x and one 2D conv of z0 shared by all frames
        self.stem_x = nn.Conv3d(3, d, (1, 3, 3), padding=(0, 1, 1))
        self.stem_z = nn.Conv2d(cfg.latent_channels, d, 3, padding=1, bias=False)
        widths = [d * m for m in cfg.dim_mults]
        ins = [d, *widths[:-1]]
        self.downs, self.downsample = nn.ModuleList(), nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(ins, widths)):
            self.downs.append(Level(cin, cout, film_dim, frame_dim, cfg))
            last = i == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv3d(cout, cout, (1, 4, 4), (1, 2, 2), (0, 1, 1)))
        c = widths[-1]
        # zero-initialised, so such a model starts as the one without them
        self.z0_levels = nn.ModuleList(
            nn.Conv2d(cfg.latent_channels, w_, 1) for w_ in [*ins[1:], c]) if cfg.z0_every_level else None
        for m in self.z0_levels or []:
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        self.mid1 = ResBlock3D(c, c, film_dim, frame_dim)
        self.mid_spatial = SpatialAttention(c, cfg.heads, cfg.head_dim)
        self.mid_temporal = TemporalAttention(c, cfg.heads, cfg.head_dim, cfg.max_frames)
        self.mid2 = ResBlock3D(c, c, film_dim, frame_dim)
        # up levels for every resolution but the finest (as in Ho et al.'s and LFDM's U-Net): the
        # full-resolution work on the way up is one residual block, where most positions are
        self.ups, self.upsample = nn.ModuleList(), nn.ModuleList()
        for cin, cout in reversed(list(zip(ins, widths))[1:]):
            self.ups.append(Level(2 * cout, cin, film_dim, frame_dim, cfg))
            self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"),
                                               nn.Conv3d(cin, cin, (1, 3, 3), padding=(0, 1, 1))))
        self.final = ResBlock3D(2 * widths[0], d, film_dim, frame_dim)
        self.out = nn.Sequential(group_norm(d), nn.SiLU(), nn.Conv3d(d, 3, (1, 3, 3), padding=(0, 1, 1)))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    @property
    def downsampling(self) -> int:
        """The latent side must be divisible by this."""
        return 2 ** (len(self.cfg.dim_mults) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, z0: torch.Tensor, e: torch.Tensor,
                beats: torch.Tensor | None = None, drop: torch.Tensor | None = None) -> torch.Tensor:
        b, _, n, h, w = x.shape
        if h % self.downsampling or w % self.downsampling:
            raise ValueError(f"latent {h}x{w} is not divisible by {self.downsampling} (len(dim_mults) - 1 halvings)")
        cond = self.cond_mlp(e)
        frame_emb = None
        if self.cfg.frame_rhythm:
            if beats is None:
                raise ValueError("this model was built with frame_rhythm: pass the per-frame beats (B, N, 6)")
            frame_emb = self.rhythm_net(beats.transpose(1, 2)).transpose(1, 2)  # (B, N, emb)
        if drop is not None:
            keep = (~drop).to(cond.dtype)[:, None]
            cond = keep * cond + (1 - keep) * self.null_cond.to(cond.dtype)
            if frame_emb is not None:
                frame_emb = frame_emb * keep[:, :, None]
        emb = torch.cat([self.time_mlp(sinusoidal_embedding(t, self.cfg.dim).to(x.dtype)), cond], dim=-1)
        h_ = self.stem_x(x) + self.stem_z(z0).unsqueeze(2)  # == conv(concat(x, z0 per frame))
        skips = []
        for i, (level, down) in enumerate(zip(self.downs, self.downsample)):
            if i and self.z0_levels is not None:
                h_ = h_ + self.z0_levels[i - 1](F.adaptive_avg_pool2d(z0, h_.shape[-2:])).unsqueeze(2)
            h_ = level(h_, emb, frame_emb)
            skips.append(h_)
            h_ = down(h_)
        if self.z0_levels is not None:
            h_ = h_ + self.z0_levels[-1](F.adaptive_avg_pool2d(z0, h_.shape[-2:])).unsqueeze(2)
        h_ = self.mid1(h_, emb, frame_emb)
        h_ = self.mid_temporal(self.mid_spatial(h_))
        h_ = self.mid2(h_, emb, frame_emb)
        for level, up in zip(self.ups, self.upsample):
            h_ = up(level(torch.cat([h_, skips.pop()], dim=1), emb, frame_emb))
        h_ = self.final(torch.cat([h_, skips.pop()], dim=1), emb, frame_emb)
        return self.out(h_)
