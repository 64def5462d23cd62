"""A motion descriptor of a clip computed from its frames alone (no pretrained network).

It is the target the movement adapter learns to predict from music. From the clip's frames
(T, S, S, 3) uint8, with per-pixel change D_k = mean over colour of |frame_{k+1} - frame_k|:

    temporal  16 values: total change per frame pair, resampled to 16 steps, z-scored
              (when in the clip the body moves and when it is still: the rhythm of motion)
    spatial   16 values: change summed over the clip in a 4 x 4 grid, as fractions of the
              total (where in the picture the body moves: arms high, feet, turning)
    energy    1 value: log(1 + mean change) (how much it moves)

33 values in all (MOTION_DIM).
"""

from __future__ import annotations

import numpy as np

MOTION_DIM = 33
TEMPORAL_BINS = 16
GRID = 4


def motion_descriptor(frames: np.ndarray) -> np.ndarray:
    f = np.asarray(frames, dtype=np.float32)
    change = np.abs(np.diff(f, axis=0)).mean(axis=-1)  # (T-1, S, S)
    per_step = change.mean(axis=(1, 2))
    x = np.linspace(0, len(per_step) - 1, TEMPORAL_BINS)
    temporal = np.interp(x, np.arange(len(per_step)), per_step)
    temporal = (temporal - temporal.mean()) / (temporal.std() + 1e-6)
    s = change.shape[1] // GRID * GRID
    cells = change.sum(axis=0)[:s, :s].reshape(GRID, s // GRID, GRID, s // GRID).sum(axis=(1, 3)).ravel()
    spatial = cells / (cells.sum() + 1e-6)
    energy = np.log1p(per_step.mean())
    return np.concatenate([temporal, spatial, [energy]]).astype(np.float32)
