"""Which dances fall short of motion? Per genre, over the test clips the tables use: the ground
truth's speed, the same clips re-animated by stage 1 with their own flows (the ceiling of any
stage 2), and each sampled variant's, over the ground truth's. Then what the ground truth of
Figure 6's tracks scores on Figure 6's yardstick (real dancers dancing that music, filmed by that
camera, over the camera's training dancers): the figure a faithful model would reach there.

    .venv/bin/python benchmarks/motion_by_genre.py RESULTS DATA [--variants base base_seed1 ...] [--write DOC]

Run in the checkout of a finished run (its config.yaml picks the test clips). The speeds are the
pipeline's (``video_motion_envelope``, px/s); the variants' come from ``RESULTS/eval/*/per_video.csv``.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.checkpoints import load_lfae  # noqa: E402
from dabfusion.clips import select_clips  # noqa: E402
from dabfusion.config import load_config  # noqa: E402
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.io import replace_marked_block  # noqa: E402
from dabfusion.learning_curve import reanimate  # noqa: E402
from dabfusion.metrics.alignment import video_motion_envelope  # noqa: E402


def speed(video: np.ndarray, fps: float) -> float:
    return float(video_motion_envelope(video, fps).mean())


def stage1_ceiling(lfae_file: Path, test: pd.DataFrame) -> list[float]:
    """Each test clip's speed re-animated from its first frame with its own stage-1 flows."""
    lfae = load_lfae(lfae_file)
    return [speed(reanimate(lfae, c)[0], c.fps) for c in test.itertuples()]


def figure6_truth(clips: pd.DataFrame, figure6: pd.DataFrame, yardstick: dict) -> pd.DataFrame:
    """Per (track, camera) of the Figure 6 table: the ground-truth clips of that track in that
    camera (every split), their speed over the camera's training dancers'."""
    rows = []
    for (track, cam), _ in figure6.groupby(["track", "camera"]):
        part = clips[(clips.music_id == track) & (clips.camera.str.lower() == cam)]
        px = [speed(load_clip(c.frames_file, int(c.start_frame), int(c.n_frames)), c.fps) for c in part.itertuples()]
        rows.append({"track": track, "camera": cam, "clips": len(part),
                     "truth_vs_training": np.mean(px) / yardstick[cam]})
    return pd.DataFrame(rows)


def report(args) -> str:
    """The printed report: markdown tables with their captions."""
    cfg = load_config("config.yaml")
    clips = pd.read_parquet(args.data / "processed" / f"clips_n{args.n}.parquet")
    test = select_clips(clips[clips.split == "test"], cfg["sampling"]["max_clips"], cfg["sampling"]["seed"])
    truth = pd.read_csv(args.results / "eval" / "gt" / "per_video.csv").set_index("clip_id").motion
    test = test.assign(gt=test.clip_id.map(truth).to_numpy(),
                       stage1=stage1_ceiling(args.results / "models" / "lfae" / "model.safetensors", test))
    for v in args.variants:
        test[v] = test.clip_id.map(pd.read_csv(args.results / "eval" / v / "per_video.csv").set_index("clip_id").motion)
    cols = ["stage1", *args.variants]
    by_genre = test.groupby("genre")[["gt", *cols]].mean()
    table = pd.concat([by_genre[["gt"]].rename(columns={"gt": "gt_px_s"}),
                       by_genre[cols].div(by_genre["gt"], axis=0).add_suffix("_vs_gt")], axis=1)
    table.loc["all"] = [test["gt"].mean(), *(test[c].mean() / test["gt"].mean() for c in cols)]
    sizes = test.groupby("genre").size()
    out = [f"Motion per genre over the ground truth's ({len(test)} test clips, {sizes.min()}-{sizes.max()} a genre; "
           "`stage1`: the clips re-animated with their own stage-1 flows):", "",
           table.round(3).to_markdown(), ""]
    for v in args.variants:
        r = np.corrcoef(by_genre["gt"], by_genre[v])[0, 1]
        out.append(f"- {v}: the genres' mean speeds correlate {r:.3f} with the ground truth's.")
    f6_file = args.results / "figure6" / "figure6.csv"
    if f6_file.exists():
        meta = json.loads((args.results / "generator" / "generator.json").read_text())
        f6 = figure6_truth(clips, pd.read_csv(f6_file), meta["training_motion_by_camera"])
        out += ["", "The ground truth of Figure 6's tracks in its cameras, over the camera's training dancers "
                f"(mean over the cells {f6.truth_vs_training.mean():.3f}):", "",
                f6.round(3).to_markdown(index=False), ""]
        truth_of = f6.set_index(["track", "camera"]).truth_vs_training
        tables = [f6_file, *sorted((args.results / "figure6" / "seeds").glob("*/figure6.csv"))]
        rows = []
        for path in tables:
            t = pd.read_csv(path)
            t["truth"] = [truth_of[k] for k in zip(t.track, t.camera)]
            by_track = t.groupby("track").motion_vs_training.sum() / t.groupby("track").truth.sum()
            rows.append({"figure 6 table": str(path.relative_to(args.results)),
                         "motion_vs_training": t.motion_vs_training.mean(),
                         "over the truth": t.motion_vs_training.sum() / t.truth.sum(),
                         **{f"over the truth, {k}": v for k, v in by_track.items()}})
        out += ["Each Figure 6 table: its videos' mean `motion_vs_training` over the ground truth's of the same "
                "(track, camera) cells:", "", pd.DataFrame(rows).round(3).to_markdown(index=False)]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--variants", nargs="+", default=["base"])
    ap.add_argument("--n", type=int, default=16, help="clip length (frames)")
    ap.add_argument("--write", type=Path, help="also put the report between the markers "
                    "'<!-- motion by genre: begin -->' and '<!-- motion by genre: end -->' of this file")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    text = report(args)
    print(text)
    if args.write:
        replace_marked_block(args.write, "<!-- motion by genre: begin -->", "<!-- motion by genre: end -->", text)


if __name__ == "__main__":
    main()
