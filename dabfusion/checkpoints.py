"""Checkpoint files: safetensors written so that the same weights give the same bytes.

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
