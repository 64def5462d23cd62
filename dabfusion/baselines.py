"""Baselines for Table 1, on exactly the test clips DabFusion was sampled on.

- ``static``: the first frame repeated (no motion at all). Any model worth its training
  must beat it on FVD; on per-frame PSNR it is hard to beat for short clips, which is why
  the table shows it.
- ``retrieval``: no generation. For each test clip, the training clip whose music
  embedding e is nearest (cosine) lends its stage-1 latent motion (flows and occlusion
  relative to its own first frame, from the flow cache), applied to the test image with
  the same decoder DabFusion uses. It asks: is the diffusion model better than copying the
  motion of the most similar training music?

Each writes what the sampling rule writes: ``frames/{clip}.npy``, ``videos/{clip}.mp4``
(music muxed) and ``samples.csv`` with the same columns, so scoring treats all alike.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .io import write_table_atomic

log = logging.getLogger(__name__)
BASELINES = ("static", "retrieval")


class MotionRetrieval:
    """Nearest training clip by music embedding; its cached stage-1 motion on a new image."""

    def __init__(self, lfae_file: Path, cache_dir: Path, embedding_file: Path):
        import torch

        from .checkpoints import load_lfae
        from .diffusion.conditions import MusicConditions
        from .training.flow_cache import check_cache, load_cache  # the training clips' motion is what it retrieves

        check_cache(cache_dir, lfae_file)
        self.cache = load_cache(cache_dir)
        self.lfae = load_lfae(lfae_file).eval()
        self.cond = MusicConditions(embedding_file, use_beat=True)
        train_e, _ = self.cond.get(self.cache["index"].window_id)
        self.train_e = torch.nn.functional.normalize(train_e.float(), dim=1)

    def nearest(self, window_ids) -> np.ndarray:
        """Row in the flow cache of the nearest training clip, per test window."""
        import torch

        e, _ = self.cond.get(window_ids)
        sim = torch.nn.functional.normalize(e.float(), dim=1) @ self.train_e.T
        return sim.argmax(dim=1).numpy()

    def render(self, ref, row: int) -> np.ndarray:
        """ref (1, 3, S, S) tensor in [0, 1] -> (N, S, S, 3) uint8, moved by training clip ``row``'s flows."""
        import torch

        from .sampling import render_flows

        grids = torch.from_numpy(np.asarray(self.cache["grids"][row], dtype=np.float32))[None]  # (1, N, h, w, 2)
        occ = torch.from_numpy(np.asarray(self.cache["occlusion"][row], dtype=np.float32))[None, :, None]
        return render_flows(self.lfae, ref, grids, occ)[0]


def baseline_videos(kind: str, reference_samples: Path, music_csv: Path, out_manifest: Path,
                    lfae_file: Path | None = None, cache_dir: Path | None = None,
                    embedding_file: Path | None = None) -> pd.DataFrame:
    """Make the ``kind`` baseline's video for every clip of ``reference_samples`` (DabFusion's)."""
    from .frames import load_clip
    from .metrics.image import to_tensor
    from .sampling import music_segment, save_generated

    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; choose one of {BASELINES}")
    started = time.perf_counter()
    out_dir = Path(out_manifest).parent
    clips = pd.read_csv(reference_samples)
    music = pd.read_csv(music_csv).set_index("music_id")
    retrieval = MotionRetrieval(lfae_file, cache_dir, embedding_file) if kind == "retrieval" else None
    nearest = retrieval.nearest(clips.window_id) if retrieval else None
    keep = ["clip_id", "video", "camera", "genre", "music_id", "dancer", "situation", "start_frame", "n_frames",
            "fps", "music_start", "music_end", "frames_file", "window_id"]
    rows = []
    for i, c in enumerate(clips.itertuples()):
        gt = load_clip(c.frames_file, int(c.start_frame), int(c.n_frames))
        extra = {}
        if kind == "static":
            video = np.repeat(gt[:1], len(gt), axis=0)
        else:
            video = retrieval.render(to_tensor(gt[:1]), int(nearest[i]))
            extra["retrieved_clip"] = retrieval.cache["index"].clip_id.iloc[int(nearest[i])]
            if len(video) != len(gt):
                raise ValueError(f"{cache_dir} holds {len(video)}-frame flows, the test clips have {len(gt)} frames")
        audio, sr = music_segment(music, c.music_id, c.music_start, c.music_end)
        frames_file, video_file = save_generated(out_dir, c.clip_id, video, c.fps, audio, sr)
        rows.append({**{k: getattr(c, k) for k in keep}, "generated_frames": frames_file,
                     "generated_video": video_file, "sampler": kind, "steps": 0, **extra})
    manifest = pd.DataFrame(rows)
    write_table_atomic(out_manifest, manifest)
    log.info("%s baseline: %d videos in %.1f s", kind, len(manifest), time.perf_counter() - started)
    return manifest
