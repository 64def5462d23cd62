"""AV-Align, 2D-MM Align and kinematic beats from video (dabfusion.metrics.alignment)."""

import math

import numpy as np
import pytest

from dabfusion.metrics import alignment as al

SR = 22_050


# --- constructed inputs ---------------------------------------------------------------------
def jumping_square(fps: int, n_frames: int, jumps: np.ndarray) -> np.ndarray:
    """(T, 64, 64, 3) uint8: an orange square that jumps left <-> right at the given frames."""
    frames = np.zeros((n_frames, 64, 64, 3), np.uint8)
    side = 0
    for i in range(n_frames):
        side ^= int(i in set(jumps.tolist()))
        x = 8 + 32 * side
        frames[i, 24:40, x:x + 16] = (255, 160, 40)
    return frames


def clicks(times: np.ndarray, seconds: float, sr: int = SR) -> np.ndarray:
    """Mono float32 audio of ``seconds`` with a short decaying noise burst at each time."""
    y = np.zeros(int(seconds * sr), np.float32)
    rng = np.random.default_rng(0)
    n = int(0.01 * sr)
    burst = (rng.uniform(-1, 1, n) * np.exp(-np.arange(n) / (0.002 * sr))).astype(np.float32)
    for t in times:
        s = int(round(t * sr))
        y[s:s + n] += burst[: len(y) - s]
    return y


def easing_blob(keys: np.ndarray, fps: float, height: int = 64, width: int = 96) -> np.ndarray:
    """(T, H, W, 3) uint8: a soft blob hopping left/right between key instants over a checkerboard.

    Between keys it follows smoothstep (zero speed at both ends), so its speed minima are
    exactly the interior key times, which are not on the frame grid.
    """
    t = np.arange(int(keys[-1] * fps)) / fps
    xs = np.where(np.arange(len(keys)) % 2 == 0, 20.0, width - 20.0)
    seg = np.clip(np.searchsorted(keys, t, side="right") - 1, 0, len(keys) - 2)
    u = np.clip((t - keys[seg]) / (keys[seg + 1] - keys[seg]), 0.0, 1.0)
    u = u * u * (3 - 2 * u)
    x = xs[seg] + (xs[seg + 1] - xs[seg]) * u
    y = height / 2 + 10 * np.sin(np.pi * u)  # a hop: also still at the keys
    yy, xx = np.mgrid[0:height, 0:width]
    background = 60.0 + 20.0 * ((xx // 8 + yy // 8) % 2)
    frames = np.empty((len(t), height, width, 3), np.uint8)
    for i in range(len(t)):
        blob = np.exp(-((xx - x[i]) ** 2 + (yy - y[i]) ** 2) / (2 * 6.0**2))
        frames[i] = np.clip(background[..., None] + 180 * blob[..., None] * np.array([1.0, 0.8, 0.6]), 0, 255)
    return frames


# --- AV-Align from peaks ----------------------------------------------------------------------
def test_av_align_from_peaks_known_iou():
    video = [1.0, 2.0, 3.0, 4.0]
    audio = [1.02, 2.03, 3.5, 4.04, 5.0]  # 3 of 5 within 1/20 s of a video peak
    assert al.av_align_from_peaks(video, audio, fps=20) == pytest.approx(3 / (5 + 4 - 3))
    # the window is open, as in the reference: exactly 1/fps away is no hit (0.25 is exact in binary)
    assert al.av_align_from_peaks([3.0], [3.25], fps=4) == 0.0
    assert al.av_align_from_peaks([3.0], [3.24], fps=4) == 1.0


def test_av_align_matching_is_one_to_one():
    # two audio peaks near one video peak count once: 1 / (2 + 1 - 1); the reference's
    # many-to-one loop would give 2 / (2 + 1 - 2) = 2
    assert al.av_align_from_peaks([1.0], [0.99, 1.01], fps=20) == pytest.approx(0.5)
    assert al.match_peaks([1.0, 1.04], [0.99, 1.01], fps=20) == 2


def test_av_align_without_peaks_is_zero_not_nan():
    assert al.av_align_from_peaks([], [], fps=30) == 0.0
    assert al.av_align_from_peaks([1.0], [], fps=30) == 0.0
    assert al.av_align_from_peaks([], [1.0], fps=30) == 0.0
    with pytest.raises(ValueError):
        al.av_align_from_peaks([1.0], [1.0], fps=0)


def test_video_peaks_follow_the_reference():
    traj = [0.0, 1.0, 0.0, 0.05, 0.0, 2.0, 2.0, 0.0, 0.1, 0.0]
    # 0.05 is under the 0.1 floor, the plateau is no strict maximum, exactly 0.1 counts
    np.testing.assert_allclose(al.video_peaks(traj, fps=10), [0.1, 0.8])
    assert len(al.video_peaks([1.0, 2.0], fps=10)) == 0


def test_flow_magnitudes_match_the_reference_on_bgr_frames():
    import cv2

    frames = jumping_square(10, 6, np.array([2, 4]))
    frames[..., 1] = np.linspace(0, 90, 64, dtype=np.uint8)[None, :, None]  # colour matters for gray
    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in frames]

    def reference_flow(a, b):  # AV-Align's compute_of on cv2's BGR frames
        ga, gb = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
        flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        return cv2.mean(cv2.magnitude(flow[..., 0], flow[..., 1]))[0]

    expected = [reference_flow(bgr[0], bgr[1])] + [reference_flow(bgr[i - 1], bgr[i]) for i in range(1, 6)]
    got = al.flow_magnitudes(frames)
    assert got.shape == (6,)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert got[2] > 1.0 and got[3] < 1e-3  # motion into frame 2, none from 2 to 3


# --- AV-Align end to end --------------------------------------------------------------------
def test_av_align_synced_clicks_beat_shifted_clicks():
    fps, n, period = 20, 100, 10
    jumps = np.arange(5, n, period)
    frames = jumping_square(fps, n, jumps)
    seconds = n / fps + 1.0  # the audio runs on a second past the video's end
    synced = clicks(np.append(jumps / fps, [5.3, 5.7]), seconds)  # two onsets after the end
    shifted = clicks(jumps / fps + period / fps / 2, seconds)
    score_synced = al.av_align(frames, fps, synced, SR)
    score_shifted = al.av_align(frames, fps, shifted, SR)
    print(f"AV-Align synced {score_synced:.3f}, shifted by half a period {score_shifted:.3f}")
    assert score_synced >= 0.9
    assert score_shifted <= 0.2
    # the documented choice: onsets after the video's end only lower the score if kept
    assert al.av_align(frames, fps, synced, SR, cut_audio=False) < score_synced


def test_audio_peaks_resample_and_cut():
    times = np.array([0.5, 1.0, 1.5, 2.5])
    y = clicks(times, 3.0)
    at_sr = al.audio_peaks(y, SR)
    y44 = np.interp(np.arange(2 * len(y)) / 2.0, np.arange(len(y)), y).astype(np.float32)
    at_44k = al.audio_peaks(y44, 44_100)
    assert len(at_sr) == len(times)
    np.testing.assert_allclose(at_sr, times, atol=0.035)  # onset frames: 512 / 22050 = 23 ms
    np.testing.assert_allclose(at_44k, at_sr, atol=0.024)
    np.testing.assert_allclose(al.audio_peaks(y, SR, duration=2.0), at_sr[at_sr < 2.0])


# --- 2D-MM Align ----------------------------------------------------------------------------
def test_mm_align_exact_values():
    sigma = 0.05
    music = np.array([1.0, 2.0, 3.0])
    kin = np.array([1.0, 2.0 + sigma])  # offsets 0 and sigma
    assert al.mm_align(kin, music, sigma) == pytest.approx((1 + math.exp(-0.5)) / 2)
    assert al.mm_align([2.9], [1.0, 3.0], sigma) == pytest.approx(math.exp(-(0.1**2) / (2 * sigma**2)))
    # the other direction (Bailando) averages over music beats
    assert al.mm_align([1.0], [1.0, 2.0], sigma, direction="music") == pytest.approx(
        (1 + math.exp(-1 / (2 * sigma**2))) / 2)
    with pytest.raises(ValueError):
        al.mm_align(kin, music, direction="sideways")


def test_mm_align_sigma_in_seconds_is_fps_invariant():
    music = np.array([0.5, 1.0, 1.5, 2.0])
    scores = []
    for fps in (30, 60):
        frames = np.round(music * fps).astype(int) + round(0.1 * fps)  # 0.1 s late at any fps
        scores.append(al.mm_align(frames / fps, music))
    assert scores[0] == pytest.approx(scores[1]) == pytest.approx(math.exp(-(0.1**2) / (2 * 0.05**2)))


def test_mm_align_edge_cases():
    assert al.mm_align([], [1.0, 2.0]) == 0.0
    assert al.mm_align([1.0], []) == 0.0
    assert al.mm_align([], [], direction="music") == 0.0
    assert al.mm_align([1.0], [1.0]) == pytest.approx(1.0)


# --- kinematic beats from video -------------------------------------------------------------
@pytest.mark.parametrize("fps", [15, 30])
def test_video_kinematic_beats_recover_speed_minima(fps):
    keys = np.array([0.0, 0.5, 1.05, 1.5, 2.1, 2.6, 3.3, 3.8, 4.5])
    frames = easing_blob(keys, fps)
    env = al.video_motion_envelope(frames, fps)
    found = al.video_kinematic_beats(frames, fps)
    interior = keys[1:-1]
    errors = np.round((found - interior) * fps, 2) if len(found) == len(interior) else found
    print(f"{fps} fps: errors in frames {errors}")
    assert env.shape == (len(frames),)
    assert len(found) == len(interior)
    assert np.max(np.abs(found - interior)) * fps <= 1.0


def test_still_video_has_no_kinematic_beats():
    frames = np.full((30, 32, 48, 3), 90, np.uint8)
    assert np.all(al.video_motion_envelope(frames, 15) == 0)
    assert len(al.video_kinematic_beats(frames, 15)) == 0
    assert len(al.video_kinematic_beats(frames[:1], 15)) == 0


def test_video_beats_on_synthetic_dataset(synth_root):
    df = al.validate_on_synthetic(synth_root)
    n_videos = len(list((synth_root / "videos").glob("*.mp4")))
    by_cam = df.groupby("camera")[["hit_rate", "recall", "mm_video", "mm_true"]].mean()
    print(by_cam.round(3).to_string())
    print("mean", df[["hit_rate", "recall", "mm_video", "mm_true", "seconds"]].mean().round(3).to_dict())
    assert len(df) == n_videos and set(df["camera"]) == {"c01", "c02", "c09"}
    # measured on this fixture: hit rate 0.970, recall 0.920, MM 0.906 (true beats: 0.946)
    assert df["hit_rate"].mean() >= 0.92
    assert by_cam["hit_rate"].min() >= 0.85
    assert df["recall"].mean() >= 0.87
    assert df["mm_video"].mean() >= 0.85
    assert df["mm_true"].mean() >= df["mm_video"].mean() - 0.1


def test_chance_control_puts_on_beat_motion_far_from_the_shifted_beats():
    beats = np.array([0.0, 0.5, 1.0, 1.6])
    shifted = al.shifted_half_period(beats)
    assert shifted == pytest.approx([0.25, 0.75, 1.3, 1.85])  # the last by half the median interval (0.5)
    assert al.mm_align(beats, beats) == 1.0 and al.mm_align(beats, shifted) < 1e-3
    assert len(al.shifted_half_period(np.array([2.0]))) == 1
