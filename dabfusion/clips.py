"""From the raw layout to training-ready data: frame shards, per-track music, the clip index.

    processed/frames/{video}.npy        (T, S, S, 3) uint8 at the configured fps (frames.py)
    processed/shards/frames_{i}.csv     what shard i did with each of its videos
    processed/music/{music_id}.npy      float32 mono at extract.music_sample_rate
    processed/music.csv                 one row per track
    processed/clips_n{N}.parquet        one row per clip of N frames (CLIP_COLUMNS)
    processed/rejects_n{N}.csv          every video left out, with the reason

A clip is ``clips.length`` consecutive frames starting every ``clips.stride`` frames; its
music window covers exactly the same instants (the AIST++ videos carry their music from
time 0, so frame k of a video is at music time k / fps).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .aist import VideoName, split_of_music
from .frames import ExtractSpec, extract_video
from .io import DataError, read_wav, write_table_atomic

log = logging.getLogger(__name__)

CLIP_COLUMNS = [
    "clip_id", "video", "sequence", "camera", "genre", "music_id", "dancer", "situation", "choreo",
    "split", "start_frame", "n_frames", "fps", "music_start", "music_end", "frames_file",
]
SHARD_COLUMNS = ["video", "status", "reason", "n_frames", "src_fps", "src_frames", "duration"]


def videos_of_shard(raw: Path, shard: int, n_shards: int) -> list[str]:
    names = sorted((Path(raw) / "video_list.txt").read_text().split())
    return names[shard::n_shards]


def extract_shard(raw: Path, processed: Path, shard: int, n_shards: int, ecfg: dict, out_csv: Path) -> pd.DataFrame:
    """Extract every video of one shard; existing frame files are kept (resumable).

    A bad video fails the job (naming the file), or, with ``on_bad_video: skip``, becomes a
    'rejected' row with the reason.
    """
    from tqdm import tqdm

    spec = ExtractSpec.from_config(ecfg)
    rows = []
    names = videos_of_shard(raw, shard, n_shards)
    # frames already extracted with the same spec from the same video are kept (resume)
    stamp = Path(processed) / "frames" / f".spec-{spec.size}px-{spec.fps:g}fps-{spec.aspect}"
    reuse = stamp.exists()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    for name in tqdm(names, desc=f"shard {shard}/{n_shards}", unit="video", mininterval=5):
        out = Path(processed) / "frames" / f"{name}.npy"
        video = Path(raw) / "videos" / f"{name}.mp4"
        if reuse and out.exists() and video.exists() and out.stat().st_mtime >= video.stat().st_mtime:
            n = np.load(out, mmap_mode="r").shape[0]
            rows.append({"video": name, "status": "ok", "reason": "", "n_frames": n})
            continue
        try:
            info = extract_video(video, out, spec)
            rows.append({"video": name, "status": "ok", "reason": "", **info})
        except DataError as exc:
            if ecfg["on_bad_video"] == "fail":
                raise DataError(f"{exc}\n(set 'extract: {{on_bad_video: skip}}' to list such videos in "
                                "rejects.csv and carry on without them)") from exc
            log.warning("rejected: %s", exc)
            rows.append({"video": name, "status": "rejected", "reason": str(exc), "n_frames": 0})
    frame = pd.DataFrame(rows, columns=SHARD_COLUMNS)
    write_table_atomic(out_csv, frame)
    log.info("shard %d: %d ok, %d rejected", shard, (frame.status == "ok").sum(), (frame.status != "ok").sum())
    return frame


def prepare_music(raw: Path, processed: Path, sample_rate: int, out_csv: Path) -> pd.DataFrame:
    """Load each track once, check it, resample it once, store it for the feature rules."""
    from .music.audio import check_music, resample

    rows = []
    for wav in sorted((Path(raw) / "music").glob("*.wav")):
        samples, sr = read_wav(wav)
        check_music(samples, sr, wav)
        out = Path(processed) / "music" / f"{wav.stem}.npy"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.tmp.npy")
        np.save(tmp, resample(samples, sr, sample_rate))
        tmp.replace(out)
        rows.append({"music_id": wav.stem, "sample_rate": sample_rate, "seconds": len(samples) / sr,
                     "source_sample_rate": sr, "file": str(out)})
    frame = pd.DataFrame(rows)
    write_table_atomic(out_csv, frame)
    return frame


def build_clip_index(raw: Path, shard_csvs: list[Path], music_csv: Path, ecfg: dict, ccfg: dict,
                     processed: Path, clips_out: Path, rejects_out: Path) -> pd.DataFrame:
    """One row per clip of every extracted, non-ignored video; rejects for the rest."""
    raw, processed = Path(raw), Path(processed)
    shards = pd.concat([pd.read_csv(p, keep_default_na=False) for p in shard_csvs], ignore_index=True)
    music = pd.read_csv(music_csv).set_index("music_id")
    ignore_file = raw / "ignore_list.txt"
    lines = ignore_file.read_text().splitlines() if ignore_file.exists() else []
    ignored = {ln.strip() for ln in lines if ln.strip()}
    fps, length, stride = float(ecfg["fps"]), ccfg["length"], ccfg["stride"]
    rejects = [{"video": r.video, "reason": r.reason} for r in shards.itertuples() if r.status != "ok"]
    rows = []
    for r in shards[shards.status == "ok"].itertuples():
        v = VideoName.parse(r.video)
        if v.sequence in ignored:
            rejects.append({"video": r.video, "reason": "sequence is in ignore_list.txt"})
            continue
        if v.music_id not in music.index:
            rejects.append({"video": r.video, "reason": f"music {v.music_id} missing from music/"})
            continue
        music_seconds = float(music.loc[v.music_id, "seconds"])
        usable = min(int(r.n_frames), int(np.floor(music_seconds * fps + 1e-6)))
        starts = range(0, usable - length + 1, stride)
        if len(starts) == 0:
            rejects.append({"video": r.video, "reason": f"{usable} frames: shorter than one {length}-frame clip"})
            continue
        for s in starts:
            rows.append({
                "clip_id": f"{r.video}_f{s:05d}", "video": r.video, "sequence": v.sequence,
                "camera": v.camera, "genre": v.genre, "music_id": v.music_id, "dancer": v.dancer,
                "situation": v.situation, "choreo": v.choreo, "split": split_of_music(v.music_id),
                "start_frame": s, "n_frames": length, "fps": fps,
                "music_start": s / fps, "music_end": (s + length) / fps,
                "frames_file": str(processed / "frames" / f"{r.video}.npy"),
            })
    clips = pd.DataFrame(rows, columns=CLIP_COLUMNS)
    rej = pd.DataFrame(rejects, columns=["video", "reason"])
    write_table_atomic(clips_out, clips)
    write_table_atomic(rejects_out, rej)
    log.info("clip index: %d clips (%d train, %d test) from %d videos; %d rejected",
             len(clips), (clips.split == "train").sum(), (clips.split == "test").sum(),
             clips.video.nunique(), len(rej))
    return clips


def select_clips(clips: pd.DataFrame, max_clips: int | None, seed: int) -> pd.DataFrame:
    """Up to ``max_clips`` clips, spread evenly over (camera, genre) groups, seeded."""
    if max_clips is None or len(clips) <= max_clips:
        return clips.sort_values("clip_id").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    shuffled = clips.iloc[rng.permutation(len(clips))].copy()
    shuffled["_rank"] = shuffled.groupby(["camera", "genre"]).cumcount()  # round robin over groups
    picked = shuffled.sort_values(["_rank", "clip_id"]).head(max_clips).drop(columns="_rank")
    return picked.sort_values("clip_id").reset_index(drop=True)
