"""The guidance scale of a trained model, chosen on training clips so its dancers move as much as theirs.

Classifier-free guidance multiplies how fast the generated flows move by a factor that depends
on the trained model (1.1 to 1.6 at scale 3 over four seeds of the bench,
docs/dancing-on-the-beat.md, finding 17): one scale for every model makes some dance faster
than the dances they learned and others slower. Here each model gets its own: the model
samples clips of the training split (their first frame and music; never the test clips the tables
score, and with ``diffusion.max_train_clips`` not necessarily clips its flow cache holds) at
increasing scales, each rendered dance's speed is measured as the tables measure motion, and
the scale at which the generated dances move ``target`` times as much as the same clips' ground
truth is interpolated between the two scales around it.

    motion_ratio(scale) = mean dancer speed of the clips sampled at ``scale`` / that of their ground truth
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


def pick_scale(scales: list[float], ratios: list[float], target: float) -> float:
    """The scale at which ``ratios`` (measured at ascending ``scales``) first reaches ``target``.

    Linear between the last scale below the target and the first at or above it; the smallest
    scale if it already moves enough, the largest measured if none does.
    """
    if len(scales) != len(ratios) or not scales:
        raise ValueError("one motion ratio per scale, at least one")
    for i, (s, r) in enumerate(zip(scales, ratios)):
        if r >= target:
            if i == 0:
                return float(s)
            s0, r0 = scales[i - 1], ratios[i - 1]
            return float(s0 + (s - s0) * (target - r0) / max(r - r0, 1e-12))
    return float(scales[-1])


def calibration_clips(clips: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` clips of the training split, spread over cameras and genres (never a test clip)."""
    from .clips import select_clips
    from .music.features import with_window_ids

    return select_clips(with_window_ids(clips[clips.split == "train"]), n, seed)


def calibrate_guidance(unet_file: Path, lfae_file: Path, clips_file: Path, embedding_file: Path,
                       scfg: dict, ccfg: dict, progress: bool = True) -> dict:
    """Sample ``ccfg['clips']`` training clips at each of ``ccfg['scales']`` (ascending) until the
    motion ratio reaches ``ccfg['target_motion']``; returns the chosen ``guidance`` and what was
    measured (``scales``, ``motion_ratio``)."""
    import torch
    from tqdm import tqdm

    from .diffusion.conditions import MusicConditions
    from .frames import load_clip
    from .io import DataError
    from .learning_curve import mean_speed
    from .metrics.image import to_tensor
    from .sampling import DanceSampler, clip_seed

    scales = sorted(float(s) for s in ccfg["scales"])
    target = float(ccfg["target_motion"])
    clips = calibration_clips(pd.read_parquet(clips_file), ccfg["clips"], ccfg["seed"])
    ds = DanceSampler(unet_file, lfae_file, scfg["device"])
    if (clips.n_frames != ds.n_frames).any():
        raise DataError(f"{clips_file} holds clips of {clips.n_frames.iloc[0]} frames, {unet_file} makes "
                        f"{ds.n_frames}; give the clip index of its length")
    cond = MusicConditions(embedding_file, ds.meta["beat"])
    gt = [load_clip(c.frames_file, c.start_frame, c.n_frames) for c in clips.itertuples()]
    gt_speed = mean_speed(gt, clips)
    measured: list[float] = []
    bar = tqdm(total=len(scales), desc="guidance calibration", unit="scale", disable=not progress)
    for scale in scales:
        videos = []
        for lo in range(0, len(clips), scfg["batch_size"]):
            part = clips.iloc[lo:lo + scfg["batch_size"]]
            ref = torch.stack([to_tensor(v[:1])[0] for v in gt[lo:lo + scfg["batch_size"]]])
            e, b = cond.get(part.window_id)
            videos += list(ds.generate(ref, e, b, {**scfg, "guidance": scale},
                                       [clip_seed(ccfg["seed"], c) for c in part.clip_id]))
        measured.append(mean_speed(videos, clips) / max(gt_speed, 1e-9))
        log.info("guidance %.2f: the training clips move %.3f of their ground truth's", scale, measured[-1])
        bar.update()
        if measured[-1] >= target:
            break
    bar.close()
    guidance = pick_scale(scales[:len(measured)], measured, target)
    if measured[-1] < target:
        log.warning("no scale up to %.1f moves %.2f of the ground truth's (at most %.3f); guidance %.1f",
                    scales[-1], target, max(measured), guidance)
    return {"guidance": guidance, "guide": ds.guide(scfg), "target_motion": target, "scales": scales[:len(measured)],
            "motion_ratio": measured, "clips": len(clips), "clip_ids": list(clips.clip_id)}


def write_calibration(out_json: Path, unet_file: Path, result: dict) -> None:
    """``result`` of ``calibrate_guidance`` beside the model it is for (its sha256 guards against a stale file)."""
    from .io import file_sha256, write_json_atomic

    write_json_atomic(Path(out_json), {**result, "model_sha256": file_sha256(unet_file)})


def with_calibrated_guidance(scfg: dict, guidance_file: str | Path | None, unet_file: str | Path) -> dict:
    """``scfg`` with the guidance calibrated for ``unet_file`` (``guidance_file``; None: ``scfg`` as it is).

    The file must be for this model (its sha256) and for what ``scfg`` guides on: a scale found
    guiding on the beats is not one for the whole music."""
    import json

    from .checkpoints import read_metadata
    from .io import DataError, file_sha256
    from .sampling import model_guide

    if not guidance_file:
        return scfg
    cal = json.loads(Path(guidance_file).read_text())
    if cal["model_sha256"] != file_sha256(unet_file):
        raise DataError(f"{guidance_file} was calibrated for another model than {unet_file}; delete it to recalibrate")
    guide = model_guide(scfg, read_metadata(unet_file))
    if cal.get("guide", "music") != guide:
        raise DataError(f"{guidance_file} was calibrated guiding on the {cal.get('guide', 'music')}, this sampling "
                        f"guides on the {guide} (sampling.guide); delete it to recalibrate")
    return {**scfg, "guidance": float(cal["guidance"])}
