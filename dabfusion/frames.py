"""Frame extraction: raw videos -> one uint8 array per video at the training size and fps.

The store is one ``.npy`` file per video, shape (T, S, S, 3) uint8, read with memory
mapping. A training clip is then a slice of a memory-mapped array: no decoding, no
decompression, O(1) random access (benchmarks/bench_frames.py measures it). The price is
disk: 12 KB a frame at 64 px, 48 KB at 128 px.

Frames are resampled to exactly ``fps`` by presentation time (the frame shown at each
output instant, i.e. ffmpeg's ``fps`` filter with round=down), because some AIST++ videos
deviate from 60 fps. Resizing happens inside the decoder (decord), which is what makes
extraction cheaper than piping full-resolution frames out of ffmpeg.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import DataError, atomic_path

log = logging.getLogger(__name__)
BATCH = 64  # frames decoded per call: bounds memory for long videos


@dataclass
class ExtractSpec:
    size: int  # output frames are size x size
    fps: float
    aspect: str  # crop: centre square crop; pad: letterbox with black

    @classmethod
    def from_config(cls, cfg: dict) -> "ExtractSpec":
        return cls(size=cfg["size"], fps=float(cfg["fps"]), aspect=cfg["aspect"])


def resample_indices(frame_starts: np.ndarray, out_fps: float, duration: float) -> np.ndarray:
    """Source frame shown at each output instant k / out_fps for k / out_fps < duration.

    ``frame_starts`` are the source frames' presentation times (s), increasing.
    """
    n_out = int(np.floor(duration * out_fps + 1e-6))
    t = np.arange(n_out) / out_fps
    idx = np.searchsorted(frame_starts, t + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(frame_starts) - 1)


def _decode_size(src_w: int, src_h: int, size: int, aspect: str) -> tuple[int, int]:
    """Size to ask the decoder for, before the square crop or pad; even numbers."""
    scale = size / min(src_w, src_h) if aspect == "crop" else size / max(src_w, src_h)
    w = max(2, int(round(src_w * scale / 2)) * 2)
    h = max(2, int(round(src_h * scale / 2)) * 2)
    if aspect == "crop":
        w, h = max(w, size), max(h, size)
    return w, h


def _to_square(frames: np.ndarray, size: int, aspect: str) -> np.ndarray:
    """(B, h, w, 3) -> (B, size, size, 3): centre crop or black letterbox."""
    b, h, w, _ = frames.shape
    if aspect == "crop":
        y0, x0 = (h - size) // 2, (w - size) // 2
        return frames[:, y0:y0 + size, x0:x0 + size]
    if h > size or w > size:  # a decoder rounding a pixel over: trim it evenly
        cy, cx = max(0, (h - size) // 2), max(0, (w - size) // 2)
        frames = frames[:, cy:cy + size, cx:cx + size]
        b, h, w, _ = frames.shape
    out = np.zeros((b, size, size, 3), dtype=np.uint8)
    y0, x0 = (size - h) // 2, (size - w) // 2
    out[:, y0:y0 + h, x0:x0 + w] = frames
    return out


def probe(video: Path) -> dict:
    """Open a video and its audio with decord; DataError naming the file on any problem."""
    import decord

    video = Path(video)
    if not video.exists():
        raise DataError(f"{video}: file is missing (not downloaded?)")
    try:
        vr = decord.VideoReader(str(video), ctx=decord.cpu(0))
        n = len(vr)
        first = vr[0].shape
        stamps = vr.get_frame_timestamp(range(n))
    except Exception as exc:  # decord raises DECORDError / RuntimeError on corrupt input
        raise DataError(f"{video}: cannot be decoded ({str(exc).splitlines()[0][:200]}); "
                        "the file is corrupt or truncated: delete it and download or generate it again") from exc
    try:
        decord.AudioReader(str(video), ctx=decord.cpu(0), mono=True)
    except Exception as exc:
        raise DataError(f"{video}: has no readable audio stream; AIST++ videos carry the music, "
                        "so this file is incomplete: delete it and fetch it again") from exc
    return {"n_frames": n, "height": first[0], "width": first[1], "starts": stamps[:, 0],
            "duration": float(stamps[-1, 1]), "src_fps": float(vr.get_avg_fps())}


def _open_resized(video: Path, w: int, h: int):
    """A decord reader that resizes to about w x h.

    decord 0.6 fails to copy frames out at a few widths (16, 24, 48, 72 px seen); one
    decode of the first frame finds out, and the width grows by 2 px until it works (the
    square crop or pad that follows absorbs the extra columns).
    """
    import decord

    for extra in range(0, 12, 2):
        vr = decord.VideoReader(str(video), ctx=decord.cpu(0), width=w + extra, height=h)
        try:
            vr.get_batch([0]).asnumpy()
            vr.seek(0)
            return vr
        except Exception:  # noqa: BLE001 - decord's DECORDError is not importable by name
            continue
    raise DataError(f"{video}: decord cannot resize it to about {w}x{h}; choose another extract.size")


def extract_video(video: Path, out: Path, spec: ExtractSpec) -> dict:
    """Decode, resample, resize and store one video; returns what was done. Atomic."""

    info = probe(video)
    idx = resample_indices(info["starts"], spec.fps, info["duration"])
    if len(idx) == 0:
        raise DataError(f"{video}: shorter than one frame at {spec.fps} fps")
    w, h = _decode_size(info["width"], info["height"], spec.size, spec.aspect)
    vr = _open_resized(video, w, h)
    with atomic_path(out) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(idx), spec.size, spec.size, 3))
        for s in range(0, len(idx), BATCH):
            try:
                batch = vr.get_batch(idx[s:s + BATCH].tolist()).asnumpy()
            except Exception as exc:  # noqa: BLE001 - decord's errors have no importable type
                raise DataError(f"{video}: decoding failed part-way ({str(exc).splitlines()[0][:200]}); "
                                "the file is corrupt or truncated") from exc
            arr[s:s + len(batch)] = _to_square(batch, spec.size, spec.aspect)
        arr.flush()
        del arr
    return {"n_frames": len(idx), "src_fps": info["src_fps"], "src_frames": info["n_frames"],
            "duration": info["duration"]}


def load_clip(frames_file: Path, start: int, length: int) -> np.ndarray:
    """(length, S, S, 3) uint8 frames [start, start + length) from the store, memory-mapped."""
    arr = np.load(frames_file, mmap_mode="r")
    if start < 0 or start + length > len(arr):
        raise IndexError(f"{frames_file}: clip [{start}, {start + length}) outside {len(arr)} frames")
    return np.array(arr[start:start + length])
