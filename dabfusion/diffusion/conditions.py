"""The music condition of a clip, as the denoiser takes it, for each model variant.

    e      (D,)    music_embedding(e_c, e_w, e_b, use_beat)   D = 640 + 6N, or 640 without beats
    beats  (N, 6)  e_b per frame (read by the frame-aligned rhythm path only)

``without_beats`` is the same condition with its beats nulled and its style kept: what a model
trained with ``diffusion.p_drop_beats`` learns to dance to, and what ``sampling.guide: beats``
guides away from (docs/dancing-on-the-beat.md, finding 19).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..music.embedding import MOVEMENT_DIM, STYLE_DIM, embedding_dim, music_embedding, read_vectors
from ..music.rhythm import RHYTHM_DIM


class MusicConditions:
    """All windows of a music-embedding table, looked up by window id."""

    def __init__(self, embedding_file: Path, use_beat: bool = True):
        table, schema = read_vectors(embedding_file)
        self.file = Path(embedding_file)
        self.n_frames = int(schema.metadata[b"n_frames"])
        self.row = {w: i for i, w in enumerate(table["window_id"])}
        self.use_beat = use_beat
        self.e = music_embedding(table["e_c"], table["e_w"], table["e_b"].reshape(len(table["e_b"]), self.n_frames,
                                                                                   RHYTHM_DIM), use_beat)
        self.beats = table["e_b"].reshape(-1, self.n_frames, RHYTHM_DIM).astype(np.float32)
        self.pretrained = {"clap": bool(np.all(table["clap_pretrained"])),
                           "wav2clip": bool(np.all(table["wav2clip_pretrained"]))}

    @property
    def dim(self) -> int:
        return embedding_dim(self.n_frames, self.use_beat)

    def rows(self, window_ids) -> np.ndarray:
        missing = [w for w in window_ids if w not in self.row]
        if missing:
            raise KeyError(f"{self.file} has no music window {missing[0]!r} (and {len(missing) - 1} more); "
                           "was it computed from another clip index?")
        return np.array([self.row[w] for w in window_ids])

    def get(self, window_ids) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, D) embeddings and (B, N, 6) per-frame beats."""
        r = self.rows(list(window_ids))
        return torch.from_numpy(self.e[r]), torch.from_numpy(self.beats[r])


def without_beats(e: torch.Tensor, beats: torch.Tensor | None,
                  rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """e (B, D), beats (B, N, 6) or None -> the same with e_b zeroed, in ``rows`` (B,) bool or all.

    Zero is the "no beat" input: a model reads it as such only if it was trained with it
    (``diffusion.p_drop_beats``). e_c and e_w, the style and the movement, stay."""
    k = STYLE_DIM + MOVEMENT_DIM
    if e.shape[-1] <= k:
        raise ValueError(f"this condition has no beats to drop (dim {e.shape[-1]}: a model without beat: true)")
    keep = (torch.zeros(e.shape[0], dtype=torch.bool, device=e.device) if rows is None else ~rows).to(e.dtype)
    e = torch.cat([e[:, :k], e[:, k:] * keep[:, None]], dim=1)
    return e, (None if beats is None else beats * keep[:, None, None])
