"""What the Snakemake report shows besides the tables: side-by-side videos, loss curves, rule times."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_path, write_table_atomic, write_video

log = logging.getLogger(__name__)


def pick_spread(samples: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` clips covering as many cameras and genres as possible (round robin)."""
    order = samples.sort_values("clip_id").copy()
    order["_c"] = order.groupby("camera").cumcount()
    order["_g"] = order.groupby("genre").cumcount()
    return order.sort_values(["_c", "_g", "clip_id"]).head(n).drop(columns=["_c", "_g"])


def side_by_side(samples_csv: Path, music_csv: Path, n: int, out_dir: Path) -> list[Path]:
    """Ground truth | generated, with the clip's music, for ``n`` clips spread over cameras and genres."""
    from .frames import load_clip
    from .sampling import music_segment

    samples = pd.read_csv(samples_csv)
    music = pd.read_csv(music_csv).set_index("music_id")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for c in pick_spread(samples, n).itertuples():
        gt = load_clip(c.frames_file, int(c.start_frame), int(c.n_frames))
        gen = np.load(c.generated_frames)
        gap = np.full((len(gt), gt.shape[1], 4, 3), 255, np.uint8)
        audio, sr = music_segment(music, c.music_id, c.music_start, c.music_end)
        out = out_dir / f"{c.camera}_{c.genre}_{c.clip_id}.mp4"
        write_video(out, np.concatenate([gt, gap, gen], axis=2), int(round(c.fps)), audio, sr)
        written.append(out)
    return written


def runtime_table(benchmark_files: list[Path], out_csv: Path) -> pd.DataFrame:
    """Snakemake's per-job ``benchmark:`` files as one table (seconds, peak memory), slowest first.

    Two summary rows: the sum over jobs, and the wall time they spanned (each file is written
    when its job ends, so a job ran from the file's mtime minus its seconds to its mtime).
    """
    rows, spans = [], []
    for f in sorted(map(Path, benchmark_files)):
        b = pd.read_csv(f, sep="\t")
        rows.append({"job": f.stem, "seconds": float(b.s.mean()), "max_rss_mb": float(b.max_rss.mean()),
                     "cpu_seconds": float(b.cpu_time.mean())})
        end = f.stat().st_mtime
        spans.append((end - float(b.s.iloc[-1]), end))
    table = pd.DataFrame(rows, columns=["job", "seconds", "max_rss_mb", "cpu_seconds"])
    table = table.sort_values("seconds", ascending=False).reset_index(drop=True)
    summary = [{"job": "TOTAL (sum of jobs)", "seconds": table.seconds.sum(),
                "max_rss_mb": table.max_rss_mb.max(), "cpu_seconds": table.cpu_seconds.sum()}]
    if spans:
        summary.append({"job": "WALL (first benchmarked job start to last end)",
                        "seconds": max(e for _, e in spans) - min(s for s, _ in spans),
                        "max_rss_mb": table.max_rss_mb.max(), "cpu_seconds": table.cpu_seconds.sum()})
    table = pd.concat([table, pd.DataFrame(summary)], ignore_index=True)
    write_table_atomic(out_csv, table)
    return table


def loss_curves(loss_files: dict[str, Path], out_png: Path) -> None:
    """One panel per training (stage 1, each stage-2 variant): loss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(loss_files), figsize=(3.2 * len(loss_files), 2.8), squeeze=False)
    for ax, (name, path) in zip(axes[0], loss_files.items()):
        loss = pd.read_csv(path)
        x = loss["epoch"] if "epoch" in loss else np.arange(len(loss))
        for col in [c for c in loss.columns if c not in ("epoch", "lr", "seconds", "step")][:3]:
            ax.plot(x, loss[col], label=col)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def figure6_plan(config: dict, n: int = 3) -> tuple[list[str], list[str]]:
    """Dancers and tracks of Figure 6 (``figure6`` in config; null: ``n`` of each).

    Dancers are rendered as photos by the synthetic renderer; on the synthetic dataset they
    must be ones it never rendered (not in the first ``dancers_per_genre`` of a used genre).
    Tracks are the config's test tracks (the music held out of training).
    """
    from .aist import GENRES, test_music_of
    from .config import ConfigError

    f6 = config["figure6"]
    genres = config["synthetic"]["genres"] if config["source"] == "synthetic" else list(GENRES)
    seen = set()
    if config["source"] == "synthetic":
        seen = {d for g in genres for d in GENRES[g][1][:config["synthetic"]["dancers_per_genre"]]}
    ordered = [*genres, *[g for g in GENRES if g not in genres]]
    unseen = [d for g in ordered for d in GENRES[g][1] if d not in seen]
    dancers = f6["dancers"] or unseen[:n]
    trained_on = sorted(set(dancers) & seen)
    if trained_on:
        raise ConfigError(f"figure6.dancers: {trained_on} are in the synthetic training data "
                          f"(dancers_per_genre: {config['synthetic']['dancers_per_genre']}); "
                          f"use dancers never rendered, e.g. {unseen[:n]}")
    test_tracks = [test_music_of(g) for g in genres]
    tracks = f6["tracks"] or test_tracks[:n]
    not_test = [t for t in tracks if t not in test_tracks]
    if not_test:
        raise ConfigError(f"figure6.tracks: {not_test} are not test tracks of this config; choose from {test_tracks}")
    return list(dancers), list(tracks)


#: pose landmarks joined in the overlay: shoulders, arms, torso, legs (MediaPipe's numbering)
BONES = [(11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (23, 25), (25, 27),
         (24, 26), (26, 28), (27, 31), (28, 32)]


def person_overlay(photo: np.ndarray, person, height: int) -> np.ndarray:
    """The photo at ``height`` px with what `generate` used drawn on it: the mask tinted, the pose's
    visible landmarks and bones (the feet line included). (height, W, 3) uint8."""
    from PIL import Image, ImageDraw

    from .person import VISIBLE

    tinted = photo.astype(np.float32)
    tinted[person.mask] = 0.55 * tinted[person.mask] + 0.45 * np.array([255.0, 60.0, 60.0])
    scale = height / photo.shape[0]
    im = Image.fromarray(tinted.round().astype(np.uint8)).resize((max(1, round(photo.shape[1] * scale)), height),
                                                                 Image.LANCZOS)
    if person.landmarks is not None:
        d = ImageDraw.Draw(im)
        lm = person.landmarks
        for a, b in BONES:
            if lm[a, 2] >= VISIBLE and lm[b, 2] >= VISIBLE:
                d.line([tuple(lm[a, :2] * scale), tuple(lm[b, :2] * scale)], fill=(40, 220, 40), width=1)
        for x, y, v in lm:
            if v >= VISIBLE:
                d.point((x * scale, y * scale), fill=(255, 255, 0))
        feet = person.extent()[3] * scale
        d.line([(0, feet), (im.width, feet)], fill=(60, 120, 255), width=1)
    return np.asarray(im)


def unseen_dancers(bundle_dir: Path, photos: dict[str, Path], music_csv: Path, tracks: list[str], seconds: float,
                   seed: int, out_dir: Path, sheet_png: Path, table_csv: Path, columns: int = 6) -> pd.DataFrame:
    """The paper's Figure 6: people the model never saw, each dancing to every track.

    Each photo goes through what `dabfusion generate` does (find, cut out, place in a studio;
    camera by camera in turn), one mp4 per (dancer, track) with its music. The sheet has one
    row per video: the photo with the mask and pose used (``person_overlay``), the reference frame,
    then ``columns`` frames spread over the dance.
    """
    from PIL import Image, ImageDraw
    from tqdm import tqdm

    from .generate import Generator, dance_length, load_bundle, prepare_reference
    from .metrics.alignment import video_motion_envelope

    bundle = load_bundle(bundle_dir)
    generator = Generator(bundle, device=bundle.meta["sampling"].get("device", "auto"))
    overall = bundle.meta.get("training_motion")
    by_camera = bundle.meta.get("training_motion_by_camera") or {}
    if overall and not by_camera:
        log.warning("figure 6: %s has no training motion per camera (exported before it was measured); "
                    "motion_vs_training compares with every camera's dancers", bundle_dir)
    music = pd.read_csv(music_csv).set_index("music_id")
    missing = [t for t in tracks if t not in music.index]
    if missing:
        raise ValueError(f"figure6.tracks: {missing} not in {music_csv}; choose from {sorted(music.index)}")
    s, fps = bundle.image_size, bundle.fps
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, sheet = [], []
    pairs = [(d, t) for d in photos for t in tracks]
    for i, (dancer, track) in enumerate(tqdm(pairs, desc="figure 6", unit="video")):
        camera = bundle.meta["cameras"][list(photos).index(dancer) % len(bundle.meta["cameras"])]
        prepared = prepare_reference(bundle, photos[dancer], background_from=camera)
        ref = prepared.frame
        samples, sr = np.load(music.loc[track, "file"]), int(music.loc[track, "sample_rate"])
        n_total = dance_length(samples, sr, fps, generator.sampler.n_frames, seconds, f"{track} ({music_csv})")
        times = {}
        video = generator.dance(ref, samples, sr, n_total, seed + i, times=times)
        speed = float(video_motion_envelope(video, fps).mean())
        yardstick = by_camera.get(camera) or overall
        out = out_dir / f"{dancer}_{track}_{camera}.mp4"
        write_video(out, video, int(round(fps)), samples[:int(round(n_total / fps * sr))], sr)
        rows.append({"dancer": dancer, "track": track, "camera": camera, "frames": len(video),
                     "seconds": len(video) / fps, "windows": times["windows"],
                     "motion_seconds": round(times["motion"], 2), "render_seconds": round(times["render"], 2),
                     "mean_frame_change": float(np.abs(np.diff(video.astype(np.float32), axis=0)).mean()),
                     # the dancer's speed against the training dancers' seen by the same camera
                     # (>= 0.5: visibly dancing), and against every camera's (a yardstick biased by
                     # the cameras' framing: c09's dancers are larger, so faster in pixels)
                     "motion_vs_training": speed / yardstick if yardstick else None,
                     "motion_vs_all_cameras": speed / overall if overall else None,
                     "video": str(out)})
        photo = person_overlay(prepared.photo, prepared.person, s)
        picks = np.linspace(0, len(video) - 1, columns).round().astype(int)
        gap = np.full((s, 4, 3), 255, np.uint8)
        sheet.append(np.concatenate([photo, gap, ref, gap, *video[picks]], axis=1))
    width = max(r.shape[1] for r in sheet)  # photos of other shapes make rows of other widths
    strip = Image.fromarray(np.concatenate([np.pad(r, ((0, 14), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                            for r in sheet], axis=0))
    draw = ImageDraw.Draw(strip)
    for k, r in enumerate(rows):
        motion = ("" if r["motion_vs_training"] is None
                  else f", motion {r['motion_vs_training']:.2f} x its camera's training dancers'")
        draw.text((2, k * (s + 14) + s + 1),
                  f"{r['dancer']} (never seen) dancing to {r['track']}, camera {r['camera']}{motion}", fill=(0, 0, 0))
    with atomic_path(sheet_png) as tmp:
        strip.save(tmp, format="png")
    table = pd.DataFrame(rows)
    write_table_atomic(table_csv, table)
    log.info("figure 6: %d videos of %d unseen dancers in %s", len(rows), len(photos), out_dir)
    return table
