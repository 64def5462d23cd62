"""Score videos with every metric of the paper: one row per video, plus I3D features for FVD.

    per video   PSNR, SSIM, LPIPS   against the ground-truth clip (frame by frame, then mean)
                CS                  CLIP image embeddings of the frames vs Wav2CLIP of the music
                2D-MM Align         kinematic beats from the video vs librosa beats of the music
                AV-Align            optical-flow peaks vs audio onset peaks
    per set     FVD                 Frechet distance of I3D features, generated vs ground truth

The same function scores the pipeline's own methods (``score_method``: a variant of
DabFusion, a baseline, or the ground truth itself) and any folder of videos
(``score_folders``, the ``dabfusion evaluate`` command), so another system's outputs are
measured exactly like ours. Pretrained feature extractors load from local files only; when
one is absent it is a seeded random init and ``Scorers.flags`` says so, and every table
built on the scores carries those flags.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .io import DataError, atomic_path, write_json_atomic, write_table_atomic

log = logging.getLogger(__name__)

QUALITY = ["psnr", "ssim", "lpips"]
ALIGNMENT = ["cs", "mm_align", "mm_align_shifted", "av_align", "motion"]


@dataclass
class Scorers:
    """The feature extractors, built once per job."""

    lpips: object
    i3d: object
    clip: object
    wav2clip: object
    sigma_seconds: float
    cs_frames: int | None

    @property
    def flags(self) -> dict:
        """Which extractors had real weights (False: seeded random init, not comparable to papers)."""
        return {"lpips_alexnet_pretrained": bool(self.lpips.pretrained), "i3d_pretrained": bool(self.i3d.pretrained),
                "clip_pretrained": bool(self.clip.pretrained), "wav2clip_pretrained": bool(self.wav2clip.pretrained)}


def load_scorers(ecfg: dict, mcfg: dict) -> Scorers:
    """Build the extractors from ``evaluation`` (weights, FVD resize, CS frames) and ``music`` settings."""
    from .metrics.clip_score import ClipImageEncoder
    from .metrics.fvd import I3DFeatures
    from .metrics.image import LPIPS
    from .music.backbones import load_wav2clip

    def local(name):
        path = ecfg["weights"][name]
        return Path(path) if path else None

    seed = ecfg["seed"]
    w2c = load_wav2clip(Path(mcfg["weights_dir"]) / mcfg["wav2clip"]["file"], mcfg["wav2clip"]["url"],
                        ecfg["require_pretrained"], seed)
    scorers = Scorers(LPIPS(local("alexnet"), seed), I3DFeatures(local("i3d"), seed, resize=ecfg["fvd_resize"]),
                      ClipImageEncoder(local("clip"), seed), w2c, ecfg["sigma_seconds"], ecfg["cs_frames"])
    missing = [k for k, v in scorers.flags.items() if not v]
    if missing and ecfg["require_pretrained"]:
        raise DataError(f"pretrained weights missing for {', '.join(missing)}: put the files named in "
                        "evaluation.weights in place, or set evaluation.require_pretrained: false")
    return scorers


def _even_frames(n: int, k: int | None) -> np.ndarray:
    return np.arange(n) if k is None or k >= n else np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _match_size(frames: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Resize (T, H, W, 3) frames to the reference's H, W (bilinear) when they differ."""
    if frames.shape[1:3] == like.shape[1:3]:
        return frames
    t = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    t = torch.nn.functional.interpolate(t, size=like.shape[1:3], mode="bilinear", align_corners=False)
    return t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def score_video(sc: Scorers, frames: np.ndarray, fps: float, audio: np.ndarray, sample_rate: int,
                music_beat_times: np.ndarray, reference: np.ndarray | None = None) -> dict:
    """Every per-video metric of one (T, H, W, 3) uint8 video.

    ``music_beat_times`` are in the video's time (0 = its first frame); beats outside the
    video count too, so a kinematic beat near an edge finds its true nearest beat.
    ``reference`` (the ground truth of the same clip) adds PSNR, SSIM and LPIPS; the frame
    counts must match (a shorter video is scored on the common frames, and says so).
    """
    from .metrics.alignment import av_align, envelope_minima, mm_align, shifted_half_period, video_motion_envelope
    from .metrics.clip_score import clip_score, music_embedding
    from .metrics.image import psnr, ssim, to_tensor

    row: dict = {"frames": len(frames)}
    if reference is not None:
        n = min(len(frames), len(reference))
        if n != len(frames) or n != len(reference):
            log.warning("generated %d frames vs reference %d: scoring the first %d", len(frames), len(reference), n)
        g, r = to_tensor(_match_size(frames[:n], reference[:n])), to_tensor(reference[:n])
        row.update(psnr=float(psnr(g, r).mean()), ssim=float(ssim(g, r).mean()), lpips=float(sc.lpips(g, r).mean()))
    sel = _even_frames(len(frames), sc.cs_frames)
    row["cs"] = clip_score(sc.clip(frames[sel]), music_embedding(sc.wav2clip, audio, sample_rate))
    env = video_motion_envelope(frames, fps)
    kin = envelope_minima(env, fps)
    row["motion"] = float(env.mean())  # the dancer's mean speed (px/s): a model that stands still scores ~0
    row["kinematic_beats"] = len(kin)
    row["mm_align"] = mm_align(kin, music_beat_times, sigma_seconds=sc.sigma_seconds)
    row["mm_align_shifted"] = mm_align(kin, shifted_half_period(music_beat_times), sigma_seconds=sc.sigma_seconds)
    row["av_align"] = av_align(frames, fps, audio, sample_rate)
    return row


class TrackBeats:
    """librosa beats of whole tracks, computed once per track (a clip's window is too short to track)."""

    def __init__(self, music: pd.DataFrame, beats_file: Path | None = None):
        self.music = music
        self.cache: dict[str, np.ndarray] = {}
        if beats_file is not None:  # written once by ``write_track_beats`` for all scoring jobs
            for r in pd.read_parquet(beats_file).itertuples():
                self.cache[r.music_id] = np.asarray(r.beats, dtype=np.float64)

    def __call__(self, music_id: str) -> np.ndarray:
        if music_id not in self.cache:
            from .aist import music_bpm
            from .beats import music_beats

            row = self.music.loc[music_id]
            samples = np.load(row.file, mmap_mode="r")
            try:
                bpm = music_bpm(music_id)  # FACT passes the track's nominal tempo as librosa's prior
            except (ValueError, KeyError, IndexError):
                bpm = None
            self.cache[music_id] = music_beats(np.asarray(samples), int(row.sample_rate), bpm)[1]
        return self.cache[music_id]


def write_track_beats(music_csv: Path, out: Path) -> pd.DataFrame:
    """The evaluation's music beats of every track, one row per track (music_id, beats in s)."""
    music = pd.read_csv(music_csv).set_index("music_id")
    beats = TrackBeats(music)
    table = pd.DataFrame({"music_id": list(music.index),
                          "beats": [beats(m).tolist() for m in music.index]})
    write_table_atomic(out, table)
    log.info("music beats of %d tracks -> %s", len(table), out)
    return table


def _i3d_features(sc: Scorers, videos: list[np.ndarray], batch: int = 8) -> np.ndarray:
    return np.concatenate([sc.i3d(np.stack(videos[i:i + batch])) for i in range(0, len(videos), batch)])


def score_method(samples_csv: Path, method: str, music_csv: Path, sc: Scorers, out_rows: Path,
                 out_features: Path, progress: bool = True, beats_file: Path | None = None) -> pd.DataFrame:
    """Score one method's videos (a ``samples.csv`` of the sampling or baseline rules).

    ``method == "gt"`` scores the ground-truth clips of that manifest themselves (the
    alignment of real dance; no PSNR etc.). Writes one row per video and an ``.npz`` with
    the I3D features of the generated and of the ground-truth videos, in row order.
    ``beats_file`` (from ``write_track_beats``) saves each job from tracking the beats again.
    """
    from tqdm import tqdm

    from .frames import load_clip
    from .sampling import music_segment

    started = time.perf_counter()
    samples = pd.read_csv(samples_csv)
    if samples.empty:
        raise DataError(f"{samples_csv}: no videos to score")
    music = pd.read_csv(music_csv).set_index("music_id")
    beats = TrackBeats(music, beats_file)
    rows, gen_videos, gt_videos = [], [], []
    for s in tqdm(samples.itertuples(), total=len(samples), desc=f"scoring {method}", disable=not progress,
                  mininterval=10):
        gt = load_clip(s.frames_file, int(s.start_frame), int(s.n_frames))
        if method == "gt":
            video = gt
        elif str(s.generated_frames).endswith(".mp4"):  # another system's video file
            video = read_video(Path(s.generated_frames))[0]
        else:
            video = np.load(s.generated_frames)
        audio, sr = music_segment(music, s.music_id, s.music_start, s.music_end)
        row = score_video(sc, video, float(s.fps), audio, sr, beats(s.music_id) - s.music_start,
                          None if method == "gt" else gt)
        rows.append({"method": method, "clip_id": s.clip_id, "camera": s.camera, "genre": s.genre,
                     "music_id": s.music_id, "fps": s.fps, **row})
        gen_videos.append(video)
        gt_videos.append(gt)
    table = pd.DataFrame(rows)
    feats_gen = _i3d_features(sc, gen_videos)
    feats_gt = feats_gen if method == "gt" else _i3d_features(sc, gt_videos)
    with atomic_path(out_features) as tmp:
        np.savez(tmp, generated=feats_gen, ground_truth=feats_gt, clip_id=table.clip_id.to_numpy(dtype=str))
    write_table_atomic(out_rows, table)
    meta = {"method": method, "videos": len(table), "frames": int(table.frames.iloc[0]),
            "fps": float(table.fps.iloc[0]), "fvd_resize": getattr(sc.i3d, "resize", None),
            "sigma_seconds": sc.sigma_seconds, "cs_frames": sc.cs_frames, **sc.flags,
            "i3d_source": sc.i3d.source, "clip_source": sc.clip.source, "seconds": time.perf_counter() - started}
    write_json_atomic(Path(out_rows).with_suffix(".json"), meta)
    log.info("scored %d %s videos in %.1f s (%s)", len(table), method, meta["seconds"],
             ", ".join(f"{k}={v}" for k, v in sc.flags.items()))
    return table


def external_manifest(reference_samples: Path, folder: Path, out_manifest: Path) -> pd.DataFrame:
    """Pair another system's ``{folder}/{clip_id}.mp4`` with DabFusion's test clips, for Table 1."""
    clips = pd.read_csv(reference_samples)
    videos = [Path(folder) / f"{c}.mp4" for c in clips.clip_id]
    missing = [str(v) for v in videos if not v.exists()]
    if missing:
        raise DataError(f"{folder}: {len(missing)} of {len(videos)} test clips have no video, e.g. {missing[0]}; "
                        f"name one video per clip of {reference_samples} as {{clip_id}}.mp4")
    out = clips.assign(generated_frames=[str(v) for v in videos], generated_video=[str(v) for v in videos],
                       sampler="external", steps=0)
    write_table_atomic(out_manifest, out)
    return out


# --- any folder of videos (dabfusion evaluate) ------------------------------------------------
def read_video(path: Path) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 frames and fps of a video file; a clear error when it cannot be decoded."""
    import av

    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate)
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    except Exception as exc:  # PyAV raises many error types for corrupt input
        raise DataError(f"{path}: cannot decode video ({exc}); is it a complete video file?") from exc
    return frames, fps


def _read_music(video: Path, music: Path | None) -> tuple[np.ndarray, int]:
    from .io import decode_audio, read_wav

    if music is None:
        return decode_audio(video)
    if music.is_dir():
        hits = sorted(music.glob(f"{video.stem}.*"))
        if not hits:
            raise DataError(f"{music}: no music file named {video.stem}.* for {video}")
        music = hits[0]
    if music.suffix.lower() == ".wav":
        return read_wav(music)
    import librosa

    samples, sr = librosa.load(str(music), sr=None, mono=True)
    return samples, int(sr)


def score_folders(generated: Path, reference: Path, music: Path | None, sc: Scorers, out_csv: Path,
                  progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Score every ``generated/*.mp4`` against ``reference/<same name>.mp4``; returns rows and a summary.

    Music comes from the reference video's audio track, else from ``music`` (a file, or a
    folder with one file per video named like it). FVD is over all pairs.
    """
    from tqdm import tqdm

    from .beats import music_beats
    from .metrics.fvd import fvd

    gen_files = sorted(Path(generated).glob("*.mp4"))
    if not gen_files:
        raise DataError(f"{generated}: no .mp4 videos to evaluate")
    rows, gen_videos, ref_videos = [], [], []
    for g in tqdm(gen_files, desc="scoring", disable=not progress):
        r = Path(reference) / g.name
        if not r.exists():
            raise DataError(f"{g}: no reference video {r} (generated and reference videos are paired by name)")
        frames, fps = read_video(g)
        ref, ref_fps = read_video(r)
        if abs(fps - ref_fps) > 0.01:
            raise DataError(f"{g}: {fps:g} fps but its reference {r} has {ref_fps:g} fps; resample one of them")
        try:
            audio, sr = _read_music(r, music)
        except DataError:
            audio, sr = _read_music(g, music)
        beats = music_beats(audio, sr)[1]
        rows.append({"video": g.stem, "fps": fps, **score_video(sc, frames, fps, audio, sr, beats, ref)})
        n = min(len(frames), len(ref))
        gen_videos.append(_match_size(frames[:n], ref[:n]))
        ref_videos.append(ref[:n])
    table = pd.DataFrame(rows)
    n = min(len(v) for v in gen_videos + ref_videos)
    summary = {k: float(table[k].mean()) for k in QUALITY + ALIGNMENT}
    if len(table) >= 2:
        summary["fvd"] = fvd(_i3d_features(sc, [v[:n] for v in ref_videos]),
                             _i3d_features(sc, [v[:n] for v in gen_videos]))
    else:
        summary["fvd"] = None  # a covariance needs two videos; documented, not NaN
    summary.update(videos=len(table), frames=n, **sc.flags)
    write_table_atomic(out_csv, table)
    write_json_atomic(Path(out_csv).with_suffix(".json"), summary)
    return table, summary
