"""Checkpoint files: safetensors written so that the same weights give the same bytes, and read
back into models without any training code (inference: sampling, baselines, `generate`).

    write_safetensors_atomic(path, tensors, metadata)
    state, meta = load_weights(path)        never unpickles: safetensors only
    lfae        = load_lfae(path)           stage 1, rebuilt from its file alone
    unet, meta  = load_unet(path)           stage 2 (EMA weights) and its metadata

Kept out of ``io.py``, whose data-side users (the conda env without torch) must not need
safetensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .io import atomic_path


def write_safetensors_atomic(path: str | os.PathLike, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """torch tensors (and string metadata) as a safetensors file, the same bytes for the same content.

    safetensors writes its header's metadata in hash-map order, which changes from process to
    process; the header is rewritten here with sorted keys (same length, so the tensors' byte
    offsets stay valid).
    """
    import struct

    from safetensors.torch import save

    blob = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata=metadata)
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None)
    ordered = ({"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}) | dict(sorted(header.items()))
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) <= n:  # else keep safetensors' own header (never seen: the same content, reordered)
        blob = blob[:8] + text + b" " * (n - len(text)) + blob[8 + n:]
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(blob)


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata of a safetensors file, JSON values decoded, without loading its tensors."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}


def load_weights(path: str | os.PathLike) -> tuple[dict, dict]:
    """(state_dict, metadata with JSON values decoded) from a safetensors file."""
    from safetensors.torch import load_file

    return load_file(str(path)), read_metadata(path)


def load_lfae(path: str | os.PathLike):
    """Rebuild a trained stage-1 model (``models.lfae.LatentFlowAE``) from its safetensors file alone."""
    from .models.lfae import LatentFlowAE, LFAEConfig

    state, meta = load_weights(path)
    model = LatentFlowAE(LFAEConfig.from_dict(meta["config"]))
    model.load_state_dict(state)
    return model.eval()


def load_unet(path: str | os.PathLike):
    """Rebuild a trained denoiser (``models.unet3d.UNet3D``, EMA weights) and its metadata from its file alone."""
    from .models.unet3d import UNet3D, UNet3DConfig

    state, meta = load_weights(path)
    model = UNet3D(UNet3DConfig.from_dict(meta["config"]))
    model.load_state_dict(state)
    return model.eval(), meta
