"""Generate the synthetic AIST++-shaped dataset in the same raw layout as the real download.

Layout under ``root`` (identical to what the AIST++ download rules write, plus ``truth/``,
which only a generator can know):

    videos/{video}.mp4            H.264 + the track's music as AAC audio
    music/{music_id}.wav          16-bit PCM mono
    keypoints2d/{sequence}.pkl    {'keypoints2d': (9, N, 17, 3), 'det_scores': (9, N), 'timestamps': (N,) ms}
    cameras/setting1.json, cameras/mapping.txt
    splits/crossmodal_{train,test}.txt   sequence names (cAll), split by music as in the paper
    ignore_list.txt, video_list.txt
    truth/music.csv, truth/music_beats.csv, truth/kinematic_beats.csv, truth/sequences.csv,
    truth/videos.csv              per video: SHA-256 of its rendered frames (also in the mp4's tags)
    manifest.json                 written last: its presence means the dataset is complete
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..aist import CAMERAS, GENRES, VideoName, split_of_music, test_music_of
from ..io import (
    dump_numpy_pickle,
    read_video_metadata,
    write_json_atomic,
    write_table_atomic,
    write_text_atomic,
    write_video,
    write_wav,
)
from .body import Dancer, Skeleton, forward_kinematics, make_dancer
from .choreo import Dance, choreograph
from .music import synthesize_track
from .render import body_parts, figure_points, make_camera, render_background, render_frame

log = logging.getLogger(__name__)
GENERATED_DIRS = ("videos", "music", "keypoints2d", "cameras", "splits", "truth")
FRAMES_TAG = "dabfusion_frames_sha256"  # the mp4 tag holding the digest of the frames before encoding


@dataclass(frozen=True)
class SequencePlan:
    name: VideoName  # camera 'cAll'
    seconds: float
    choreo_number: int

    @property
    def sequence(self) -> str:
        return str(self.name)


def plan_tracks(cfg: dict) -> list[str]:
    """Music ids: per genre its test track and the ``tracks_per_genre - 1`` ids after it."""
    out = []
    for genre in cfg["genres"]:
        k0 = int(test_music_of(genre)[3])
        out += [f"m{genre}{(k0 + i) % 6}" for i in range(cfg["tracks_per_genre"])]
    return out


def plan_sequences(cfg: dict) -> list[SequencePlan]:
    """Every (track, dancer) pair dances; which situations is set by ``situation_plan``.

    ``alternate``: each pair dances one situation, alternating along tracks and dancers,
    so every track and every dancer gets both basic and advanced dances. ``all``: each pair
    dances every listed situation.
    """
    plans = []
    for genre in cfg["genres"]:
        dancers = GENRES[genre][1][: cfg["dancers_per_genre"]]
        tracks = [m for m in plan_tracks(cfg) if m[1:3] == genre]
        for ti, music_id in enumerate(tracks):
            for di, dancer in enumerate(dancers):
                sits = cfg["situations"]
                if cfg["situation_plan"] == "alternate":
                    sits = [sits[(ti + di) % len(sits)]]
                for situation in sits:
                    number = (ti * len(dancers) + di) % 10 + 1
                    name = VideoName(genre, situation, "cAll", dancer, music_id, f"ch{number:02d}")
                    plans.append(SequencePlan(name, float(cfg["seconds"][situation]), number))
    return plans


def config_digest(cfg: dict) -> str:
    """Identifies what a generation produces: its config and the generator's own code."""
    code = hashlib.sha256()
    for src in sorted(Path(__file__).parent.glob("*.py")):
        code.update(src.read_bytes())
    blob = json.dumps({"cfg": cfg, "version": __version__, "code": code.hexdigest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class SequenceMotion:
    """Everything about one performance that does not depend on the camera."""

    dance: Dance
    dancer: Dancer
    skeleton: Skeleton
    points: np.ndarray  # (T, 24, 3) renderer points
    parts: list
    n_frames: int


def sequence_motion(plan: SequencePlan, cfg: dict, beat_times: np.ndarray) -> SequenceMotion:
    name = plan.name
    n_frames = int(round(plan.seconds * cfg["fps"]))
    dance = choreograph(
        name.genre, name.situation, plan.choreo_number, beat_times, n_frames, cfg["fps"], cfg["seed"],
        cfg["timing_jitter"], plan.sequence,
    )
    dancer = make_dancer(name.dancer, cfg["seed"])
    sk = forward_kinematics(dance.pose, dancer)
    parts, _ = body_parts(dancer)
    return SequenceMotion(dance, dancer, sk, figure_points(sk, dancer), parts, n_frames)


def render_video_frames(motion: SequenceMotion, camera: str, cfg: dict) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one performance seen by one camera."""
    cam = make_camera(camera, cfg["width"], cfg["height"])
    bg, floor_xz = render_background(cam)
    return np.stack([render_frame(cam, bg, floor_xz, motion.points[i], motion.parts, motion.dancer)
                     for i in range(motion.n_frames)])


def dancer_photo(dancer_id: str, seed: int) -> np.ndarray:
    """A front-view still of a dancer standing on a plain backdrop, as a user's photo (Figure 6)."""
    from .choreo import neutral_pose
    from .render import render_portrait

    return render_portrait(make_dancer(dancer_id, seed), neutral_pose())


def keypoints_all_views(skeleton: Skeleton, cfg: dict) -> np.ndarray:
    """(9, T, 17, 3) AIST++-style 2D keypoints: pixel x, y and 1/0 for inside/outside the frame."""
    w, h = cfg["width"], cfg["height"]
    t = skeleton.joints.shape[0]
    kp = np.zeros((len(CAMERAS), t, 17, 3), dtype=np.float32)
    for vi, cam_name in enumerate(CAMERAS):
        xy, z = make_camera(cam_name, w, h).project(skeleton.joints)
        inside = (z > 0) & (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
        kp[vi, ..., :2] = xy
        kp[vi, ..., 2] = inside
    return kp


def _render_sequence(args) -> dict:
    """Worker: keypoints and every configured camera's video of one sequence; returns truth rows.

    BLAS runs single-threaded here: a multi-threaded GEMM may round differently with the
    machine's load, which changed a pixel now and then and so the video's bytes.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _render_sequence_body(args)


def _render_sequence_body(args) -> dict:
    plan, cfg, root, tracks_dir, skip_existing = args
    root = Path(root)
    name = plan.name
    samples = np.load(Path(tracks_dir) / f"{name.music_id}.npy")
    beats = np.load(Path(tracks_dir) / f"{name.music_id}.beats.npy")
    sr = cfg["sample_rate"]
    motion = sequence_motion(plan, cfg, beats)
    pkl = root / "keypoints2d" / f"{plan.sequence}.pkl"
    if not (skip_existing and pkl.exists()):
        kp = keypoints_all_views(motion.skeleton, cfg)
        dump_numpy_pickle(pkl, {
            "keypoints2d": kp,
            "det_scores": kp[..., 2].mean(axis=-1),
            "timestamps": np.round(np.arange(motion.n_frames) * 1000.0 / cfg["fps"]).astype(np.int64),
        })
    audio = samples[: int(round(plan.seconds * sr))]
    for cam_name in cfg["cameras"]:
        out = root / "videos" / f"{name.with_camera(cam_name)}.mp4"
        if skip_existing and out.exists():
            continue
        frames = render_video_frames(motion, cam_name, cfg)
        # the digest of what was rendered, so a reproducibility check can tell the renderer
        # from the encoder
        digest = hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()
        write_video(out, frames, cfg["fps"], audio=audio, sample_rate=sr, crf=cfg["crf"],
                    metadata={FRAMES_TAG: digest})
    keep = motion.dance.key_times < plan.seconds
    return {
        "sequence": plan.sequence,
        "kinematic_beats": motion.dance.key_times[keep].tolist(),
        "key_beats": motion.dance.key_beats[keep].tolist(),
        "n_frames": motion.n_frames,
    }


def generate(cfg: dict, root: str | os.PathLike, workers: int = 1, progress: bool = True) -> dict:
    """Write the whole dataset under ``root``; returns the manifest. Resumable and atomic per file.

    A run interrupted part-way leaves complete files only (each is renamed into place);
    running again with the same config keeps them and renders the rest. A different
    config starts over.
    """
    from tqdm import tqdm

    root = Path(root)
    started = time.time()
    digest = config_digest(cfg)
    state_file = root / ".generator-state.json"
    manifest_file = root / "manifest.json"
    skip_existing = state_file.exists() and json.loads(state_file.read_text()).get("digest") == digest
    if manifest_file.exists():
        manifest_file.unlink()
    if not skip_existing:
        for sub in GENERATED_DIRS:
            shutil.rmtree(root / sub, ignore_errors=True)
        write_json_atomic(state_file, {"digest": digest})
    else:
        log.info("resuming an interrupted generation in %s (same config)", root)

    # music first: every video of a track shares it
    music_ids = plan_tracks(cfg)
    plans = plan_sequences(cfg)
    longest = max(p.seconds for p in plans)
    tracks_dir = root / "truth" / ".tracks"
    tracks_dir.mkdir(parents=True, exist_ok=True)
    music_rows, beat_rows = [], []
    for music_id in music_ids:
        tr = synthesize_track(music_id, longest + 1.0, cfg["sample_rate"], cfg["seed"])
        write_wav(root / "music" / f"{music_id}.wav", tr.samples, tr.sample_rate)
        np.save(tracks_dir / f"{music_id}.npy", tr.samples)
        np.save(tracks_dir / f"{music_id}.beats.npy", tr.beat_times)
        music_rows.append({
            "music_id": music_id, "genre": music_id[1:3], "bpm": tr.bpm, "first_beat": tr.first_beat,
            "seconds": len(tr.samples) / tr.sample_rate, "split": split_of_music(music_id),
        })
        beat_rows += [{"music_id": music_id, "beat": i, "time": float(t)} for i, t in enumerate(tr.beat_times)]
    log.info("synthesised %d music tracks", len(music_ids))

    jobs = [(p, cfg, str(root), str(tracks_dir), skip_existing) for p in plans]
    n_videos = len(plans) * len(cfg["cameras"])
    log.info("rendering %d sequences x %d cameras = %d videos with %d worker(s)",
             len(plans), len(cfg["cameras"]), n_videos, workers)
    bar = tqdm(total=len(plans), desc="sequences", unit="seq", disable=not progress)
    results = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for res in pool.imap(_render_sequence, jobs):
                results.append(res)
                bar.update()
    else:
        for job in jobs:
            results.append(_render_sequence(job))
            bar.update()
    bar.close()
    shutil.rmtree(tracks_dir, ignore_errors=True)

    by_seq = {r["sequence"]: r for r in results}
    rng = np.random.default_rng([cfg["seed"], 4242])
    train = [p.sequence for p in plans if split_of_music(p.name.music_id) == "train"]
    ignored = sorted(rng.choice(train, size=min(cfg["ignored_sequences"], len(train)), replace=False).tolist())
    seq_rows, kin_rows = [], []
    for p in plans:
        r = by_seq[p.sequence]
        seq_rows.append({
            "sequence": p.sequence, "genre": p.name.genre, "situation": p.name.situation,
            "dancer": p.name.dancer, "music_id": p.name.music_id, "choreo": p.name.choreo,
            "split": split_of_music(p.name.music_id), "fps": cfg["fps"], "n_frames": r["n_frames"],
            "seconds": p.seconds, "ignored": p.sequence in ignored,
        })
        kin_rows += [{"sequence": p.sequence, "music_beat": b, "time": t}
                     for b, t in zip(r["key_beats"], r["kinematic_beats"])]

    write_table_atomic(root / "truth" / "music.csv", pd.DataFrame(music_rows))
    write_table_atomic(root / "truth" / "music_beats.csv", pd.DataFrame(beat_rows))
    write_table_atomic(root / "truth" / "kinematic_beats.csv", pd.DataFrame(kin_rows))
    write_table_atomic(root / "truth" / "sequences.csv", pd.DataFrame(seq_rows))
    videos = [str(p.name.with_camera(c)) for p in plans for c in cfg["cameras"]]
    digests = [read_video_metadata(root / "videos" / f"{v}.mp4").get(FRAMES_TAG, "") for v in videos]
    write_table_atomic(root / "truth" / "videos.csv", pd.DataFrame({"video": videos, "frames_sha256": digests}))
    for split in ("train", "test"):
        names = [p.sequence for p in plans if split_of_music(p.name.music_id) == split]
        write_text_atomic(root / "splits" / f"crossmodal_{split}.txt", "".join(f"{n}\n" for n in names))
    write_text_atomic(root / "ignore_list.txt", "".join(f"{n}\n" for n in ignored))
    write_text_atomic(root / "video_list.txt", "".join(f"{v}\n" for v in videos))
    cams = [make_camera(c, cfg["width"], cfg["height"]).as_aist_json() for c in CAMERAS]
    write_json_atomic(root / "cameras" / "setting1.json", cams)
    write_text_atomic(root / "cameras" / "mapping.txt", "".join(f"{p.sequence} setting1\n" for p in plans))

    manifest = {
        "source": "synthetic",
        "generator_version": __version__,
        "config_digest": digest,
        "config": cfg,
        "n_music": len(music_ids),
        "n_sequences": len(plans),
        "n_videos": len(videos),
        "n_ignored": len(ignored),
        "seconds_elapsed": round(time.time() - started, 2),
        "note": "Synthetic AIST++-shaped data rendered by dabfusion.synth; not the real AIST++.",
    }
    write_json_atomic(manifest_file, manifest)
    log.info("wrote %d videos, %d tracks, %d sequences to %s in %.1f s",
             len(videos), len(music_ids), len(plans), root, manifest["seconds_elapsed"])
    return manifest

