"""Look at a raw dataset: still frames, a beat plot and a per-track/per-sequence check table.

Everything here reads the files as written (decoded with decord, keypoints from the pkl),
so the figures show what every downstream stage will see.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..aist import VideoName
from ..beats import kinematic_beats, music_beats, nearest_distance, speed_envelope
from ..io import atomic_path, load_numpy_pickle, read_wav

log = logging.getLogger(__name__)


def read_frame(video: Path, index: int) -> np.ndarray:
    import decord

    vr = decord.VideoReader(str(video), ctx=decord.cpu(0))
    return vr[min(index, len(vr) - 1)].asnumpy()


def _savefig(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip("."))


def stills_figure(root: Path, out: Path, n_dancers: int = 3, n_cameras: int = 3) -> None:
    """A grid of mid-clip frames: rows are different dancers, columns different cameras."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seqs = pd.read_csv(root / "truth" / "sequences.csv")
    videos = [VideoName.parse(v) for v in (root / "video_list.txt").read_text().split()]
    cameras = sorted({v.camera for v in videos})[:n_cameras]
    picked = seqs.drop_duplicates("dancer").drop_duplicates("genre").head(n_dancers)
    fig, axes = plt.subplots(len(picked), len(cameras), figsize=(3.2 * len(cameras), 2.0 * len(picked)), squeeze=False)
    for r, row in enumerate(picked.itertuples()):
        for c, cam in enumerate(cameras):
            name = VideoName.parse(row.sequence).with_camera(cam)
            ax = axes[r][c]
            ax.imshow(read_frame(root / "videos" / f"{name}.mp4", row.n_frames // 2))
            ax.set_title(f"{row.dancer} {row.genre} {cam}", fontsize=8)
            ax.axis("off")
    fig.suptitle("Synthetic AIST++-shaped data: three dancers x three cameras (mid-clip frames)", fontsize=9)
    _savefig(fig, out)
    plt.close(fig)


def beats_figure(root: Path, out: Path, sequence: str | None = None) -> None:
    """Speed envelope of one clip's c01 keypoints with music beats and kinematic beats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seqs = pd.read_csv(root / "truth" / "sequences.csv")
    if sequence is None:  # the longest clip shows the most beats
        sequence = seqs.sort_values(["seconds", "sequence"], ascending=[False, True]).sequence.iloc[0]
    row = seqs[seqs.sequence == sequence].iloc[0]
    kp = load_numpy_pickle(root / "keypoints2d" / f"{row.sequence}.pkl")["keypoints2d"][0]
    fps = float(row.fps)
    env = speed_envelope(kp)
    t = np.arange(len(env)) / fps
    mbeats = pd.read_csv(root / "truth" / "music_beats.csv")
    mb = mbeats[mbeats.music_id == row.music_id].time.to_numpy()
    mb = mb[mb < row.seconds]
    samples, sr = read_wav(root / "music" / f"{row.music_id}.wav")
    _, lb = music_beats(samples[: int(row.seconds * sr)], sr)
    kb = kinematic_beats(kp, fps)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.plot(t, env, color="k", lw=1, label="summed joint speed (c01, px/frame)")
    for i, b in enumerate(mb):
        ax.axvline(b, color="tab:blue", lw=1.5, alpha=0.5, label="music beat (ground truth)" if i == 0 else None)
    ax.plot(lb, np.full(len(lb), env.max() * 1.05), "v", color="tab:green", label="librosa beat")
    ax.plot(kb, np.interp(kb, t, env), "o", color="tab:red", label="kinematic beat (speed minimum)")
    ax.set_xlabel("time (s)")
    ax.set_title(f"{row.sequence}: music beats vs kinematic beats", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, frameon=False)
    _savefig(fig, out)
    plt.close(fig)


def check_table(root: Path) -> pd.DataFrame:
    """One row per track and per sequence: tempo, beat and kinematic-beat errors, measured."""
    music = pd.read_csv(root / "truth" / "music.csv")
    mbeats = pd.read_csv(root / "truth" / "music_beats.csv")
    rows = []
    for m in music.itertuples():
        samples, sr = read_wav(root / "music" / f"{m.music_id}.wav")
        tempo, lb = music_beats(samples, sr)
        gt = mbeats[mbeats.music_id == m.music_id].time.to_numpy()
        rows.append({
            "kind": "track", "name": m.music_id, "genre": m.genre, "nominal_bpm": m.bpm,
            "librosa_bpm": round(tempo, 2), "tempo_rel_error": round(tempo / m.bpm - 1, 4),
            "median_beat_error_s": round(float(np.median(nearest_distance(lb, gt))), 4),
        })
    seqs = pd.read_csv(root / "truth" / "sequences.csv")
    for s in seqs.itertuples():
        kp = load_numpy_pickle(root / "keypoints2d" / f"{s.sequence}.pkl")["keypoints2d"][0]
        kb = kinematic_beats(kp, s.fps)
        gt = mbeats[mbeats.music_id == s.music_id].time.to_numpy()
        d = nearest_distance(kb, gt)
        rows.append({
            "kind": "sequence", "name": s.sequence, "genre": s.genre,
            "n_kinematic_beats": len(kb), "median_kinematic_to_music_beat_s": round(float(np.median(d)), 4),
            "max_kinematic_to_music_beat_s": round(float(np.max(d)), 4),
        })
    return pd.DataFrame(rows)
