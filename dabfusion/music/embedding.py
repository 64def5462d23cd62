"""The music embedding e and its Parquet cache: the one place both are defined.

    e = concat(e_c, e_w, e_b)            (paper section 3.2)
    e_c  STYLE_DIM = 512     CLAP audio embedding through the style adapter
    e_w  MOVEMENT_DIM = 128  Wav2CLIP audio embedding through the movement adapter
    e_b  N * 6               rhythm.clip_rhythm for the clip's N frames, flattened frame-major

    dim(e) = 640 + 6 N       (736 for N = 16, 880 for N = 40, 1120 for N = 80)

Vectors live in Parquet as fixed-size float32 lists with an explicit schema; every table
row says whether its backbone was pretrained (``*_pretrained``) so nothing downstream can
lose that fact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .rhythm import RHYTHM_COLUMNS, RHYTHM_DIM

STYLE_DIM = 512
MOVEMENT_DIM = 128


def embedding_dim(n_frames: int, use_beat: bool = True) -> int:
    return STYLE_DIM + MOVEMENT_DIM + (RHYTHM_DIM * n_frames if use_beat else 0)


def music_embedding(e_c: np.ndarray, e_w: np.ndarray, e_b: np.ndarray, use_beat: bool = True) -> np.ndarray:
    """(B, 512), (B, 128), (B, N, 6) -> e (B, 640 + 6N); without beat: (B, 640)."""
    e_c, e_w, e_b = np.atleast_2d(e_c), np.atleast_2d(e_w), np.asarray(e_b)
    if e_b.ndim == 2:
        e_b = e_b[None]
    assert e_c.shape[1] == STYLE_DIM and e_w.shape[1] == MOVEMENT_DIM and e_b.shape[2] == RHYTHM_DIM
    parts = [e_c, e_w] + ([e_b.reshape(len(e_b), -1)] if use_beat else [])
    return np.concatenate(parts, axis=1).astype(np.float32)


def window_id(music_id: str, start_frame: int, n_frames: int, fps: float) -> str:
    """A clip's music window: the same for every camera and dancer on that music and start."""
    return f"{music_id}_f{int(start_frame):05d}_n{int(n_frames)}_fps{fps:g}"


# --- Parquet with vector columns ------------------------------------------------------------
def vector_field(name: str, dim: int) -> pa.Field:
    return pa.field(name, pa.list_(pa.float32(), dim), nullable=False)


def write_vectors(path: str | Path, columns: dict, schema: pa.Schema) -> None:
    """Write columns (scalars as lists, vectors as (rows, dim) arrays) under ``schema``, atomically."""
    from ..io import atomic_path

    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_fixed_size_list(field.type):
            v = np.ascontiguousarray(values, dtype=np.float32)
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), field.type.list_size))
        else:
            arrays.append(pa.array(values, type=field.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_vectors(path: str | Path) -> tuple[dict, pa.Schema]:
    """Read a vector table back: vectors as (rows, dim) float32 arrays, scalars as numpy arrays."""
    table = pq.read_table(path)
    out = {}
    for field in table.schema:
        col = table.column(field.name).combine_chunks()
        if pa.types.is_fixed_size_list(field.type):
            out[field.name] = col.flatten().to_numpy().reshape(len(col), field.type.list_size)
        else:
            out[field.name] = col.to_numpy(zero_copy_only=False)
    return out, table.schema


def windows_schema(n_frames: int) -> pa.Schema:
    return pa.schema([
        pa.field("window_id", pa.string(), nullable=False),
        pa.field("music_id", pa.string(), nullable=False),
        pa.field("start", pa.float64(), nullable=False),
        pa.field("end", pa.float64(), nullable=False),
        pa.field("clap_pretrained", pa.bool_(), nullable=False),
        pa.field("wav2clip_pretrained", pa.bool_(), nullable=False),
        vector_field("clap", 512),
        vector_field("wav2clip", 512),
        vector_field("rhythm", RHYTHM_DIM * n_frames),
    ], metadata={b"rhythm_columns": ",".join(RHYTHM_COLUMNS).encode(),
                 b"n_frames": str(n_frames).encode()})


def embedding_schema(n_frames: int) -> pa.Schema:
    return pa.schema([
        pa.field("window_id", pa.string(), nullable=False),
        pa.field("clap_pretrained", pa.bool_(), nullable=False),
        pa.field("wav2clip_pretrained", pa.bool_(), nullable=False),
        vector_field("e_c", STYLE_DIM),
        vector_field("e_w", MOVEMENT_DIM),
        vector_field("e_b", RHYTHM_DIM * n_frames),
    ], metadata={b"e": b"concat(e_c, e_w, e_b); see dabfusion.music.embedding", b"n_frames": str(n_frames).encode()})
