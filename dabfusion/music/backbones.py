"""The frozen audio backbones: CLAP's audio branch (HTSAT-tiny, 48 kHz) and Wav2CLIP (16 kHz).

Weights are read from local files only (``weights_only=True``); nothing is fetched inside
model construction. When a file is absent:
  - with ``require=True`` (the aistpp preset) a MissingWeights error names the file, its URL
    and the command that fetches it;
  - otherwise the same architecture is built from a seeded random init, a warning is logged,
    and ``pretrained`` is False so every table built on it can say so.

Only CLAP's audio branch and its projection are built: the text branch would download a
tokenizer from the Hugging Face hub at construction, and the music encoder never uses text.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # laion_clap touches the hub at import otherwise
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CLAP_SAMPLE_RATE = 48_000
CLAP_SAMPLES = 480_000  # HTSAT's 10 s input
CLAP_DIM = 512
WAV2CLIP_SAMPLE_RATE = 16_000
WAV2CLIP_DIM = 512


class MissingWeights(FileNotFoundError):
    pass


@dataclass
class Backbone:
    name: str
    model: nn.Module
    pretrained: bool
    sample_rate: int
    dim: int
    source: str  # the weights file, or 'random init (seed N)'


def _checkpoint(path: Path, url: str, require: bool, name: str) -> dict | None:
    if path.exists():
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated file, or one that is not a plain state dict
            raise MissingWeights(f"{path}: cannot be loaded safely ({exc}); delete it and fetch it again "
                                 f"with: snakemake --cores 1 {path}") from exc
        return ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    if require:
        raise MissingWeights(
            f"pretrained {name} weights missing: {path}\n  source: {url}\n"
            f"  fetch them with: snakemake --cores 1 {path}   (on a machine with internet)\n"
            "  or set music.require_pretrained: false to run with a seeded random init (tables will say so)"
        )
    log.warning("%s weights not found at %s: using a SEEDED RANDOM INIT of the same architecture "
                "(results are not those of pretrained %s)", name, path, name)
    return None


class ClapAudio(nn.Module):
    """CLAP audio branch + projection: (B, 480000) 48 kHz waveform -> (B, 512) L2-normalised."""

    def __init__(self):
        super().__init__()
        from laion_clap.clap_module.htsat import create_htsat_model
        from laion_clap.clap_module.model import CLAPAudioCfp

        cfg = CLAPAudioCfp(model_type="HTSAT", model_name="tiny", sample_rate=CLAP_SAMPLE_RATE, audio_length=1024,
                           window_size=1024, hop_size=480, fmin=50, fmax=14000, class_num=527, mel_bins=64,
                           clip_samples=CLAP_SAMPLES)
        with warnings.catch_warnings():  # upstream's Swin blocks call torch.meshgrid without indexing= (means "ij")
            warnings.filterwarnings("ignore", message="torch.meshgrid: in an upcoming release", category=UserWarning)
            self.audio_branch = create_htsat_model(cfg)
        self.audio_projection = nn.Sequential(nn.Linear(768, CLAP_DIM), nn.ReLU(), nn.Linear(CLAP_DIM, CLAP_DIM))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        emb = self.audio_branch({"waveform": waveform}, device=waveform.device)["embedding"]
        return nn.functional.normalize(self.audio_projection(emb), dim=-1)


def load_clap(weights: Path, url: str, require: bool, seed: int) -> Backbone:
    torch.manual_seed(seed)
    model = ClapAudio()
    ckpt = _checkpoint(Path(weights), url, require, "CLAP")
    if ckpt is not None:
        state = {k.removeprefix("module."): v for k, v in ckpt.items()}
        state = {k: v for k, v in state.items() if k.startswith(("audio_branch.", "audio_projection."))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if "num_batches_tracked" not in k]
        if missing:
            raise MissingWeights(f"{weights}: not a CLAP HTSAT-tiny checkpoint (missing {missing[:3]} ...)")
    return Backbone("clap", model.eval(), ckpt is not None, CLAP_SAMPLE_RATE, CLAP_DIM,
                    str(weights) if ckpt is not None else f"random init (seed {seed})")


class Wav2ClipAudio(nn.Module):
    """Wav2CLIP audio encoder (ResNet-18 + its MLP transform): (B, samples) 16 kHz -> (B, 512).

    Upstream's ``ResNet.forward`` standardises the log spectrogram by the mean and std of the
    whole batch, so a window's features would depend on its batchmates (by 15-40 %: the
    training cache and ``generate`` disagreed). This forward runs the same layers but
    standardises each window by its own statistics: a batch gives what each window gives alone.
    """

    def __init__(self):
        super().__init__()
        from wav2clip.model.encoder import MLPLayers, ResNetExtractor

        self.extractor = ResNetExtractor(scenario="frozen")
        self.transform = MLPLayers(units=[512, 512, 512], dropout=0.1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        net = self.extractor.encoder
        x = torch.log(net.spectrogram(waveform.unsqueeze(1)) + 1e-7)  # (B, 1, mels, time)
        per_window = tuple(range(1, x.dim()))
        x = (x - x.mean(per_window, keepdim=True)) / (x.std(per_window, keepdim=True) + 1e-9)
        for layer in (net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4,
                      net.avgpool):
            x = layer(x)
        return self.transform(x.flatten(1))


def load_wav2clip(weights: Path, url: str, require: bool, seed: int) -> Backbone:
    torch.manual_seed(seed)
    model = Wav2ClipAudio()
    ckpt = _checkpoint(Path(weights), url, require, "Wav2CLIP")
    if ckpt is not None:
        enc = {k.split(".", 1)[1]: v for k, v in ckpt.items() if k.startswith("audio_encoder.")}
        tr = {k.split(".", 1)[1]: v for k, v in ckpt.items() if k.startswith("audio_transform.")}
        if not enc or not tr:
            raise MissingWeights(f"{weights}: not a Wav2CLIP checkpoint (no audio_encoder/audio_transform keys)")
        model.extractor.encoder.load_state_dict(enc)
        model.transform.load_state_dict(tr)
    return Backbone("wav2clip", model.eval(), ckpt is not None, WAV2CLIP_SAMPLE_RATE, WAV2CLIP_DIM,
                    str(weights) if ckpt is not None else f"random init (seed {seed})")


def clap_input(window: np.ndarray) -> np.ndarray:
    """CLAP's 'repeatpad': repeat a short 48 kHz window to fill 10 s, then zero-pad; longer: cut."""
    if len(window) >= CLAP_SAMPLES:
        return window[:CLAP_SAMPLES]
    reps = CLAP_SAMPLES // max(1, len(window))
    out = np.tile(window, reps)
    return np.pad(out, (0, CLAP_SAMPLES - len(out)))


@torch.no_grad()
def embed(backbone: Backbone, windows: list[np.ndarray], batch_size: int = 16, progress: bool = False) -> np.ndarray:
    """Embed audio windows already at ``backbone.sample_rate``: (len(windows), dim) float32."""
    from tqdm import tqdm

    out = []
    for i in tqdm(range(0, len(windows), batch_size), desc=backbone.name, disable=not progress, mininterval=10):
        chunk = windows[i:i + batch_size]
        if backbone.name == "clap":
            x = np.stack([clap_input(w) for w in chunk]).astype(np.float32)
            out.append(backbone.model(torch.from_numpy(x)).numpy())
        else:  # Wav2CLIP: windows of one length are batched (each is standardised on its own)
            part = np.empty((len(chunk), backbone.dim), np.float32)
            for n in {len(w) for w in chunk}:
                same = [k for k, w in enumerate(chunk) if len(w) == n]
                x = np.stack([chunk[k] for k in same]).astype(np.float32)
                part[same] = backbone.model(torch.from_numpy(x)).numpy()
            out.append(part)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, backbone.dim), np.float32)
