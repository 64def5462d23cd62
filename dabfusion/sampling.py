"""From a reference frame and music to a video: sample latent flows, warp z0, decode (Fig. 3).

    z0 feats  = lfae.encode(x_0)
    a0        = sampler(UNet(., t, z0, e, beats))            (B, 3, N, h, w)
    grid, m   = target.decode(a0)
    frame_k   = lfae.animate(x_0, grid_k, m_k)                k = 0 .. N-1 (models/lfae.py)

``DanceSampler`` is what the sampling rule and ``dabfusion generate`` share. Each video's
noise comes from its own generator seeded by (seed, clip id), so a video does not depend on
the batch it was sampled in, and the seed is recorded beside it.
"""

from __future__ import annotations

import functools
import logging
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .checkpoints import load_lfae, load_unet
from .clips import select_clips
from .diffusion import samplers, target
from .diffusion.conditions import MusicConditions, without_beats
from .diffusion.schedule import CosineSchedule
from .frames import load_clip
from .io import file_sha256, write_table_atomic, write_video
from .metrics.image import to_tensor

log = logging.getLogger(__name__)


def clip_seed(seed: int, clip_id: str) -> int:
    return zlib.crc32(f"{seed}:{clip_id}".encode())


def noise_seed(scfg: dict) -> int:
    """The seed of a run's sampling noise: a repeat's own ``noise_seed`` (set per variant by the
    workflow), else ``sampling.seed``."""
    return scfg.get("noise_seed", scfg["seed"])


def save_generated(out_dir: Path, clip_id: str, video: np.ndarray, fps: float, audio: np.ndarray,
                   sample_rate: int) -> tuple[str, str]:
    """Write ``{out_dir}/frames/{clip_id}.npy`` (for the metrics) and ``videos/{clip_id}.mp4`` (music muxed)."""
    frames_out = Path(out_dir) / "frames" / f"{clip_id}.npy"
    video_out = Path(out_dir) / "videos" / f"{clip_id}.mp4"
    frames_out.parent.mkdir(parents=True, exist_ok=True)
    tmp = frames_out.with_name(f".{frames_out.stem}.tmp.npy")
    np.save(tmp, video)
    tmp.replace(frames_out)
    write_video(video_out, video, int(round(fps)), audio, sample_rate)
    return str(frames_out), str(video_out)


@torch.inference_mode()
def render_flows(lfae, ref: torch.Tensor, grid: torch.Tensor, occ: torch.Tensor, inside: bool = True) -> np.ndarray:
    """ref (B, 3, S, S) in [0, 1], grid (B, N, h, w, 2), occ (B, N, 1, h, w) -> (B, N, S, S, 3) uint8.

    ``inside``: every read stays within the frame (``models.warp.warp``), as generated flows need."""
    feats = lfae.encode(ref)
    frames = [lfae.animate(ref, grid[:, k], occ[:, k], feats, inside) for k in range(grid.shape[1])]
    video = torch.stack(frames, dim=1).clamp(0, 1)  # (B, N, 3, S, S)
    return (video.permute(0, 1, 3, 4, 2) * 255).round().byte().cpu().numpy()


def model_guide(scfg: dict, meta: dict) -> str:
    """What guidance amplifies for a model of metadata ``meta``: "music" (the paper's: the condition
    against none) or "beats" (beyond it: the music against the same music without its beats, for a
    model trained with ``diffusion.p_drop_beats``). A model without beats has only its music."""
    guide = scfg.get("guide", "music")
    if guide not in ("music", "beats"):
        raise ValueError(f"sampling.guide: {guide!r} is neither music nor beats")
    if guide == "beats" and meta.get("beat", True):
        if not meta.get("p_drop_beats"):
            raise ValueError("sampling.guide: beats needs a model trained with diffusion.p_drop_beats > 0 "
                             "(this one never saw music without its beats); retrain it or guide: music")
        return "beats"
    return "music"


class DanceSampler:
    def __init__(self, unet_file: Path, lfae_file: Path, device: str = "auto"):
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.unet, self.meta = load_unet(unet_file)
        if self.meta["lfae_sha256"] != file_sha256(lfae_file):
            raise ValueError(f"{unet_file} was trained on flows of another stage-1 model than {lfae_file}; "
                             "retrain stage 2 (snakemake reruns it when stage 1 changes)")
        self.lfae = load_lfae(lfae_file).to(self.device)
        self.unet.to(self.device)
        self.schedule = CosineSchedule(self.meta["timesteps"])
        self.n_frames = int(self.meta["n_frames"])
        self.prediction = self.meta.get("prediction", "eps")
        self.space = target.TargetSpace.from_dict(self.meta.get("target_space"))  # a0 <-> what the model generates

    def guide(self, scfg: dict) -> str:
        return model_guide(scfg, self.meta)

    @torch.inference_mode()
    def flows(self, z0: torch.Tensor, e: torch.Tensor, beats: torch.Tensor, scfg: dict, generators,
              progress=None, known: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """z0 (B, C_z, h, w), e (B, D), beats (B, N, 6) -> (B, 3, N, h, w) in the model's space.

        ``known`` = (a (B, 3, N, h, w) in the model's space, frames (N,) bool): those frames are
        given, not sampled. ``self.space`` maps flows a0 to and from the model's space.
        """
        b, _, h, w = z0.shape
        z0, e, beats = z0.to(self.device), e.to(self.device), beats.to(self.device)
        on_beats = self.guide(scfg) == "beats"

        def model_fn(x, t, drop):
            k = x.shape[0] // b  # 2 under classifier-free guidance
            ek, bk = e.repeat(k, 1), beats.repeat(k, 1, 1)
            if on_beats:  # guided away from: the same music without its beats
                ek, bk = without_beats(ek, bk, drop)
            out = self.unet(x, t, z0.repeat(k, 1, 1, 1), ek, bk, None if on_beats else drop)
            return self.schedule.eps_from_output(self.prediction, x, t, out)

        p = scfg["threshold_percentile"]
        threshold = functools.partial(samplers.dynamic_threshold, percentile=p) if p else None
        eps_fn = samplers.classifier_free(model_fn, scfg["guidance"])
        if known is not None:
            eps_fn = samplers.with_known_frames(eps_fn, self.schedule, known[0].to(self.device), known[1])
        return samplers.sample(scfg["sampler"], eps_fn, self.schedule,
                               (b, 3, self.n_frames, h, w), generators, scfg["steps"], scfg["eta"], threshold,
                               self.device, progress)

    @torch.inference_mode()
    def render(self, ref: torch.Tensor, a0: torch.Tensor) -> np.ndarray:
        """ref (B, 3, S, S) in [0, 1], flows a0 (B, 3, N, h, w) (``self.space.to_flows`` of what ``flows``
        gives) -> frames (B, N, S, S, 3) uint8."""
        grid, occ = target.decode(a0.to(self.device).float(), self.meta["flow_scale"])
        return render_flows(self.lfae, ref.to(self.device), grid, occ)

    @torch.inference_mode()
    def render_hires(self, ref: torch.Tensor, ref_hires: torch.Tensor, a0: torch.Tensor) -> np.ndarray:
        """The same dance rendered from a larger reference: ref (B, 3, S, S) and ref_hires (B, 3, R, R)
        in [0, 1], flows a0 (B, 3, N, h, w) -> (B, N, R, R, 3) uint8.

        A latent flow is a field, not pixels: it is upsampled to R x R and warps the R-pixel
        reference itself (bicubic, so it stays sharp). The S-pixel decoder's frame, upsampled,
        fills in only where the occlusion map says the reference has nothing to show
        (``frame = m * warp(ref_R) + (1 - m) * decoded``)."""
        import torch.nn.functional as F

        from .models.warp import warp

        grid, occ = target.decode(a0.to(self.device).float(), self.meta["flow_scale"])
        ref, ref_hires = ref.to(self.device), ref_hires.to(self.device)
        size = ref_hires.shape[-1]
        feats = self.lfae.encode(ref)
        frames = []
        for k in range(grid.shape[1]):
            decoded = self.lfae.animate(ref, grid[:, k], occ[:, k], feats, inside=True)
            decoded = F.interpolate(decoded, size=(size, size), mode="bicubic", align_corners=False)
            m = F.interpolate(occ[:, k], size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
            warped = warp(ref_hires, grid[:, k], mode="bicubic", inside=True)
            frames.append((m * warped + (1 - m) * decoded).clamp(0, 1))
        video = torch.stack(frames, dim=1)
        return (video.permute(0, 1, 3, 4, 2) * 255).round().byte().cpu().numpy()

    @torch.inference_mode()
    def generate(self, ref: torch.Tensor, e: torch.Tensor, beats: torch.Tensor, scfg: dict, seeds: list[int],
                 progress=None) -> np.ndarray:
        """Reference frames (B, 3, S, S) and their music -> (B, N, S, S, 3) uint8 videos."""
        z0 = self.lfae.encode(ref.to(self.device))[-1]
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        return self.render(ref, self.space.to_flows(self.flows(z0, e, beats, scfg, gens, progress)))


def music_segment(music: pd.DataFrame, music_id: str, start: float, end: float) -> tuple[np.ndarray, int]:
    row = music.loc[music_id]
    samples = np.load(row.file, mmap_mode="r")
    sr = int(row.sample_rate)
    return np.array(samples[int(round(start * sr)):int(round(end * sr))], dtype=np.float32), sr


def sample_test_clips(unet_file: Path, lfae_file: Path, clips_file: Path, embedding_file: Path, music_csv: Path,
                      scfg: dict, out_manifest: Path, progress: bool = True) -> pd.DataFrame:
    """Generate every selected test clip from its first frame and its music window.

    Writes {out}/frames/{clip_id}.npy (N, S, S, 3) uint8, {out}/videos/{clip_id}.mp4 (music
    muxed) and the manifest (one row per video: clip, seed, sampler, steps, time).
    """
    from tqdm import tqdm

    out_dir = Path(out_manifest).parent
    started = time.perf_counter()
    ds = DanceSampler(unet_file, lfae_file, scfg["device"])
    cond = MusicConditions(embedding_file, ds.meta["beat"])
    clips = pd.read_parquet(clips_file)
    from .music.features import with_window_ids

    test = select_clips(with_window_ids(clips[clips.split == "test"]), scfg["max_clips"], scfg["seed"])
    if test.empty:
        raise ValueError(f"{clips_file}: no test clips to sample")
    if int(test.n_frames.iloc[0]) != ds.n_frames:
        raise ValueError(f"{unet_file} makes {ds.n_frames}-frame videos, {clips_file} has "
                         f"{int(test.n_frames.iloc[0])}-frame clips")
    music = pd.read_csv(music_csv).set_index("music_id")
    calls = samplers.model_calls(scfg["sampler"], ds.schedule, scfg["steps"]) * (1 if scfg["guidance"] == 1 else 2)
    guide = ds.guide(scfg)
    rows = []
    bar = tqdm(total=len(test), desc=f"sampling {scfg['sampler']}", disable=not progress, mininterval=10)
    for lo in range(0, len(test), scfg["batch_size"]):
        part = test.iloc[lo:lo + scfg["batch_size"]]
        gt = [load_clip(c.frames_file, c.start_frame, c.n_frames) for c in part.itertuples()]
        ref = torch.stack([to_tensor(v[:1])[0] for v in gt])
        e, beats = cond.get(part.window_id)
        seeds = [clip_seed(noise_seed(scfg), c) for c in part.clip_id]
        t0 = time.perf_counter()
        videos = ds.generate(ref, e, beats, scfg, seeds)
        per_video = (time.perf_counter() - t0) / len(part)
        for c, video, seed in zip(part.itertuples(), videos, seeds):
            audio, sr = music_segment(music, c.music_id, c.music_start, c.music_end)
            frames_out, video_out = save_generated(out_dir, c.clip_id, video, c.fps, audio, sr)
            rows.append({**{k: getattr(c, k) for k in ("clip_id", "video", "camera", "genre", "music_id", "dancer",
                                                        "situation", "start_frame", "n_frames", "fps", "music_start",
                                                        "music_end", "frames_file", "window_id")},
                         "generated_frames": frames_out, "generated_video": video_out, "seed": seed,
                         "sampler": scfg["sampler"], "steps": scfg["steps"], "guidance": scfg["guidance"],
                         "guide": guide, "model_calls": calls, "seconds": per_video})
        bar.update(len(part))
    bar.close()
    manifest = pd.DataFrame(rows)
    write_table_atomic(out_manifest, manifest)
    log.info("sampled %d test clips with %s (%d model calls each) in %.1f s; %.2f s per video",
             len(manifest), scfg["sampler"], calls, time.perf_counter() - started, manifest.seconds.mean())
    return manifest
