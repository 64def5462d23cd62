"""The paper's fine-tuning: two-layer MLP adapters (hidden 512) on frozen CLAP and Wav2CLIP.

The paper does not say what the adapters are trained on. Here (configurable in
``music.adapters``), both are trained on training-split music only and evaluated on the
held-out test music:

- style adapter (CLAP -> e_c): predicts the dance genre of the music (cross-entropy through
  a linear head). Measure: held-out genre accuracy.
- movement adapter (Wav2CLIP -> e_w): contrastive (InfoNCE) against the clip's motion
  descriptor (motion.py), whose side is a linear map. Measure: held-out music-to-motion
  retrieval (top-1 / top-5 within groups of 32 clips, chance 1/32 and 5/32).

Baselines, trained identically on the frozen embeddings without the hidden layer: a linear
genre probe, and a linear contrastive map. The adapters must beat them to be worth having.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

HIDDEN = 512


class Adapter(nn.Module):
    """x (B, d_in) -> (B, d_out): Linear, ReLU, Linear (the paper's two MLP layers, hidden 512)."""

    def __init__(self, d_in: int, d_out: int, hidden: int = HIDDEN, linear: bool = False):
        super().__init__()
        self.net = nn.Linear(d_in, d_out) if linear else nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class TrainSettings:
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 1e-4
    temperature: float = 0.1
    seed: int = 0


def _standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((x - mean) / std).astype(np.float32))


class StyleModel(nn.Module):
    """Adapter (or a linear map) followed by a linear genre head; ``encode`` gives e_c."""

    def __init__(self, d_in: int, n_classes: int, d_out: int, linear: bool = False):
        super().__init__()
        self.adapter = Adapter(d_in, d_out, linear=linear)
        self.head = nn.Linear(d_out, n_classes)
        self.register_buffer("mean", torch.zeros(d_in))
        self.register_buffer("std", torch.ones(d_in))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.encode(x)))


def train_style(x: np.ndarray, y: np.ndarray, n_classes: int, s: TrainSettings, linear: bool = False,
                d_out: int = HIDDEN) -> StyleModel:
    torch.manual_seed(s.seed)
    model = StyleModel(x.shape[1], n_classes, d_out, linear=linear)
    model.mean.copy_(torch.from_numpy(x.mean(0)))
    model.std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
    return _fit(model, len(xt), lambda idx: nn.functional.cross_entropy(model(xt[idx]), yt[idx]), s)


def _fit(model: nn.Module, n: int, batch_loss, s: TrainSettings) -> nn.Module:
    """AdamW over ``s.epochs`` seeded shuffles of n samples; ``batch_loss(idx)`` may skip with None."""
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    g = torch.Generator().manual_seed(s.seed)
    model.train()
    for _ in range(s.epochs):
        for idx in torch.randperm(n, generator=g).split(s.batch_size):
            loss = batch_loss(idx)
            if loss is None:
                continue
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def genre_accuracy(model: StyleModel, x: np.ndarray, y: np.ndarray) -> float:
    pred = model(torch.from_numpy(x.astype(np.float32))).argmax(1).numpy()
    return float((pred == y).mean())


class MovementModel(nn.Module):
    """Music side: adapter (or linear) -> e_w; motion side: linear. Both L2-normalised."""

    def __init__(self, d_music: int, d_motion: int, d_out: int, linear: bool = False):
        super().__init__()
        self.music = Adapter(d_music, d_out, linear=linear)
        self.motion = nn.Linear(d_motion, d_out)
        for name, d in (("music_mean", d_music), ("music_std", d_music),
                        ("motion_mean", d_motion), ("motion_std", d_motion)):
            self.register_buffer(name, torch.zeros(d) if name.endswith("mean") else torch.ones(d))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.music((x - self.music_mean) / self.music_std)

    def embed_pair(self, a: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        za = nn.functional.normalize(self.encode(a), dim=-1)
        zm = nn.functional.normalize(self.motion((m - self.motion_mean) / self.motion_std), dim=-1)
        return za, zm


def train_movement(audio: np.ndarray, motion: np.ndarray, s: TrainSettings, d_out: int = 128,
                   linear: bool = False) -> MovementModel:
    torch.manual_seed(s.seed)
    model = MovementModel(audio.shape[1], motion.shape[1], d_out, linear=linear)
    model.music_mean.copy_(torch.from_numpy(audio.mean(0)))
    model.music_std.copy_(torch.from_numpy(audio.std(0) + 1e-6))
    model.motion_mean.copy_(torch.from_numpy(motion.mean(0)))
    model.motion_std.copy_(torch.from_numpy(motion.std(0) + 1e-6))
    a, m = torch.from_numpy(audio.astype(np.float32)), torch.from_numpy(motion.astype(np.float32))

    def info_nce(idx):
        if len(idx) < 2:
            return None
        za, zm = model.embed_pair(a[idx], m[idx])
        logits = za @ zm.T / s.temperature
        target = torch.arange(len(idx))
        return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2

    return _fit(model, len(a), info_nce, s)


@torch.no_grad()
def retrieval_accuracy(model: MovementModel, audio: np.ndarray, motion: np.ndarray, group: int = 32,
                       seed: int = 0, rounds: int = 20) -> tuple[float, float]:
    """Music -> motion retrieval within random groups of ``group`` clips: (top-1, top-5)."""
    rng = np.random.default_rng(seed)
    za, zm = model.embed_pair(torch.from_numpy(audio.astype(np.float32)), torch.from_numpy(motion.astype(np.float32)))
    top1, top5, n = 0.0, 0.0, 0
    for _ in range(rounds):
        idx = rng.permutation(len(audio))[:group]
        sim = (za[idx] @ zm[idx].T).numpy()
        rank = (sim > np.diag(sim)[:, None]).sum(1)  # how many motions beat the true one
        top1 += (rank == 0).sum()
        top5 += (rank < 5).sum()
        n += len(idx)
    return top1 / n, top5 / n

