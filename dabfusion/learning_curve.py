"""Does stage 2 dance on the beat, and does it get better with training? Scores models on test clips.

For each model (the snapshots a run keeps with ``diffusion.snapshot_every``, and its final
file), the same test clips are sampled as the sampling rule does, and scored with what the
tables use: 2D-MM Align against the music beats and its chance control (the beats shifted by
half a period), the dancer's speed against the ground truth's of the same clips (a frozen
dancer is far below 1), and FVD against those ground-truth clips.

    motion_vs_gt = mean dancer speed of the generated clips / that of their ground truth
    speed_on_off_beat = mean speed on frames within half a frame of a beat / on the others
                        (real dance slows down on the beat: well under 1)

``stage1_ceiling`` scores the same test clips re-animated through stage 1 with their own
flows: what a stage 2 that generated each clip's true flows would score through this stage 1.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .frames import load_clip
from .metrics.alignment import (
    SIGMA_SECONDS,
    mm_align,
    shifted_half_period,
    video_kinematic_beats,
    video_motion_envelope,
)

log = logging.getLogger(__name__)

CURVE_COLUMNS = ["mm_align", "mm_align_shifted", "motion_vs_gt", "speed_on_off_beat", "fvd"]


def mean_speed(videos, clips: pd.DataFrame) -> float:
    """The dancers' mean speed over ``videos`` (one per row of ``clips``): the tables' motion."""
    return float(np.mean([video_motion_envelope(v, c.fps).mean() for v, c in zip(videos, clips.itertuples())]))


def beat_motion_scores(videos: list[np.ndarray], clips: pd.DataFrame, beats_of, gt_speed: float | None = None) -> dict:
    """Alignment and amount of motion of ``videos`` (one per row of ``clips``, in that order).

    ``beats_of(music_id)`` gives the track's music beats (s); ``gt_speed`` the mean dancer
    speed of the clips' ground truth (computed here if None).
    """
    own, chance, on, off, speed = [], [], [], [], []
    for video, c in zip(videos, clips.itertuples()):
        beats = np.asarray(beats_of(c.music_id), float) - c.music_start  # in the clip's time
        kin = video_kinematic_beats(video, c.fps)
        own.append(mm_align(kin, beats, SIGMA_SECONDS))
        chance.append(mm_align(kin, shifted_half_period(beats), SIGMA_SECONDS))
        env = video_motion_envelope(video, c.fps)
        t = np.arange(len(video)) / c.fps
        near = np.zeros(len(t), bool)
        if len(beats):
            near = np.min(np.abs(t[:, None] - beats[None, :]), axis=1) < 0.5 / c.fps
        on += list(env[near])
        off += list(env[~near])
        speed.append(env.mean())
    if gt_speed is None:
        gt = (load_clip(c.frames_file, c.start_frame, c.n_frames) for c in clips.itertuples())
        gt_speed = mean_speed(gt, clips)
    return {"clips": len(videos), "mm_align": float(np.mean(own)), "mm_align_shifted": float(np.mean(chance)),
            "motion_vs_gt": float(np.mean(speed) / max(gt_speed, 1e-9)),
            "speed_on_off_beat": float(np.mean(on) / max(np.mean(off), 1e-9)) if on and off else float("nan")}


def learning_curve(models: list[tuple[int, Path]], steps_per_epoch: int, lfae_file: Path, clips_file: Path,
                   embedding_file: Path, beats_file: Path, scfg: dict, ecfg: dict, out_csv: Path) -> pd.DataFrame:
    """Score each (epoch, model file); write ``out_csv`` and a figure beside it (``.png``)."""
    import torch

    from .clips import select_clips
    from .diffusion.conditions import MusicConditions
    from .io import write_table_atomic
    from .metrics.fvd import I3DFeatures, fvd
    from .metrics.image import to_tensor
    from .music.features import with_window_ids
    from .sampling import DanceSampler, clip_seed

    clips = pd.read_parquet(clips_file)
    test = select_clips(with_window_ids(clips[clips.split == "test"]), scfg["max_clips"], scfg["seed"])
    beats = pd.read_parquet(beats_file).set_index("music_id")["beats"]
    gt = [load_clip(c.frames_file, c.start_frame, c.n_frames) for c in test.itertuples()]
    gt_speed = mean_speed(gt, test)
    weights = ecfg["weights"]["i3d"]
    i3d = I3DFeatures(Path(weights) if weights else None, ecfg["seed"], resize=ecfg["fvd_resize"])
    def features(videos: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([i3d(np.stack(videos[i:i + 8])) for i in range(0, len(videos), 8)])

    gt_features = features(gt)
    rows = []
    for epoch, model_file in models:
        ds = DanceSampler(model_file, lfae_file, scfg["device"])
        cond = MusicConditions(embedding_file, ds.meta["beat"])
        videos = []
        for lo in range(0, len(test), scfg["batch_size"]):
            part = test.iloc[lo:lo + scfg["batch_size"]]
            ref = torch.stack([to_tensor(v[:1])[0] for v in gt[lo:lo + scfg["batch_size"]]])
            e, b = cond.get(part.window_id)
            videos += list(ds.generate(ref, e, b, scfg, [clip_seed(scfg["seed"], c) for c in part.clip_id]))
        row = {"epoch": epoch, "steps": epoch * steps_per_epoch,
               **beat_motion_scores(videos, test, lambda m: beats[m], gt_speed),
               "fvd": fvd(gt_features, features(videos))}
        log.info("learning curve: epoch %d: %s", epoch, ", ".join(f"{k} {row[k]:.3f}" for k in CURVE_COLUMNS))
        rows.append(row)
    table = pd.DataFrame(rows)
    write_table_atomic(out_csv, table)
    _plot(table, Path(out_csv).with_suffix(".png"))
    return table


def _plot(table: pd.DataFrame, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_path

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    axes[0].plot(table.steps, table.mm_align, "o-", label="against the music beats")
    axes[0].plot(table.steps, table.mm_align_shifted, "o--", color="gray", label="beats shifted half a period (chance)")
    axes[0].set_title("2D-MM Align", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].plot(table.steps, table.motion_vs_gt, "o-")
    axes[1].axhspan(0.8, 1.25, color="green", alpha=0.1)
    axes[1].set_title("motion / ground truth's (band: 0.8-1.25)", fontsize=9)
    axes[2].plot(table.steps, table.fvd, "o-")
    axes[2].set_title("FVD (random-init I3D unless pretrained)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("stage-2 training steps", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def reanimate(lfae, clip):
    """A clip (a row of the clip index) moved from its first frame by its own stage-1 flows:
    video (N, S, S, 3) uint8 as generated videos are rendered, grids (N, h, w, 2), occlusion (N, 1, h, w)."""
    import torch

    from .metrics.image import to_tensor
    from .sampling import render_flows
    from .training.flow_cache import clip_flows

    with torch.no_grad():
        frames = to_tensor(load_clip(clip.frames_file, int(clip.start_frame), int(clip.n_frames)))
        grid, occ, _ = clip_flows(lfae, frames)
        return render_flows(lfae, frames[:1], grid[None], occ[None])[0], grid, occ


def stage1_ceiling(lfae_file: Path, clips_file: Path, beats_file: Path, scfg: dict, out_csv: Path) -> pd.DataFrame:
    """Score the sampling rule's test clips re-animated through stage 1 with their own flows.

    Each clip's flows from its first frame (``flow_cache.clip_flows``) move that frame through
    the decoder as generated flows do (``sampling.render_flows``); the videos are scored as the
    learning curve scores a model. A model whose motion exceeds this one's generates flows
    faster than the clips' own (docs/dancing-on-the-beat.md, finding 17). Writes one row.
    """
    from .checkpoints import load_lfae
    from .clips import select_clips
    from .io import write_table_atomic
    from .music.features import with_window_ids

    lfae = load_lfae(lfae_file).eval()
    clips = pd.read_parquet(clips_file)
    test = select_clips(with_window_ids(clips[clips.split == "test"]), scfg["max_clips"], scfg["seed"])
    beats = pd.read_parquet(beats_file).set_index("music_id")["beats"]
    videos = [reanimate(lfae, c)[0] for c in test.itertuples()]
    row = beat_motion_scores(videos, test, lambda m: beats[m])
    table = pd.DataFrame([{"method": "stage-1 reconstruction", **row}])
    write_table_atomic(out_csv, table)
    log.info("stage-1 ceiling on %d test clips: motion_vs_gt %.3f, mm_align %.3f (chance %.3f)", row["clips"],
             row["motion_vs_gt"], row["mm_align"], row["mm_align_shifted"])
    return table
