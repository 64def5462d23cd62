"""Where does stage 1 lose the dancers' motion? A budget over the test clips, step by step.

Run: .venv/bin/python benchmarks/stage1_motion_budget.py [--results DIR ...] [--data DIR] [--frames N]
                                                            [--write docs/dancing-on-the-beat.md]

For the 40 test clips the tables use, each re-animated from frame 0 with its own stage-1 flows
(the ceiling of any stage 2), the motion metric of the tables (``video_motion_envelope``)
over the ground truth's, for:
  recon           the rendered frames, as the tables score them
  image_warp      frame 0 moved by the predicted flow alone (bicubic, no occlusion, no decoder)
  oracle_16       frame 0 moved by the true (Farneback) flow averaged to the latent grid
  gt_blur_s       the ground truth blurred by a Gaussian of sigma s px: how much the metric
                  reads sharpness as motion
and the predicted displacement against the true one, both at the latent grid, on the cells
where the dancer moves (``flow_gain``: |predicted| / |true|, and the cosine of their angle).
Each video kind has a ``_motion`` and a ``_change`` figure; the change is a second motion
measure that shares nothing with Farneback: the mean absolute gray-level change between
consecutive frames, over the ground truth's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from dabfusion.checkpoints import load_lfae
from dabfusion.clips import select_clips
from dabfusion.config import load_config
from dabfusion.frames import load_clip
from dabfusion.io import replace_marked_block
from dabfusion.metrics.alignment import FARNEBACK, to_gray, video_motion_envelope
from dabfusion.metrics.image import to_tensor
from dabfusion.models.warp import displacement_from_grid, warp
from dabfusion.music.features import with_window_ids
from dabfusion.plan import Paths
from dabfusion.sampling import render_flows
from dabfusion.training.flow_cache import clip_flows

BEGIN, END = "<!-- stage-1 budget: begin -->", "<!-- stage-1 budget: end -->"
BLURS = (0.5, 1.0)
MOVING_PX = 0.5  # a latent cell "moves" where the true displacement exceeds this (64-px frame pixels)


def true_backward_flows(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, H, W, 2): Farneback flow from each frame back to frame 0 (px)."""
    gray = to_gray(frames)
    return np.stack([cv2.calcOpticalFlowFarneback(g, gray[0], None, *FARNEBACK) for g in gray])


def cells(flow: np.ndarray, s: int) -> np.ndarray:
    """(T, H, W, 2) -> (T, s, s, 2) cell means."""
    return np.stack([cv2.resize(f, (s, s), interpolation=cv2.INTER_AREA) for f in flow])


def oracle(frames: np.ndarray, flows: np.ndarray, s: int) -> np.ndarray:
    h, w = frames.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for f in cells(flows, s):
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
        out.append(cv2.remap(frames[0], xs + f[..., 0], ys + f[..., 1], cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) in [0, 1] -> (N, S, S, 3) uint8."""
    return (video.clamp(0, 1).permute(0, 2, 3, 1) * 255).round().byte().numpy()


def settings_of(results: Path) -> str:
    f = results / "settings.json"  # written by stage1_lab.py
    return ", ".join(json.loads(f.read_text())["set"]) if f.exists() else f"the stage 1 of {results}"


@torch.inference_mode()
def budget(results: Path, data: Path, n: int, max_clips: int) -> dict[str, float]:
    """The motion of each video kind over the ground truth's, and the flow's gain and cosine."""
    cfg = load_config("config.yaml")
    fps = cfg["extract"]["fps"]
    paths = Paths(data=str(data), results=str(results))
    clips = pd.read_parquet(paths.clips(n))
    test = select_clips(with_window_ids(clips[clips.split == "test"]), max_clips, cfg["sampling"]["seed"])
    if not Path(paths.lfae).exists():
        raise SystemExit(f"{paths.lfae}: no stage-1 model; train one (snakemake, or benchmarks/stage1_lab.py)")
    lfae = load_lfae(Path(paths.lfae)).eval()
    s = lfae.cfg.latent_size
    motion: dict[str, list[float]] = {}
    change: dict[str, list[float]] = {}
    gains, cosines = [], []

    def add(name: str, video: np.ndarray) -> None:
        motion.setdefault(name, []).append(float(video_motion_envelope(video, fps).mean()))
        gray = to_gray(video).astype(np.float32)
        change.setdefault(name, []).append(float(np.abs(np.diff(gray, axis=0)).mean()))

    for c in test.itertuples():
        frames = load_clip(c.frames_file, c.start_frame, c.n_frames)
        x = to_tensor(frames)
        grid, occ, _ = clip_flows(lfae, x)
        add("gt", frames)
        add("recon", render_flows(lfae, x[:1], grid[None], occ[None], inside=False)[0])
        add("image_warp", to_uint8(warp(x[:1].expand(len(x), -1, -1, -1), grid, mode="bicubic")))
        true = true_backward_flows(frames)
        add(f"oracle_{s}", oracle(frames, true, s))
        for sigma in BLURS:
            add(f"gt_blur_{sigma:g}", np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames]))
        # displacements at the latent grid in 64-px frame pixels (the grid's cells are 4 px)
        pred = displacement_from_grid(grid).numpy() * (frames.shape[2] / s)
        true_c = cells(true, s)
        moving = np.linalg.norm(true_c, axis=-1) > MOVING_PX
        if moving.any():
            p, t = pred[moving], true_c[moving]
            gains.append(float(np.linalg.norm(p, axis=-1).mean() / np.linalg.norm(t, axis=-1).mean()))
            cosines.append(float(((p * t).sum(-1) / (np.linalg.norm(p, axis=-1) * np.linalg.norm(t, axis=-1)
                                                      + 1e-6)).mean()))
    out = {"clips": len(test), "frames": n}
    for name, values in motion.items():
        if name != "gt":
            out[f"{name}_motion"] = float(np.mean(values) / np.mean(motion["gt"]))
            out[f"{name}_change"] = float(np.mean(change[name]) / np.mean(change["gt"]))
    return {**out, "flow_gain": float(np.mean(gains)), "flow_cosine": float(np.mean(cosines))}


def table(rows: list[tuple[str, str, dict, dict]]) -> str:
    """Markdown: one row per stage 1 (its 16- and 32-frame budgets), then the references."""
    head = ("| stage 1 | settings over the default | recon motion | recon change | flow gain | flow cosine "
            "| recon motion, 32 frames |\n|---|---|---|---|---|---|---|")
    lines = [head]
    for name, sets, b16, b32 in rows:
        lines.append(f"| {name} | {sets} | {b16['recon_motion']:.3f} | {b16['recon_change']:.3f} | "
                     f"{b16['flow_gain']:.3f} | {b16['flow_cosine']:.3f} | {b32['recon_motion']:.3f} |")
    ref = rows[0][2]
    for key in (k for k in ref if k.endswith("_motion") and not k.startswith(("recon", "image_warp"))):
        kind = key.removesuffix("_motion")
        lines.append(f"| ({kind}) | reference, no stage 1 | {ref[key]:.3f} | {ref[kind + '_change']:.3f} | | | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, action="append", help="a run's or stage1_lab.py's folder (repeatable)")
    ap.add_argument("--data", type=Path, default=Path("resources/synthetic"))
    ap.add_argument("--max-clips", type=int, default=40)
    ap.add_argument("--frames", type=int, help="clip length (default: clips.length; 32: the long variant's)")
    ap.add_argument("--write", type=Path, help=f"replace the block between {BEGIN} and {END} in this file "
                                                "with a table of every --results, at 16 and 32 frames")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n = args.frames or load_config("config.yaml")["clips"]["length"]
    rows = []
    for results in args.results or [Path("results")]:
        b = budget(results, args.data, n, args.max_clips)
        print(f"{results}: {settings_of(results)}; {b['clips']} test clips of {n} frames of {args.data}")
        print("\n".join(f"  {k},{v:.3f}" for k, v in b.items() if isinstance(v, float)))
        if args.write:
            rows.append((results.name, settings_of(results), b, budget(results, args.data, 32, args.max_clips)))
    if args.write:
        replace_marked_block(args.write, BEGIN, END, table(rows))


if __name__ == "__main__":
    main()
