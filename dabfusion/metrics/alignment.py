"""Music-motion alignment: AV-Align, the paper's 2D-MM Align, and kinematic beats from 2D video.

References (shared/reference/metrics.md) and the choices made where they disagree or are silent:

AV-Align (Yariv et al., AAAI 2024; ``av_align.py`` of their TempoTokens code)
- ``flow_magnitudes``: Farneback flow on grayscale frames with the reference's parameters
  (0.5, 3, 15, 3, 5, 1.2, 0), mean of ``cv2.magnitude`` per frame pair, and the reference's
  pairing ``traj[0] = flow(f0, f1)``, ``traj[i] = flow(f[i-1], f[i])``. The reference reads
  BGR frames with cv2 and converts with COLOR_BGR2GRAY; our frames are RGB, so COLOR_RGB2GRAY
  gives the same gray image. Decoders differ a little in YUV -> RGB conversion, so values
  read from the same mp4 by decord / PyAV and by cv2.VideoCapture agree closely, not bit-exactly.
- ``video_peaks``: interior strict local maxima with ``traj[i] >= 0.1`` at ``i / fps``. Public
  copies differ (no threshold, ``> 0.1``, ``>= 0.1``); we follow metrics.md (``>= 0.1``). The
  floor is absolute (pixels / frame, mean over the whole frame): on small frames with a small
  dancer (the 192x108 synthetic videos) some videos have no video peak at all.
- ``audio_peaks``: librosa's ``onset_strength`` + ``onset_detect`` (our numpy copy in
  ``beat_tracker.py``, identical frames) at 22,050 Hz mono, as
  ``librosa.load`` would give (other rates are resampled with librosa's default ``soxr_hq``,
  which is what ``librosa.load`` uses). CHOICE: with ``duration``, peaks at or after the
  video's end are dropped (the reference keeps them, so an audio longer than the video lowers
  the score for no fault of the video). Detection runs on the whole audio given, so the peaks
  kept are exactly the reference's.
- ``av_align_from_peaks``: CHOICE: one-to-one matching as metrics.md states: each audio peak
  (in time order) takes the first unused video peak with ``v - 1/fps < a < v + 1/fps``. The
  TempoTokens code only breaks its inner loop, so one video peak can match several audio
  peaks and the "IoU" can exceed 1 (2 audio peaks, 1 video peak -> 2 / 1); one-to-one keeps
  it a true IoU in [0, 1]. IoU = hits / (A + V - hits). CHOICE: no peaks on either side ->
  0.0 (the reference divides by zero): nothing happening in sound and picture is no evidence
  of alignment, and a metric that gives a frozen, silent clip the best score invites
  degenerate generators.

2D-MM Align (the paper's eq. 7; FACT's Beat Alignment Score)
- ``mm_align``: mean over KINEMATIC beats of exp(-d^2 / (2 sigma^2)), d = distance to the
  nearest music beat: the paper's formula and FACT's direction. ``direction="music"`` gives
  Bailando's reverse (mean over music beats). sigma is in seconds: FACT's 3 frames at 60 fps
  = 0.05 s, so it means the same at any frame rate. CHOICE: no beats on either side -> 0.0
  (without kinematic beats there is no motion on the beat; without music beats nothing to align to).

Kinematic beats from 2D video (no keypoints; one method for real and generated videos alike)
- FACT's definition (local minima of a body-speed envelope found with ``argrelextrema``), with
  the speed measured from the pixels with Farneback flow (AV-Align's parameters) inside the
  dancer. CHOICES, each made by measurement with ``validate_on_synthetic`` (hit rate and
  recall against the generator's true kinematic beats, on a 96x64 / 15 fps and a
  192x108 / 30 fps dataset, clean and with added pixel noise and flicker):
  * dancer = pixels more than 12 gray levels from the video's per-pixel median frame (a static
    camera's background) in either frame of a pair. Whole-frame flow was within 2 points on
    clean renders (better at 15 fps, worse at 30) but lost 4 points of hit rate and 2-3 of
    recall once noise was added; a 5-px dilation of the mask changed little on clean renders
    and lost 1-2 points with noise at 30 fps, so the mask is not dilated;
  * speed of a pair = MEAN flow over those pixels (pixels / frame, x fps -> pixels / s). The
    sum over the pixels (FACT sums over joints) had 1-3 points lower hit rate, clean and noisy;
  * the pair (i, i+1) is the speed at time i + 1/2; frame i gets the mean of its two pair
    speeds, so the envelope is centred on the frame times (the one-sided difference, as
    ``dabfusion.beats`` does for keypoints, put the beats half a frame late);
  * Gaussian smoothing with sigma 0.04 s, ``argrelextrema(np.less, order)`` with the order in
    seconds, a parabolic sub-frame refinement of each minimum (raised 2D-MM Align by 0.01-0.04
    with the same hits);
  * order 0.25 s (15 frames at 60 fps) instead of FACT's 10 frames: 2D projection makes speed
    dips inside a move (likely a limb turning towards the camera) that 3D joints do not have;
    with 10/60 s and no smoothing the hit rate was 0.953 instead of 0.993 at 30 fps. The order
    bounds the beats found to at most one per 0.25 s (240 BPM), above AIST++'s tempi;
  * minima where the body barely moves (the envelope within +-order stays under 5 % of its
    90th percentile) are dropped: a still dancer has only encoder-noise minima. This guard
    changed nothing on the synthetic data (whose dancers never stand still for long).
  Limits: a true beat in the last (or first) frame cannot be a local minimum and is missed;
  a moving camera or background breaks the median-frame mask.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..beats import nearest_distance

if TYPE_CHECKING:
    import pandas as pd


# AV-Align's Farneback parameters: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)
AUDIO_RATE = 22_050  # librosa.load's default rate, which the reference analyses at
MIN_FLOW = 0.1  # the reference's floor on a video peak's mean flow (pixels / frame)
SIGMA_SECONDS = 3 / 60  # FACT: 3 frames at 60 fps
# kinematic beats from video, chosen by measurement (module docstring, validate_on_synthetic)
DANCER_THRESHOLD = 12.0  # gray levels from the median frame that make a pixel "dancer"
SMOOTH_SECONDS = 0.04  # Gaussian sigma of the speed envelope
ORDER_SECONDS = 0.25  # argrelextrema order: 15 frames at 60 fps (FACT: 10)
STILL_FRACTION = 0.05  # minima with no motion above this share of the typical speed are dropped


# --- optical flow -------------------------------------------------------------------------
def to_gray(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB (T, H, W, 3) -> uint8 gray (T, H, W), OpenCV's BT.601 weights."""
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    # RGB2GRAY on RGB = BGR2GRAY on the BGR frames the reference reads
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]) if len(frames) else \
        np.zeros(frames.shape[:3], np.uint8)


def pair_flow_magnitude(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two uint8 gray frames (H, W) -> (H, W) float32 Farneback flow magnitude in pixels."""
    import cv2

    flow = cv2.calcOpticalFlowFarneback(a, b, None, *FARNEBACK)
    return cv2.magnitude(flow[..., 0], flow[..., 1])


def flow_magnitudes(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB (T, H, W, 3) -> (T,) mean flow magnitude (pixels / frame), AV-Align's ``traj``.

    ``traj[0] = flow(f0, f1)`` and ``traj[i] = flow(f[i-1], f[i])`` as in the reference (the
    first pair is computed once and used twice). Fewer than two frames: zeros (no motion).
    """
    gray = to_gray(frames)
    if len(gray) < 2:
        return np.zeros(len(gray))
    pairs = np.array([pair_flow_magnitude(gray[i - 1], gray[i]).mean(dtype=np.float64)
                      for i in range(1, len(gray))])
    return np.concatenate([pairs[:1], pairs])


# --- AV-Align -------------------------------------------------------------------------------
def video_peaks(traj: np.ndarray, fps: float, min_magnitude: float = MIN_FLOW) -> np.ndarray:
    """(T,) flow trajectory -> times (s) of its interior strict local maxima >= min_magnitude."""
    x = np.asarray(traj, dtype=np.float64)
    if len(x) < 3:
        return np.zeros(0)
    mid = x[1:-1]
    is_peak = (x[:-2] < mid) & (mid > x[2:]) & (mid >= min_magnitude)
    return (np.flatnonzero(is_peak) + 1) / float(fps)


def _mono_at(samples: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    """(N,) or librosa-style (C, N) audio -> float32 mono at ``target`` Hz, as librosa.load does."""
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    if y.ndim == 2:
        y = librosa.to_mono(y)
    if int(sample_rate) != target:
        y = librosa.resample(y, orig_sr=int(sample_rate), target_sr=target, res_type="soxr_hq")
    return y


def audio_peaks(samples: np.ndarray, sample_rate: int, duration: float | None = None) -> np.ndarray:
    """Audio (N,) or (C, N) at ``sample_rate`` -> onset times (s), AV-Align's ``audio_peaks``.

    With ``duration`` (s), onsets at or after it are dropped (see the module docstring).
    """
    from ..beat_tracker import HOP, onset_detect, onset_strength

    y = _mono_at(samples, sample_rate, AUDIO_RATE)
    if len(y) == 0:
        return np.zeros(0)
    onsets = onset_detect(onset_strength(y, AUDIO_RATE), AUDIO_RATE)
    times = onsets * HOP / float(AUDIO_RATE)
    return times if duration is None else times[times < duration]


def match_peaks(video: np.ndarray, audio: np.ndarray, fps: float) -> int:
    """Number of one-to-one matches: each audio peak takes the first unused video peak within 1/fps."""
    v, a = np.sort(np.asarray(video, float)), np.sort(np.asarray(audio, float))
    used = np.zeros(len(v), dtype=bool)
    window = 1.0 / float(fps)
    hits = 0
    for t in a:
        free = np.flatnonzero(~used & (v - window < t) & (t < v + window))
        if len(free):
            used[free[0]] = True
            hits += 1
    return hits


def av_align_from_peaks(video_peaks: np.ndarray, audio_peaks: np.ndarray, fps: float) -> float:
    """IoU of video and audio peaks (s) with one-to-one matching within 1/fps; 0.0 if none at all."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    n_v, n_a = len(video_peaks), len(audio_peaks)
    if n_v + n_a == 0:
        return 0.0  # the reference divides by zero here; see the module docstring
    hits = match_peaks(video_peaks, audio_peaks, fps)
    return hits / (n_a + n_v - hits)


def av_align(frames: np.ndarray, fps: float, samples: np.ndarray, sample_rate: int,
             cut_audio: bool = True) -> float:
    """AV-Align of one video: uint8 RGB (T, H, W, 3) at ``fps`` and its audio -> IoU in [0, 1].

    ``cut_audio``: drop audio onsets after the video's end (T / fps seconds).
    """
    vp = video_peaks(flow_magnitudes(frames), fps)
    ap = audio_peaks(samples, sample_rate, duration=len(frames) / fps if cut_audio else None)
    return av_align_from_peaks(vp, ap, fps)


# --- 2D-MM Align ----------------------------------------------------------------------------
def mm_align(kinematic_beats: np.ndarray, music_beats: np.ndarray, sigma_seconds: float = SIGMA_SECONDS,
             direction: str = "kinematic") -> float:
    """The paper's eq. 7: mean over kinematic beats (s) of exp(-d^2 / (2 sigma^2)) -> [0, 1].

    d is the distance (s) to the nearest music beat (s). ``direction="music"`` averages over
    music beats instead (Bailando). No beats on either side -> 0.0.
    """
    if sigma_seconds <= 0:
        raise ValueError(f"sigma_seconds must be positive, got {sigma_seconds}")
    kin, mus = np.asarray(kinematic_beats, float).ravel(), np.asarray(music_beats, float).ravel()
    if direction == "kinematic":
        query, ref = kin, mus
    elif direction == "music":
        query, ref = mus, kin
    else:
        raise ValueError(f"direction must be 'kinematic' or 'music', got {direction!r}")
    if len(kin) == 0 or len(mus) == 0:
        return 0.0
    d = nearest_distance(query, ref)
    return float(np.mean(np.exp(-(d**2) / (2.0 * sigma_seconds**2))))


def shifted_half_period(music_beats: np.ndarray) -> np.ndarray:
    """The chance control of 2D-MM Align: each beat moved half of its following interval later.

    The last beat moves by half the median interval. Motion on the beat scores high against
    the beats and near 0 against these; motion unrelated to the music scores the same on both.
    """
    beats = np.asarray(music_beats, float).ravel()
    if len(beats) < 2:
        return beats
    gaps = np.diff(beats)
    return beats + 0.5 * np.append(gaps, np.median(gaps))


# --- kinematic beats from video -------------------------------------------------------------
def dancer_masks(gray: np.ndarray, threshold: float = DANCER_THRESHOLD) -> np.ndarray:
    """uint8 gray (T, H, W) -> bool (T, H, W): pixels differing from the per-pixel median frame.

    ``threshold`` is in gray levels (0..255). The median over time is the background of a
    static camera wherever the dancer is absent more than half of the time.
    """
    background = np.median(gray, axis=0)
    return np.abs(gray.astype(np.float32) - background) > threshold


def pair_speeds(frames: np.ndarray, threshold: float = DANCER_THRESHOLD) -> np.ndarray:
    """uint8 RGB (T, H, W, 3) -> (T-1,) dancer speed between frames i and i+1 (pixels / frame).

    Mean Farneback flow magnitude over the pixels that are dancer in either frame of the
    pair; 0 where no pixel is.
    """
    gray = to_gray(frames)
    masks = dancer_masks(gray, threshold)
    out = np.zeros(max(len(gray) - 1, 0))
    for i in range(len(out)):
        body = masks[i] | masks[i + 1]
        if body.any():
            out[i] = float(pair_flow_magnitude(gray[i], gray[i + 1])[body].mean(dtype=np.float64))
    return out


def video_motion_envelope(frames: np.ndarray, fps: float, smooth_seconds: float = SMOOTH_SECONDS,
                          threshold: float = DANCER_THRESHOLD) -> np.ndarray:
    """uint8 RGB (T, H, W, 3) at ``fps`` -> (T,) dancer speed at the frame times (pixels / s).

    The speed between frames i and i+1 belongs to time i + 1/2; frame i gets the mean of its
    two neighbouring pair speeds (the ends copy their one pair). ``smooth_seconds`` is the
    sigma (s) of a Gaussian smoothing (0: none).
    """
    from scipy.ndimage import gaussian_filter1d

    pairs = pair_speeds(frames, threshold) * float(fps)
    if len(pairs) == 0:
        return np.zeros(len(frames))
    env = np.concatenate([pairs[:1], (pairs[:-1] + pairs[1:]) / 2.0, pairs[-1:]])
    sigma = smooth_seconds * fps
    return gaussian_filter1d(env, sigma, mode="nearest") if sigma > 0 else env


def refine_minimum(env: np.ndarray, i: int) -> float:
    """Sub-frame position of the minimum at index i: vertex of the parabola through i-1, i, i+1."""
    if i <= 0 or i >= len(env) - 1:
        return float(i)
    left, mid, right = env[i - 1], env[i], env[i + 1]
    curv = left - 2.0 * mid + right
    if curv <= 0:
        return float(i)
    return i + float(np.clip(0.5 * (left - right) / curv, -0.5, 0.5))


def envelope_minima(env: np.ndarray, fps: float, order_seconds: float = ORDER_SECONDS,
                    still_fraction: float = STILL_FRACTION, refine: bool = True) -> np.ndarray:
    """(T,) speed envelope -> times (s) of its local minima where the body moves around them.

    A minimum is kept if the envelope's maximum within +-order around it exceeds
    ``still_fraction`` times the envelope's 90th percentile (the body is moving there).
    """
    from scipy.signal import argrelextrema

    env = np.asarray(env, dtype=np.float64)
    if len(env) < 3:
        return np.zeros(0)
    order = max(1, int(round(order_seconds * fps)))
    idx = argrelextrema(env, np.less, order=order)[0]
    floor = still_fraction * np.percentile(env, 90)
    keep = [i for i in idx if env[max(0, i - order):i + order + 1].max() > floor]
    pos = [refine_minimum(env, i) if refine else float(i) for i in keep]
    return np.asarray(pos, dtype=np.float64) / float(fps)


def video_kinematic_beats(frames: np.ndarray, fps: float, order_seconds: float = ORDER_SECONDS,
                          smooth_seconds: float = SMOOTH_SECONDS, still_fraction: float = STILL_FRACTION,
                          threshold: float = DANCER_THRESHOLD, refine: bool = True) -> np.ndarray:
    """uint8 RGB (T, H, W, 3) at ``fps`` -> kinematic beat times (s): minima of the dancer's speed."""
    env = video_motion_envelope(frames, fps, smooth_seconds, threshold)
    return envelope_minima(env, fps, order_seconds, still_fraction, refine)


# --- validation on the synthetic dataset ----------------------------------------------------
def read_video_frames(path: Path) -> tuple[np.ndarray, float]:
    """An mp4 -> (uint8 RGB (T, H, W, 3), fps) with decord."""
    import decord

    vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
    return vr.get_batch(list(range(len(vr)))).asnumpy(), float(vr.get_avg_fps())


def beat_hits(found: np.ndarray, truth: np.ndarray, tolerance: float) -> np.ndarray:
    """For each found time (s), whether a true time lies within ``tolerance`` (s)."""
    return nearest_distance(found, truth) <= tolerance


def validate_on_synthetic(root: Path, cameras: list[str] | None = None, max_videos: int | None = None,
                          tolerance_frames: float = 1.5, tolerance_seconds: float = 0.03,
                          **beat_kwargs) -> pd.DataFrame:
    """Video-derived kinematic beats vs the generator's true ones, one row per video.

    Tolerance = ``tolerance_frames`` / fps + ``tolerance_seconds`` (1.5 frames + 2 x the
    default 15 ms timing jitter). Columns: video, sequence, camera, fps, n_frames,
    n_video_beats, n_true_beats, hit_rate (fraction of video beats near a true beat; NaN if
    none found), recall (fraction of true beats near a video beat; NaN if none true),
    mm_video / mm_true (2D-MM Align vs the true music beats within the video), seconds (time
    of ``video_kinematic_beats``). ``beat_kwargs`` go to ``video_kinematic_beats``.
    """
    import pandas as pd

    from ..aist import VideoName

    root = Path(root)
    kin = pd.read_csv(root / "truth" / "kinematic_beats.csv")
    mus = pd.read_csv(root / "truth" / "music_beats.csv")
    videos = sorted((root / "videos").glob("*.mp4"))
    if cameras is not None:
        videos = [v for v in videos if VideoName.parse(v.stem).camera in set(cameras)]
    rows = []
    for path in videos[:max_videos]:
        name = VideoName.parse(path.stem)
        frames, fps = read_video_frames(path)
        duration = len(frames) / fps
        started = time.perf_counter()
        found = video_kinematic_beats(frames, fps, **beat_kwargs)
        elapsed = time.perf_counter() - started
        truth = kin.loc[kin["sequence"] == name.sequence, "time"].to_numpy(float)
        music = mus.loc[mus["music_id"] == name.music_id, "time"].to_numpy(float)
        music = music[(music >= 0) & (music < duration)]
        tol = tolerance_frames / fps + tolerance_seconds
        rows.append({
            "video": path.stem, "sequence": name.sequence, "camera": name.camera, "fps": fps,
            "n_frames": len(frames), "n_video_beats": len(found), "n_true_beats": len(truth),
            "hit_rate": float(beat_hits(found, truth, tol).mean()) if len(found) else np.nan,
            "recall": float(beat_hits(truth, found, tol).mean()) if len(truth) else np.nan,
            "mm_video": mm_align(found, music), "mm_true": mm_align(truth, music),
            "seconds": elapsed,
        })
    return pd.DataFrame(rows)
