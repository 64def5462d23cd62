"""File I/O shared by every stage: atomic writes, safe unpickling, audio and video files.

Every writer here writes to a temporary name in the destination folder and renames it into
place, so a crash or a full disk never leaves a half-written file at an output path.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np


class DataError(RuntimeError):
    """Bad input data: the message names the file and what to do about it."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The temporary name keeps the final suffix (writers such as PyAV pick the container
    format from it), and it is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def replace_marked_block(path: str | os.PathLike, begin: str, end: str, text: str) -> None:
    """Replace what lies between the marker lines ``begin`` and ``end`` of a text file, atomically."""
    doc = Path(path).read_text()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: no '{begin}' ... '{end}' block to replace")
    head, rest = doc.split(begin, 1)
    write_text_atomic(path, head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1])


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_table_atomic(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV or Parquet (chosen by suffix), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            raise ValueError(f"unsupported table format: {path}")


# --- safe unpickling -----------------------------------------------------------------------
# AIST++ ships its keypoints as pickles of numpy arrays. We never run arbitrary pickles: this
# unpickler accepts only the globals needed to rebuild plain numpy arrays and scalars.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes; a pure data transform
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")


def load_numpy_pickle(path: str | os.PathLike):
    """Load a pickle that may contain only dicts, lists, numbers, strings and numpy arrays."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _NumpyOnlyUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(
            f"{path}: not a readable numpy-only pickle ({exc}); re-download or regenerate it"
        ) from exc


def dump_numpy_pickle(path: str | os.PathLike, obj) -> None:
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=4)
    write_bytes_atomic(path, buf.getvalue())


# --- audio ---------------------------------------------------------------------------------
def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono float samples in [-1, 1] as 16-bit PCM WAV, atomically."""
    import soundfile as sf

    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {samples.shape}")
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a WAV file as mono float32; returns (samples, sample_rate)."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own LibsndfileError
        raise DataError(f"{path}: cannot read audio ({exc}); re-download or regenerate it") from exc
    return data.mean(axis=1), sr


def decode_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of any media file (wav, mp3, mp4) to mono float32."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DataError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            chunks = []
            for frame in container.decode(stream):
                a = frame.to_ndarray().astype(np.float32)
                if frame.format.is_planar:
                    a = a.mean(axis=0)
                else:  # interleaved (1, samples * channels)
                    a = a.reshape(-1, len(frame.layout.channels)).mean(axis=1)
                if np.issubdtype(frame.to_ndarray().dtype, np.integer):
                    a = a / float(np.iinfo(frame.to_ndarray().dtype).max)
                chunks.append(a)
            sr = stream.codec_context.sample_rate
    except DataError:
        raise
    except Exception as exc:  # PyAV raises many error types for corrupt input
        raise DataError(f"{path}: cannot decode audio ({exc})") from exc
    if not chunks:
        raise DataError(f"{path}: audio stream is empty")
    return np.concatenate(chunks), sr


# --- video ---------------------------------------------------------------------------------
def read_video_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The container tags of a video (e.g. the synthetic generator's frame digest)."""
    import av

    with av.open(str(path)) as container:
        return dict(container.metadata)


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H * 3 / 2, W) uint8 planar YUV 4:2:0, BT.601 limited range.

    Integer arithmetic (the usual 8-bit BT.601 coefficients, rounded); chroma of each 2 x 2
    block is the rounded mean of its four pixels' chroma. Why not let the encoder convert:
    FFmpeg's converter runs with automatic threads, and CI saw the same frames give
    different videos under load; this conversion depends on nothing but the pixels.
    """
    rgb = frame.astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    h, w = r.shape
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    u = -38 * r - 74 * g + 112 * b  # scaled by 256, summed over each 2 x 2 block below
    v = 112 * r - 94 * g - 18 * b
    block = lambda c: c.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))  # noqa: E731
    u = ((block(u) + 512) >> 10) + 128
    v = ((block(v) + 512) >> 10) + 128
    planes = [np.clip(y, 16, 235), np.clip(u, 16, 240).reshape(h // 4, w), np.clip(v, 16, 240).reshape(h // 4, w)]
    return np.concatenate(planes).astype(np.uint8)


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: int,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write uint8 RGB frames (T, H, W, 3) as H.264 mp4 with optional mono AAC audio.

    ``metadata`` goes into the container's tags (read back with ``read_video_metadata``).

    H and W must be even (yuv420p); for the chroma planes to be whole rows, H must be a
    multiple of 4. Written to a temporary file and renamed into place.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if h % 4 or w % 2:
        raise ValueError(f"H.264 (yuv420p) here needs a width divisible by 2 and a height by 4, got {w}x{h}")
    with atomic_path(path) as tmp:
        # use_metadata_tags: mp4 keeps only a fixed set of tags without it
        with av.open(str(tmp), mode="w", format="mp4",
                     container_options={"movflags": "use_metadata_tags"}) as container:
            container.metadata.update(metadata or {})
            vstream = container.add_stream("libx264", rate=fps)
            vstream.width, vstream.height = w, h
            vstream.pix_fmt = "yuv420p"
            # The same frames must give the same bytes. One encoder thread (automatic threads
            # gave other bytes under load), and no macroblock-tree rate control: with it, x264's
            # assembly gave other bytes for the same frames now and then (6-10 distinct files in
            # 40 encodes of a 192x108 clip on a loaded AVX-512 machine, none with mbtree=0 or
            # asm=0; widths of 16 macroblocks were stable), and it costs nothing here.
            vstream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": "mbtree=0"}
            vstream.codec_context.time_base = Fraction(1, fps)
            astream = None
            if audio is not None:
                astream = container.add_stream("aac", rate=sample_rate)
                astream.layout = "mono"
                astream.bit_rate = 128_000
            for i in range(t):
                vframe = av.VideoFrame.from_ndarray(rgb_to_yuv420p(frames[i]), format="yuv420p")
                vframe.pts = i
                for packet in vstream.encode(vframe):
                    container.mux(packet)
            for packet in vstream.encode():
                container.mux(packet)
            if astream is not None:
                samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
                chunk = 1024
                for start in range(0, len(samples), chunk):
                    piece = samples[start : start + chunk]
                    aframe = av.AudioFrame.from_ndarray(piece[None, :], format="flt", layout="mono")
                    aframe.sample_rate = sample_rate
                    aframe.pts = start
                    for packet in astream.encode(aframe):
                        container.mux(packet)
                for packet in astream.encode():
                    container.mux(packet)
