"""Music beats (librosa's tracker in numpy, beat_tracker.py) and kinematic beats (speed minima).

Kinematic beats follow FACT's Beat Alignment Score code (reference/metrics.md): the speed
envelope is the SUM over joints of the per-frame displacement, and beats are its local
minima with scipy's ``argrelextrema(order=...)``. FACT uses order 10 at 60 fps; here the
order is given in seconds so it means the same at any frame rate.
"""

from __future__ import annotations

import numpy as np


def speed_envelope(keypoints: np.ndarray) -> np.ndarray:
    """(T, J, 2 or 3) keypoints -> (T,) summed joint speed in pixels/frame.

    A third channel is a confidence: joints with zero confidence in either frame of a pair
    are left out. The first frame copies the second so the envelope keeps length T.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    xy = kp[..., :2]
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)  # (T-1, J)
    if kp.shape[-1] > 2:
        ok = (kp[1:, :, 2] > 0) & (kp[:-1, :, 2] > 0)
        step = np.where(ok, step, 0.0)
    env = step.sum(axis=1)
    return np.concatenate([env[:1], env]) if len(env) else np.zeros(len(kp))


def kinematic_beats(keypoints: np.ndarray, fps: float, order_seconds: float = 10 / 60) -> np.ndarray:
    """Times (s) of the local minima of the speed envelope (FACT's definition)."""
    from scipy.signal import argrelextrema

    env = speed_envelope(keypoints)
    order = max(1, int(round(order_seconds * fps)))
    idx = argrelextrema(env, np.less, order=order)[0]
    return idx / float(fps)


def music_beats(samples: np.ndarray, sample_rate: int, start_bpm: float | None = None) -> tuple[float, np.ndarray]:
    """(tempo in BPM, beat times in s): librosa's beat tracker, computed by our numpy copy of it.

    ``start_bpm`` is the tracker's tempo prior (FACT passes the track's nominal tempo); None
    keeps librosa's default of 120, which is how a user's unknown music is analysed. Never
    librosa's own numba gufuncs: they crashed after laion-clap's import (see beat_tracker.py).
    """
    from .beat_tracker import beat_track

    return beat_track(np.asarray(samples, dtype=np.float32), int(sample_rate),
                      start_bpm=120.0 if start_bpm is None else float(start_bpm))


def nearest_distance(times: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each time, the distance (s) to the nearest reference time."""
    times, reference = np.asarray(times, float), np.sort(np.asarray(reference, float))
    if len(reference) == 0:
        return np.full(len(times), np.inf)
    i = (np.clip(np.searchsorted(reference, times), 1, len(reference) - 1) if len(reference) > 1
         else np.zeros(len(times), int))
    left, right = reference[np.maximum(i - 1, 0)], reference[i]
    return np.minimum(np.abs(times - left), np.abs(times - right))
