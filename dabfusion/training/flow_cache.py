"""Stage-2 training targets, computed once: latent flows and occlusion maps from the frozen stage 1.

For every selected training clip (frames x_0 .. x_{N-1}), with x_0 as the reference:
    z0                    encoder(x_0)[-1]                   (C_z, h, w)
    grid_k, m_k           stage-1 flow predictor(x_0, x_k)   (h, w, 2), (1, h, w), k = 0 .. N-1

LFDM recomputes these every training step; they depend only on the frozen stage-1 model,
so they are cached (float16 .npy) with the SHA-256 of the stage-1 file that made them.
A cache whose hash does not match the stage-1 file it is used with is refused
(``check_cache``); Snakemake rebuilds it whenever the stage-1 file changes.

    {cache}/grids.npy       (M, N, h, w, 2)  float16
    {cache}/occlusion.npy   (M, N, h, w)     float16
    {cache}/z0.npy          (M, C_z, h, w)   float16
    {cache}/index.parquet   clip_id, window_id, camera, genre, music_id, row
    {cache}/meta.json       lfae_sha256, flow_scale, n_frames, ... (written last)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..clips import select_clips
from ..frames import load_clip
from ..io import atomic_path, file_sha256, write_json_atomic, write_table_atomic
from ..metrics.image import to_tensor
from ..models.warp import identity_grid
from ..music.features import with_window_ids

log = logging.getLogger(__name__)


@torch.inference_mode()
def clip_flows(lfae, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 3, S, S) frames of one clip -> grids (N, h, w, 2), occlusion (N, 1, h, w), z0 (C_z, h, w)."""
    ref = frames[:1]
    kp_ref = lfae.detect(ref)
    kp_dri = lfae.detect(frames)
    n = len(frames)
    grid, occ, _, _ = lfae.predict_flow(ref.expand(n, -1, -1, -1), frames,
                                         tuple(k.expand(n, *k.shape[1:]) for k in kp_ref), kp_dri)
    return grid, occ, lfae.encode(ref)[-1][0]


def build_flow_cache(lfae_file: Path, clips_file: Path, out_dir: Path, max_clips: int | None, seed: int,
                     progress: bool = True) -> dict:
    from tqdm import tqdm

    from ..checkpoints import load_lfae

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = pd.read_parquet(clips_file)
    train = select_clips(with_window_ids(clips[clips.split == "train"]), max_clips, seed)
    if train.empty:
        raise ValueError(f"{clips_file}: no training clips to compute flows for")
    lfae = load_lfae(lfae_file)
    n = int(train.n_frames.iloc[0])
    s = lfae.cfg.latent_size
    grids = np.zeros((len(train), n, s, s, 2), np.float16)
    occ = np.zeros((len(train), n, s, s), np.float16)
    z0 = np.zeros((len(train), lfae.cfg.latent_channels, s, s), np.float16)
    disp_abs = []
    ident = identity_grid(1, s, s)[0]
    for i, c in enumerate(tqdm(train.itertuples(), total=len(train), desc="stage-2 targets", disable=not progress,
                               mininterval=10)):
        g, o, z = clip_flows(lfae, to_tensor(load_clip(c.frames_file, c.start_frame, c.n_frames)))
        grids[i], occ[i], z0[i] = g.numpy(), o[:, 0].numpy(), z.numpy()
        disp_abs.append((g - ident).abs().flatten()[::7].numpy())  # a sample, for the scale
    flow_scale = float(max(np.quantile(np.concatenate(disp_abs), 0.999), 1e-3))
    for name, arr in (("grids", grids), ("occlusion", occ), ("z0", z0)):
        with atomic_path(out_dir / f"{name}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr)
    index = train[["clip_id", "window_id", "camera", "genre", "music_id"]].assign(row=np.arange(len(train)))
    write_table_atomic(out_dir / "index.parquet", index)
    meta = {"lfae_file": str(lfae_file), "lfae_sha256": file_sha256(lfae_file), "flow_scale": flow_scale,
            "n_frames": n, "latent_size": s, "latent_channels": lfae.cfg.latent_channels, "clips": len(train),
            "of_train_clips": int((clips.split == "train").sum()), "seconds": time.perf_counter() - started}
    write_json_atomic(out_dir / "meta.json", meta)
    log.info("stage-2 targets: %d clips x %d frames at %dx%d in %.1f s; flow_scale %.4f",
             len(train), n, s, s, meta["seconds"], flow_scale)
    return meta


def check_cache(cache_dir: Path, lfae_file: Path) -> dict:
    """The cache's metadata, after checking it was made by this stage-1 file."""
    meta_file = Path(cache_dir) / "meta.json"
    if not meta_file.exists():
        raise FileNotFoundError(f"{meta_file} missing: build the flow cache first (snakemake {meta_file})")
    meta = json.loads(meta_file.read_text())
    if meta["lfae_sha256"] != file_sha256(lfae_file):
        raise ValueError(f"{cache_dir} was computed with another stage-1 model than {lfae_file}; "
                         f"delete it and rerun the flow_cache rule (snakemake {meta_file})")
    return meta


def load_cache(cache_dir: Path) -> dict:
    cache_dir = Path(cache_dir)
    return {"grids": np.load(cache_dir / "grids.npy", mmap_mode="r"),
            "occlusion": np.load(cache_dir / "occlusion.npy", mmap_mode="r"),
            "z0": np.load(cache_dir / "z0.npy", mmap_mode="r"),
            "index": pd.read_parquet(cache_dir / "index.parquet"),
            "meta": json.loads((cache_dir / "meta.json").read_text())}
