"""Rhythm features e_b: librosa beats of a track, laid onto the frames of a clip.

Per track (``track_rhythm``): librosa's onset-strength envelope, beat times and tempo (our
numpy copy of librosa, ``beat_tracker.py``; default settings, 22,050 Hz, hop 512), and an
estimated downbeat phase.

Per clip (``clip_rhythm``): a (N, RHYTHM_DIM) matrix, one row per video frame of the clip,
so the model can place motion on beats frame by frame. Frame k of a clip whose music window
starts at s is at time t_k = s + k / fps. The columns:

    0 beat        exp(-d^2 / (2 sigma^2)), d = distance (s) from t_k to the nearest beat,
                  sigma = half a frame: 1 on the frame nearest a beat, ~0 elsewhere
    1 downbeat    the same pulse for the estimated first beat of each bar
    2 onset       onset strength at t_k divided by the track's 99th percentile, clipped to [0, 1]
    3 phase_sin   sin(2 pi phi), phi in [0, 1) = position of t_k between the beats around it
    4 phase_cos   cos(2 pi phi)
    5 tempo       tempo (BPM) / 200

e_b in the music embedding is this matrix flattened frame-major (N * 6 values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..beat_tracker import onset_strength
from ..beats import music_beats

RHYTHM_COLUMNS = ("beat", "downbeat", "onset", "phase_sin", "phase_cos", "tempo")
RHYTHM_DIM = len(RHYTHM_COLUMNS)
HOP = 512
BEATS_PER_BAR = 4


@dataclass
class TrackRhythm:
    tempo: float  # BPM
    beats: np.ndarray  # beat times (s)
    downbeats: np.ndarray  # estimated bar starts (s)
    onset_env: np.ndarray  # onset strength per hop
    onset_rate: float  # envelope frames per second
    onset_scale: float  # 99th percentile of the envelope (normaliser)


def track_rhythm(samples: np.ndarray, sample_rate: int) -> TrackRhythm:
    env = onset_strength(np.asarray(samples, np.float32), sample_rate, HOP)
    tempo, beats = music_beats(samples, sample_rate)
    # downbeat estimate: the beat phase (mod 4) whose beats carry the most onset energy
    if len(beats) >= BEATS_PER_BAR:
        strength = np.interp(beats, np.arange(len(env)) * HOP / sample_rate, env)
        phase = int(np.argmax([strength[p::BEATS_PER_BAR].mean() for p in range(BEATS_PER_BAR)]))
        downbeats = beats[phase::BEATS_PER_BAR]
    else:
        downbeats = beats[:1]
    scale = float(np.percentile(env, 99)) if len(env) else 1.0
    return TrackRhythm(tempo, beats, downbeats, env, sample_rate / HOP, max(scale, 1e-6))


def _pulse(t: np.ndarray, events: np.ndarray, sigma: float) -> np.ndarray:
    if len(events) == 0:
        return np.zeros_like(t)
    d = np.min(np.abs(t[:, None] - events[None, :]), axis=1)
    return np.exp(-(d**2) / (2 * sigma**2))


def clip_rhythm(tr: TrackRhythm, start: float, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames, RHYTHM_DIM) float32 rhythm features of the clip starting at ``start`` s."""
    t = start + np.arange(n_frames) / fps
    sigma = 0.5 / fps
    out = np.zeros((n_frames, RHYTHM_DIM), dtype=np.float32)
    out[:, 0] = _pulse(t, tr.beats, sigma)
    out[:, 1] = _pulse(t, tr.downbeats, sigma)
    env_t = np.arange(len(tr.onset_env)) / tr.onset_rate
    out[:, 2] = np.clip(np.interp(t, env_t, tr.onset_env) / tr.onset_scale, 0.0, 1.0)
    if len(tr.beats) >= 2:
        period = float(np.median(np.diff(tr.beats)))
        # extend the grid one beat beyond each end so every instant has beats around it
        grid = np.concatenate([[tr.beats[0] - period], tr.beats, [tr.beats[-1] + period]])
        i = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, len(grid) - 2)
        span = np.maximum(grid[i + 1] - grid[i], 1e-6)
        phi = np.clip((t - grid[i]) / span, 0.0, 1.0)
        before = t < grid[0]  # earlier than the extended grid: count whole periods back
        phi = np.where(before, ((t - grid[0]) / period) % 1.0, phi)
        out[:, 3], out[:, 4] = np.sin(2 * np.pi * phi), np.cos(2 * np.pi * phi)
    out[:, 5] = tr.tempo / 200.0
    return out
