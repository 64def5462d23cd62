"""The paper's CS: CLIP image embeddings of the frames vs the Wav2CLIP embedding of the music.

References followed:
- Metric: Sheffer & Adi ("I hear your true colors", the paper's CS): cosine similarity
  between the L2-normalised Wav2CLIP embedding of the music (16 kHz mono) and the
  L2-normalised CLIP ViT-B/32 image embedding of each frame, averaged over frames. Wav2CLIP
  was trained into CLIP's image embedding space, which is why the two compare.
- Image tower: OpenAI CLIP's ``VisionTransformer`` (``clip/model.py``), ViT-B/32, written
  here with the same parameter names as the ``visual.*`` part of the OpenAI / open_clip
  state dicts (without the ``visual.`` prefix). OpenAI's (and open_clip's ``-quickgelu``)
  weights use QuickGELU; open_clip's LAION ViT-B-32 uses exact GELU (``quick_gelu=False``).
- Preprocessing: CLIP's own: bicubic resize of the short side to 224, centre crop 224,
  CLIP's mean / std. Resizing uses torch's antialiased bicubic on the uint8 values, rounded
  back to integers as PIL does (close to, not bit-identical with, PIL).

Weights are read as plain state dicts only. OpenAI's released ``ViT-B-32.pt`` is a TorchScript
archive and is refused (loading it runs its code): convert it once, elsewhere, to a state dict.
Without weights a seeded random init is used and ``pretrained`` is False, so CS is then only
comparable between runs with the same seed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .fvd import load_strict, read_state_dict

log = logging.getLogger(__name__)

CLIP_RESOLUTION = 224
CLIP_DIM = 512
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class QuickGELU(nn.Module):
    """CLIP's sigmoid approximation of GELU, which OpenAI's weights were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names.

    (N, L, D) -> (N, L, D); in_proj packs q, k, v as rows [0:D], [D:2D], [2D:3D].
    """

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)  # nn.MultiheadAttention's default

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(n, length, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)  # (N, heads, L, D / heads), scale 1/sqrt(d_head)
        return self.out_proj(out.transpose(1, 2).reshape(n, length, d))


class MLP(nn.Module):
    """c_fc -> (Quick)GELU -> c_proj: (N, L, D) -> (N, L, D)."""

    def __init__(self, width: int, quick_gelu: bool = True):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.gelu = QuickGELU() if quick_gelu else nn.GELU()
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualBlock(nn.Module):
    """Pre-norm transformer block: (N, L, D) -> (N, L, D)."""

    def __init__(self, width: int, heads: int, quick_gelu: bool = True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, quick_gelu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of residual blocks under ``resblocks`` (CLIP's key names): (N, L, D) -> (N, L, D)."""

    def __init__(self, width: int, layers: int, heads: int, quick_gelu: bool = True):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualBlock(width, heads, quick_gelu) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class ClipVisual(nn.Module):
    """CLIP's ViT image tower (defaults: ViT-B/32).

    forward: (N, 3, 224, 224) CLIP-normalised images -> (N, output_dim) un-normalised
    embeddings (the class token after ln_post, times ``proj``).
    """

    def __init__(self, resolution: int = CLIP_RESOLUTION, patch: int = 32, width: int = 768, layers: int = 12,
                 heads: int = 12, output_dim: int = CLIP_DIM, quick_gelu: bool = True):
        super().__init__()
        grid = resolution // patch
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, quick_gelu)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))
        # CLIP's own init scales, so a random tower is not degenerate
        attn_std, proj_std, fc_std = scale, scale * (2 * layers) ** -0.5, (2 * width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (N, grid^2, width) patch tokens
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


def clip_preprocess(frames: np.ndarray, size: int = CLIP_RESOLUTION) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, size, size) CLIP-normalised float32."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    # short side to `size`, long side truncated as torchvision's Resize(int) does
    new_h, new_w = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(0, 255).round()  # PIL hands back uint8
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    x = x[..., top:top + size, left:left + size] / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class ClipImageEncoder:
    """uint8 frames -> L2-normalised CLIP ViT-B/32 image embeddings.

    ``weights``: a plain state dict (``torch.load(weights_only=True)`` or ``.safetensors``)
    with either full-CLIP keys (``visual.*`` is taken) or the visual keys unprefixed.
    TorchScript archives (OpenAI's download) are refused. Missing file: seeded random init,
    ``pretrained`` False. ``source`` is the file or ``'random init (seed N)'``.
    """

    EXPECTED = "OpenAI/open_clip ViT-B/32 key names (visual.conv1.weight, ..., visual.proj, or unprefixed)"

    def __init__(self, weights: Path | None, seed: int = 0, device: str = "cpu", batch_size: int = 16,
                 quick_gelu: bool = True):
        self.device, self.batch_size = torch.device(device), int(batch_size)
        torch.manual_seed(seed)
        model = ClipVisual(quick_gelu=quick_gelu)
        path = Path(weights) if weights is not None else None
        if path is not None and path.exists():
            state = read_state_dict(path, "CLIP ViT-B/32", self.EXPECTED)
            if any(k.startswith("visual.") for k in state):  # full CLIP: keep the image tower only
                state = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
            # OpenAI's weights are fp16; load_state_dict copies them into the fp32 parameters
            load_strict(model, state, path, "CLIP ViT-B/32 image tower", self.EXPECTED)
            self.pretrained, self.source = True, str(path)
        else:
            log.warning("CLIP weights not found (%s): CS uses a SEEDED RANDOM CLIP image tower (seed %d); its "
                        "values are NOT comparable to published CS, only to CS computed with the same seed",
                        path, seed)
            self.pretrained, self.source = False, f"random init (seed {seed})"
        self.model = model.to(self.device).eval()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, 512) float32, unit L2 norm."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                emb = self.model(clip_preprocess(frames[i:i + self.batch_size]).to(self.device))
                out.append(F.normalize(emb, dim=-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, CLIP_DIM), np.float32)


def _unit(x: np.ndarray, what: str) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(norm)):
        raise ValueError(f"clip_score: {what} has a zero or non-finite embedding")
    return x / norm


def clip_score(frame_embeddings: np.ndarray, music_embedding: np.ndarray) -> float:
    """Mean over frames of cos(frame_i, music): (N, D) and (D,) -> float in [-1, 1].

    Both sides are L2-normalised here, so un-normalised inputs are fine. Published CS values
    are sometimes scaled by 100 or clipped at 0 (CLIPScore); this is the plain mean cosine.
    """
    f = np.atleast_2d(np.asarray(frame_embeddings, np.float64))
    m = np.asarray(music_embedding, np.float64).reshape(-1)
    if len(f) == 0 or f.shape[1] != m.shape[0]:
        raise ValueError(f"clip_score: frames {f.shape} and music {m.shape} do not match (need N >= 1, same D)")
    return float(np.mean(_unit(f, "a frame") @ _unit(m, "the music")))


def music_embedding(wav2clip_backbone, samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono audio (n,) at ``sample_rate`` -> (512,) float32 Wav2CLIP embedding (not normalised).

    ``wav2clip_backbone`` is ``dabfusion.music.backbones.load_wav2clip(...)``; the audio is
    resampled to its 16 kHz and embedded whole (Wav2CLIP pools over time itself).
    """
    import librosa

    from ..music.backbones import embed

    if getattr(wav2clip_backbone, "name", None) != "wav2clip":
        raise ValueError("music_embedding needs the Wav2CLIP backbone from music.backbones.load_wav2clip")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"music_embedding expects mono audio (n,), got shape {x.shape}; average channels first")
    if sample_rate != wav2clip_backbone.sample_rate:
        x = librosa.resample(x, orig_sr=sample_rate, target_sr=wav2clip_backbone.sample_rate)
    return embed(wav2clip_backbone, [x])[0].astype(np.float32)
