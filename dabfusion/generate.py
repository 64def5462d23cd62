"""`dabfusion generate`: a photo of anyone and a song -> that person dancing to it (paper 4.4).

    1 person   load, detect, segment, composite on a training background   -> reference (S, S, 3)
    2 music    any audio file -> windows of N frames -> CLAP / Wav2CLIP / rhythm -> adapters -> e
    3 motion   latent flows window by window (``chain_flows``)
    4 render   warp the reference by every flow, decode -> mp4 with the music muxed

A generator bundle (rule ``export_generator``, ``results/generator/``) holds everything this
needs: both stages, the adapters, the settings, where training dancers stand and the empty
studio of each camera. Backbones without weights are the same seeded random inits as in
training (the same ``music`` settings), so they embed a new song as they embedded the data.

Long music (``chain_flows``): every window's flows warp the *original* reference (a latent
flow is relative to it), and each window after the first continues the last ``overlap``
frames of the one before (``samplers.with_known_frames``). The paper's way, restarting each
window from the last generated frame (``method="last_frame"``), re-encodes a generated frame
every window, so its errors pile up; benchmarks/bench_chaining.py measures both.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import DataError, write_json_atomic

log = logging.getLogger(__name__)
BUNDLE_FILE = "generator.json"


@dataclass
class Bundle:
    root: Path
    meta: dict

    def path(self, key: str) -> Path:
        return self.root / self.meta["files"][key]

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])


# without --checkpoint: the bench's bundle (presets/bench.yaml's results_dir) when `make bench` has
# made it, else the demo's; the demo's stage 2 trains 15 times shorter and its unseen dancers move less
DEFAULT_BUNDLES = (Path("results/bench/generator"), Path("results/generator"))


def default_bundle(candidates: tuple[Path, ...] = DEFAULT_BUNDLES) -> Path:
    """The first of ``candidates`` that holds a bundle (the last if none does, for its error).

    Says which it took, and for a bundle that is not the first, how much the unseen dancers of
    its run's Figure 6 moved (``figure6/figure6.csv`` beside it), so nobody mistakes the demo's
    bundle for the one that dances."""
    import pandas as pd

    chosen = next((c for c in candidates if (c / BUNDLE_FILE).exists()), candidates[-1])
    log.info("generator bundle: %s (give another with --checkpoint)", chosen)
    if chosen != candidates[0] and (chosen / BUNDLE_FILE).exists():
        fig6 = chosen.parent / "figure6" / "figure6.csv"
        motion = pd.read_csv(fig6).get("motion_vs_training") if fig6.exists() else None
        moved = "" if motion is None else (f"; in its run's Figure 6 the unseen dancers moved {motion.mean():.2f} "
                                           f"of the training dancers' motion ({fig6})")
        log.warning("%s is the demo's bundle%s. `make bench` trains the one that dances (%s), which "
                    "generate then uses by default", chosen, moved, candidates[0])
    return chosen


def load_bundle(root: str | Path) -> Bundle:
    root = Path(root)
    f = root / BUNDLE_FILE
    if not f.exists():
        raise DataError(f"{root}: no {BUNDLE_FILE}; build the generator with "
                        f"`snakemake results/generator/{BUNDLE_FILE}` "
                        "or give --checkpoint the folder that rule wrote")
    meta = json.loads(f.read_text())
    missing = [str(root / p) for p in meta["files"].values() if not (root / p).exists()]
    if missing:
        raise DataError(f"{root}: the generator bundle is incomplete, {missing[0]} is missing; rebuild it")
    return Bundle(root, meta)


def export_bundle(out_dir: Path, files: dict[str, Path], clips_file: Path, fps: float, image_size: int,
                  n_frames: int, music: dict, sampling: dict) -> Path:
    """Copy the models; measure each camera's empty studio and where its dancers stand from
    training frames; write the settings. generator.json is written last."""
    import pandas as pd
    from PIL import Image

    from .person import camera_background, measure_placement

    clips = pd.read_parquet(clips_file)
    views = training_views(clips)
    backgrounds = {cam: camera_background(v) for cam, v in views.items()}
    placement = {cam: measure_placement(views[cam], backgrounds[cam]).__dict__ for cam in views}
    out_dir = Path(out_dir)
    (out_dir / "backgrounds").mkdir(parents=True, exist_ok=True)
    names = {}
    for key, src in files.items():
        names[key] = f"{key}{Path(src).suffix}"
        shutil.copyfile(src, out_dir / names[key])
    for cam, img in backgrounds.items():
        Image.fromarray(img).save(out_dir / "backgrounds" / f"{cam}.png")
        names[f"background_{cam}"] = f"backgrounds/{cam}.png"
    meta = {"fps": fps, "image_size": image_size, "n_frames": n_frames, "music": music, "sampling": sampling,
            "placement": placement, "cameras": sorted(backgrounds), "files": names,
            "training_motion": training_motion(clips),
            "training_motion_by_camera": {cam: training_motion(clips, max_clips=20, camera=cam)
                                          for cam in sorted(backgrounds)}}
    log.info("generator bundle: placement per camera %s", json.dumps(placement))
    write_json_atomic(out_dir / BUNDLE_FILE, meta)
    return out_dir / BUNDLE_FILE


def training_motion(clips, max_clips: int = 40, seed: int = 0, camera: str | None = None) -> float:
    """Mean dancer speed (pixels / s, ``video_motion_envelope``) of up to ``max_clips`` training clips,
    of every camera or of one: how much the dancers the model learned from move, the yardstick of
    Figure 6's motion. The speed is in pixels, so it grows with the dancer's size in the frame, which
    differs from camera to camera (c09 stands closer); Figure 6 compares each video with its camera's."""
    from .frames import load_clip
    from .metrics.alignment import video_motion_envelope

    train = clips[clips.split == "train"]
    if camera is not None:
        train = train[train.camera.str.lower() == camera]
    pick = train.iloc[np.random.default_rng(seed).permutation(len(train))[:max_clips]]
    videos = (load_clip(c.frames_file, int(c.start_frame), int(c.n_frames)) for c in pick.itertuples())
    return float(np.mean([video_motion_envelope(v, c.fps).mean() for v, c in zip(videos, pick.itertuples())]))


def training_views(clips, per_camera: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """First frames of up to ``per_camera`` training clips of each camera, from different videos."""
    from .frames import load_clip

    rng = np.random.default_rng(seed)
    out = {}
    train = clips[clips.split == "train"].drop_duplicates("video")
    for cam, group in train.groupby("camera"):
        pick = group.iloc[rng.permutation(len(group))[:per_camera]]
        out[str(cam).lower()] = np.stack([load_clip(c.frames_file, int(c.start_frame), 1)[0]
                                          for c in pick.itertuples()])
    return out


@dataclass
class Reference:
    """What a dance starts from: the model's S-pixel frame, the frame the video is rendered from
    (R pixels, ``--size``), and the person found in the photo (for figures)."""

    frame: np.ndarray  # (S, S, 3) uint8
    hires: np.ndarray  # (R, R, 3) uint8; R = S when rendering at the model's size
    person: object  # person.Person, in the photo's pixels
    photo: np.ndarray  # (H, W, 3) uint8


MAX_RENDER_SIZE = 512


def prepare_reference(bundle: Bundle, image_path: Path, background: Path | None = None,
                      background_from: str | None = None, weights_dir: Path | None = None,
                      keep_background: bool = False, size: int | None = None) -> Reference:
    """The person of ``image_path`` at the training dancers' place, on the camera's studio, on the
    user's ``background`` image, or in the photo's own scene with the person inpainted away
    (``keep_background``). Composited at ``size`` px, then reduced to the model's S px."""
    from PIL import Image

    from .person import Placement, composite, find_person, load_person_image, own_scene, require_full_body

    s = bundle.image_size
    size = s if size is None else int(size)
    if not s <= size <= MAX_RENDER_SIZE:
        raise DataError(f"--size {size}: render between the model's {s} px and {MAX_RENDER_SIZE} px")
    if keep_background and background is not None:
        raise DataError("--keep-background and --background exclude each other; choose one")
    cam = (background_from or bundle.meta["cameras"][0]).lower()
    if f"background_{cam}" not in bundle.meta["files"]:
        raise DataError(f"no background of camera {background_from!r} in {bundle.root}; "
                        f"choose one of {', '.join(bundle.meta['cameras'])} or give --background IMAGE")
    if background is not None:  # the user's own background, the dancer placed as for that camera
        backdrop = load_person_image(background)[0]  # checked before the person's photo: a bad file fails fast
    image, alpha = load_person_image(image_path)
    weights_dir = weights_dir or bundle.meta["music"].get("weights_dir")
    person = find_person(image, str(image_path), alpha, weights_dir)
    require_full_body(person, image.shape, str(image_path))
    placement = Placement(**bundle.meta["placement"][cam])
    if keep_background:
        bg = own_scene(image, person, placement, size)
    elif background is not None:
        bg = _square(backdrop, size)
    else:
        studio = Image.open(bundle.path(f"background_{cam}")).convert("RGB")
        bg = np.asarray(studio if studio.size == (size, size) else studio.resize((size, size), Image.BICUBIC))
    hires = composite(image, person.body_mask(), bg, placement, person.extent())
    frame = hires if size == s else np.asarray(Image.fromarray(hires).resize((s, s), Image.LANCZOS))
    return Reference(frame, hires, person, image)


def reference_frame(bundle: Bundle, image_path: Path, background: Path | None = None,
                    background_from: str | None = None, weights_dir: Path | None = None) -> np.ndarray:
    """The model's (S, S, 3) reference frame of ``prepare_reference``, on the studio or ``background``."""
    return prepare_reference(bundle, image_path, background, background_from, weights_dir).frame


def _square(img: np.ndarray, size: int) -> np.ndarray:
    """Resize the shorter side to ``size``, then centre crop: as frame extraction does."""
    from PIL import Image

    from .frames import _to_square

    h, w = img.shape[:2]
    scale = size / min(h, w)
    resized = Image.fromarray(img).resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.LANCZOS)
    return _to_square(np.asarray(resized)[None], size, "crop")[0]


def default_overlap(n_frames: int) -> int:
    """Frames each window of a long dance shares with the previous one (anchored chaining)."""
    return n_frames // 4


def window_starts(n_total: int, n_frames: int, overlap: int) -> list[int]:
    """First frame of each window so that windows of n_frames overlapping by ``overlap`` cover n_total."""
    step = n_frames - overlap
    starts = [0]
    while starts[-1] + n_frames < n_total:
        starts.append(starts[-1] + step)
    return starts


class MusicEncoder:
    """e and per-frame beats of windows of any song, with the bundle's adapters and backbones."""

    def __init__(self, bundle: Bundle, use_beat: bool):
        from .music.features import load_adapters, load_backbones

        self.bundle, self.use_beat = bundle, use_beat
        self.backbones = load_backbones(bundle.meta["music"])
        self.style, self.movement = load_adapters(bundle.path("style"), bundle.path("movement"))

    def __call__(self, samples: np.ndarray, sr: int, start_frames: list[int]):
        import torch

        from .music.embedding import music_embedding
        from .music.features import song_windows
        from .music.rhythm import RHYTHM_DIM

        n, fps = int(self.bundle.meta["n_frames"]), self.bundle.fps
        clap, w2c, rhythm = song_windows(samples, sr, [s / fps for s in start_frames], n, fps,
                                         self.bundle.meta["music"], self.backbones)
        with torch.no_grad():
            e_c = self.style.encode(torch.from_numpy(clap)).numpy()
            e_w = self.movement.encode(torch.from_numpy(w2c)).numpy()
        beats = rhythm.reshape(len(start_frames), n, RHYTHM_DIM).astype(np.float32)
        e = music_embedding(e_c, e_w, beats, self.use_beat)
        return torch.from_numpy(e), torch.from_numpy(beats)


def chain_flows(sampler, ref, e, beats, scfg: dict, seed: int, starts: list[int], n_total: int,
                method: str = "anchored", progress=None):
    """Flows (1, 3, n_total, h, w) of a long dance, window by window, all relative to ``ref``.

    ``method="anchored"``: each window continues the previous one's last frames (given, not
    sampled) and warps the original reference. ``"last_frame"`` is the paper's chaining and
    returns frames instead: each window starts from the previous window's last rendered frame.
    """
    import torch

    n = sampler.n_frames
    z0 = sampler.lfae.encode(ref.to(sampler.device))[-1]
    if method == "last_frame":
        frames, cur = [], ref
        for w, start in enumerate(starts):
            zc = sampler.lfae.encode(cur.to(sampler.device))[-1]
            g = [torch.Generator().manual_seed(seed + w)]
            flows = sampler.space.to_flows(sampler.flows(zc, e[w:w + 1], beats[w:w + 1], scfg, g))
            video = sampler.render(cur, flows)[0]
            keep = video if w == 0 else video[1:]
            frames.append(keep)
            cur = torch.from_numpy(video[-1:]).permute(0, 3, 1, 2).float() / 255.0
            if progress:
                progress(1)
        return np.concatenate(frames)[:n_total]
    a0 = None
    for w, start in enumerate(starts):
        g = [torch.Generator().manual_seed(seed + w)]
        known = None
        if a0 is not None:
            overlap = a0.shape[2] - start
            given = torch.zeros(1, 3, n, *a0.shape[3:])
            given[:, :, :overlap] = a0[:, :, start:]
            mask = torch.arange(n) < overlap  # the model's space of the given frames depends on them alone
            known = (sampler.space.to_model(given.to(sampler.device)), mask)
        out = sampler.space.to_flows(sampler.flows(z0, e[w:w + 1], beats[w:w + 1], scfg, g, known=known)).float().cpu()
        a0 = out if a0 is None else torch.cat([a0, out[:, :, a0.shape[2] - start:]], dim=2)
        if progress:
            progress(1)
    return a0[:, :, :n_total]


class Generator:
    """A loaded bundle (both stages, adapters, backbones), reusable for many dances.

    ``dance(ref_frame, samples, sr, n_total)`` -> (n_total, S, S, 3) uint8; the Figure 6 rule
    makes several dances with one Generator, the CLI one.
    """

    def __init__(self, bundle: Bundle, variant: str = "base", device: str = "auto"):
        from .sampling import DanceSampler

        unet_key = "unet" if variant == "base" else f"unet_{variant}"
        if unet_key not in bundle.meta["files"]:
            raise DataError(f"{bundle.root}: no stage-2 model of variant {variant!r}")
        self.bundle = bundle
        self.sampler = DanceSampler(bundle.path(unet_key), bundle.path("lfae"), device)
        self.encoder = MusicEncoder(bundle, self.sampler.meta["beat"])
        self.scfg = dict(bundle.meta["sampling"], device=str(self.sampler.device))

    def dance(self, ref_frame: np.ndarray, samples: np.ndarray, sr: int, n_total: int, seed: int = 0,
              method: str = "anchored", overlap: int | None = None, progress: bool = False,
              times: dict | None = None, hires: np.ndarray | None = None) -> np.ndarray:
        """ref_frame (S, S, 3) uint8, music samples -> (n_total, S, S, 3) uint8; stage seconds into ``times``.

        ``hires`` (R, R, 3), the same reference at R > S px: the video is rendered at R px
        (``DanceSampler.render_hires``)."""
        import torch
        from tqdm import tqdm

        times = {} if times is None else times
        n = self.sampler.n_frames
        overlap = default_overlap(n) if overlap is None else overlap
        starts = window_starts(n_total, n, overlap if method == "anchored" else 1)
        t = time.perf_counter()
        log.info("music: %d windows of %d frames (%.1f s of music)", len(starts), n, len(samples) / sr)
        e, beats = self.encoder(samples, sr, starts)
        times["music"] = time.perf_counter() - t

        t = time.perf_counter()
        # a copy: the placed photo may be a read-only view, which torch warns about sharing
        ref = torch.from_numpy(np.array(ref_frame[None])).permute(0, 3, 1, 2).float() / 255.0
        with tqdm(total=len(starts), desc="motion", disable=not progress, unit="window") as bar:
            chained = chain_flows(self.sampler, ref, e, beats, self.scfg, seed, starts, n_total, method, bar.update)
        times["motion"] = time.perf_counter() - t

        t = time.perf_counter()
        if method == "last_frame":  # rendered window by window already
            video = chained
        elif hires is not None and hires.shape[0] != ref_frame.shape[0]:
            big = torch.from_numpy(np.array(hires[None])).permute(0, 3, 1, 2).float() / 255.0
            video = np.concatenate([self.sampler.render_hires(ref, big, chained[:, :, i:i + 16])[0]
                                    for i in tqdm(range(0, n_total, 16), desc="render", disable=not progress)])
        else:
            video = np.concatenate([self.sampler.render(ref, chained[:, :, i:i + 64])[0]
                                    for i in tqdm(range(0, n_total, 64), desc="render", disable=not progress)])
        times["render"] = time.perf_counter() - t
        times["windows"] = len(starts)
        return video


def dance_length(samples: np.ndarray, sr: int, fps: float, n_frames: int, seconds: float | None,
                 name: str | Path) -> int:
    """Frames of the dance: the whole song or its first ``seconds``; DataError if under one window."""
    total_seconds = len(samples) / sr if seconds is None else min(seconds, len(samples) / sr)
    n_total = int(round(total_seconds * fps))
    if n_total < n_frames:
        raise DataError(f"{name}: {total_seconds:.2f} s of music make {n_total} frames at {fps:g} fps, fewer than "
                        f"one window of {n_frames}; use at least {n_frames / fps:.2f} s of music")
    return n_total


def generate(image: Path, music: Path, bundle_dir: Path, out: Path, seconds: float | None = None, seed: int = 0,
             background: Path | None = None, background_from: str | None = None, variant: str = "base",
             method: str = "anchored", overlap: int | None = None, device: str = "auto",
             progress: bool = True, weights_dir: Path | None = None, keep_background: bool = False,
             size: int | None = None) -> dict:
    """Write ``out`` (mp4, music muxed); returns seconds per stage.

    Every check on the inputs (bundle, music, photo) runs before any model is loaded, and the
    video is written to a temporary name and renamed, so a failure leaves no output.
    """
    from .io import write_video
    from .music.audio import load_music

    if method not in ("anchored", "last_frame"):
        raise DataError(f"unknown chaining {method!r}; use anchored or last_frame")
    times, t0 = {}, time.perf_counter()
    bundle = load_bundle(bundle_dir)
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise DataError(f"{out}: the output is an mp4 video; give a name ending in .mp4")
    samples, sr = load_music(music)
    fps = bundle.fps
    n_total = dance_length(samples, sr, fps, int(bundle.meta["n_frames"]), seconds, music)
    if method == "last_frame" and size not in (None, bundle.image_size):
        raise DataError(f"--size {size}: last_frame chaining renders at the model's {bundle.image_size} px; "
                        "use the default anchored chaining")
    ref = prepare_reference(bundle, image, background, background_from, weights_dir, keep_background, size)
    times["person"] = time.perf_counter() - t0

    t = time.perf_counter()
    log.info("loading the generator from %s", bundle.root)
    generator = Generator(bundle, variant, device)
    times["load"] = time.perf_counter() - t
    video = generator.dance(ref.frame, samples, sr, n_total, seed, method, overlap, progress, times, ref.hires)
    windows = times.pop("windows")

    t = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_video(out, video, int(round(fps)), samples[:int(round(n_total / fps * sr))], sr)
    times["write"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    log.info("%s: %d frames (%.1f s at %g fps, %d windows, %s chaining, device %s) in %.1f s (%s)", out, len(video),
             n_total / fps, fps, windows, method, generator.sampler.device, times["total"],
             ", ".join(f"{k} {v:.1f} s" for k, v in times.items() if k != "total"))
    return times
