"""Where stage 2's generated motion goes: on the dancer, or spread over the frame as jitter.

Run: .venv/bin/python benchmarks/stage2_flow_locality.py LAB_DIR[@DATA@RESULTS] ... --data D --results R
         [--write docs/dancing-on-the-beat.md]
     (a run trained on another stage 1 names its data and results after @; each stage 1 gets
     its own "recon" row)

For runs of `benchmarks/stage2_lab.py` (their model and sampling settings, on the same data and
stage 1), re-samples the flows of the 40 test clips and compares them, cell by cell of the
latent grid, with the test clips' own stage-1 flows ("recon"):

- dancer_speed_vs_recon: the flow's change from frame to frame on the cells where the clip's own
  flows change most (its top quarter: where this dancer moves), over recon's on the same cells;
- bg_over_dancer: the change on the other cells over that on the dancer's (recon: about 0.46);
- mask_overlap: how much of the generated flows' own top quarter falls on recon's (chance: 0.25);
- lag1: cosine between consecutive changes of a cell (smooth motion: high; jitter: near 0);
- inside_vs_gt / outside_vs_gt: from the lab's rendered videos, the Farneback speed inside the
  region the ground-truth dancer covers in the clip (dilated by 4 px) and outside it, over the
  ground truth's own. Motion outside is warping artefacts, not dance.

With --write, the table replaces the block between "<!-- stage-2 locality: begin -->" and
"<!-- stage-2 locality: end -->".
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from stage2_lab import apply_sets, test_flows  # noqa: E402

from dabfusion.checkpoints import load_lfae  # noqa: E402
from dabfusion.clips import select_clips  # noqa: E402
from dabfusion.config import load_config  # noqa: E402
from dabfusion.diffusion import target  # noqa: E402
from dabfusion.diffusion.conditions import MusicConditions  # noqa: E402
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.io import replace_marked_block  # noqa: E402
from dabfusion.metrics.alignment import dancer_masks, pair_flow_magnitude, to_gray  # noqa: E402
from dabfusion.metrics.image import to_tensor  # noqa: E402
from dabfusion.music.features import with_window_ids  # noqa: E402
from dabfusion.plan import Paths  # noqa: E402
from dabfusion.sampling import DanceSampler  # noqa: E402
from dabfusion.training.flow_cache import clip_flows  # noqa: E402

BEGIN, END = "<!-- stage-2 locality: begin -->", "<!-- stage-2 locality: end -->"
COLUMNS = ["dancer_speed_vs_recon", "bg_over_dancer", "mask_overlap", "lag1", "inside_vs_gt", "outside_vs_gt"]


def changes(a: torch.Tensor) -> torch.Tensor:
    """flows (B, 2, N, h, w) -> per-cell speed of the change between frames (B, N-1, h, w)."""
    return (a[:, :, 1:] - a[:, :, :-1]).norm(dim=1)


def top_quarter(a: torch.Tensor) -> torch.Tensor:
    """(B, 2, N, h, w) -> bool (B, h, w): the quarter of the cells whose flow changes most."""
    s = changes(a).mean(1)
    return s > s.flatten(1).quantile(0.75, dim=1)[:, None, None]


def cell_stats(a: torch.Tensor, dancer: torch.Tensor) -> dict:
    d = changes(a)
    m = dancer[:, None].expand_as(d)
    step = a[:, :, 1:] - a[:, :, :-1]
    lag1 = torch.nn.functional.cosine_similarity(step[:, :, 1:], step[:, :, :-1], dim=1)
    return {"dancer": float(d[m].mean()), "bg": float(d[~m].mean()), "lag1": float(lag1.mean())}


def video_split(videos, regions) -> tuple[float, float]:
    """Mean Farneback speed inside and outside each clip's region (bool (H, W))."""
    ins, outs = [], []
    for v, r in zip(videos, regions):
        g = to_gray(v)
        mags = np.stack([pair_flow_magnitude(g[i], g[i + 1]) for i in range(len(g) - 1)])
        ins.append(mags[:, r].mean())
        outs.append(mags[:, ~r].mean())
    return float(np.mean(ins)), float(np.mean(outs))


def stage1_rows(data: Path, results: Path, folders: list[Path], cfg: dict) -> list[str]:
    """The recon row of this stage 1, then one row per lab run trained on it."""
    from scipy.ndimage import binary_dilation

    n = cfg["clips"]["length"]
    paths = Paths(data=str(data), results=str(results))
    clips = pd.read_parquet(paths.clips(n))
    test = select_clips(with_window_ids(clips[clips.split == "test"]), 40, cfg["sampling"]["seed"])
    lfae = load_lfae(Path(paths.lfae))
    flow_scale = json.loads(Path(paths.flows(n)).read_text())["flow_scale"]
    gts = [load_clip(c.frames_file, c.start_frame, c.n_frames) for c in test.itertuples()]
    with torch.no_grad():
        recon = []
        for frames in gts:
            grid, occ, _ = clip_flows(lfae, to_tensor(frames))
            recon.append(target.encode(grid[None], occ[None], flow_scale)[:, :2])
    recon = torch.cat(recon).float()
    dancer = top_quarter(recon)
    base = cell_stats(recon, dancer)
    regions = [binary_dilation(dancer_masks(to_gray(v)).any(0), iterations=4) for v in gts]
    gt_in, gt_out = video_split(gts, regions)
    lines = [f"| recon ({results}) | 1 | {base['bg'] / base['dancer']:.3g} | 1 | {base['lag1']:.3g} | | |"]
    for folder in folders:
        cache = folder / "locality.json"  # rows are deterministic (seeded sampling): computed once per stage 1
        done = json.loads(cache.read_text()) if cache.exists() else {}
        if done.get("stage1") == str(results) and done.get("lab_mtime") == (folder / "lab.json").stat().st_mtime:
            lines.append(f"| {folder.name} | " + " | ".join(f"{done['row'][c]:.3g}" for c in COLUMNS) + " |")
            continue
        r = json.loads((folder / "lab.json").read_text())
        scfg = apply_sets(copy.deepcopy(cfg), [s for s in r["setting"] if s.startswith("sampling.")])["sampling"]
        if r.get("calibration"):  # stage2_lab.py --calibrate: its videos were sampled at the calibrated scale
            scfg["guidance"] = r["calibration"]["guidance"]
        ds = DanceSampler(Path(r.get("model") or folder / "model.safetensors"), Path(paths.lfae))
        cond = MusicConditions(Path(paths.features) / f"music_embedding_n{ds.n_frames}.parquet", ds.meta["beat"])
        with torch.no_grad():
            gen = torch.cat([a0[:, :2] for _, a0, _ in test_flows(ds, cond, test, scfg)]).float()
        s = cell_stats(gen, dancer)
        overlap = float((top_quarter(gen) & dancer).sum() / dancer.sum())
        v_in, v_out = video_split(np.load(folder / "videos.npy"), regions)
        row = {"dancer_speed_vs_recon": s["dancer"] / base["dancer"], "bg_over_dancer": s["bg"] / s["dancer"],
               "mask_overlap": overlap, "lag1": s["lag1"],
               "inside_vs_gt": v_in / gt_in, "outside_vs_gt": v_out / gt_out}
        lines.append(f"| {folder.name} | " + " | ".join(f"{row[c]:.3g}" for c in COLUMNS) + " |")
        cache.write_text(json.dumps({"stage1": str(results), "lab_mtime": (folder / "lab.json").stat().st_mtime,
                                     "row": row}))
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+", help="LAB_DIR, or LAB_DIR@DATA@RESULTS for a run on another stage 1")
    ap.add_argument("--data", type=Path, default=Path("resources/synthetic"))
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config("config.yaml")
    by_stage1: dict[tuple[Path, Path], list[Path]] = {}
    for item in args.folders:
        folder, *where = item.split("@")
        key = (Path(where[0]), Path(where[1])) if where else (args.data, args.results)
        by_stage1.setdefault(key, []).append(Path(folder))
    lines = [line for (data, results), folders in by_stage1.items()
             for line in stage1_rows(data, results, folders, cfg)]
    text = "\n".join(["| run | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1), *lines])
    if args.write:
        replace_marked_block(args.write, BEGIN, END, text)
    print(text)


if __name__ == "__main__":
    main()
