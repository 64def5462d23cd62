"""How fast do the training dancers move, genre by genre and camera by camera? Figure 6's yardstick
(``generate.training_motion``: the dancer's optical-flow speed, px/s) split by the genre of the
music, beside each camera's over every genre (the bundle's ``training_motion_by_camera``).

    .venv/bin/python benchmarks/training_motion_by_genre.py DATA [--per-cell 10] [--n 16] \
        [--figure6 RESULTS/figure6/figure6.csv --bundle RESULTS/generator ...]

DATA is a run's data_dir (its processed/clips_n{N}.parquet). Prints the mean speed per genre and
camera, and the same over the camera's mean: what a dancer of each genre moves, as a share of
that camera's yardstick. Figure 6 dances to three genres' test tracks; where the training dancers
of a genre move at a third of their camera's mean, a faithful dance to that genre does too.
``--figure6`` (one table per ``--bundle`` it was made with): each video's speed over that of the
training dancers of its track's genre in its camera, beside ``motion_vs_training`` (its camera's).
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.generate import training_motion  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--per-cell", type=int, default=10, help="training clips per (genre, camera)")
    ap.add_argument("--n", type=int, default=16, help="clip length (frames)")
    ap.add_argument("--figure6", type=Path, nargs="*", default=[], help="Figure 6 tables (figure6.csv)")
    ap.add_argument("--bundle", type=Path, nargs="*", default=[], help="the generator bundle of each table")
    args = ap.parse_args()
    if len(args.figure6) != len(args.bundle):
        ap.error("give one --bundle for each --figure6 table")
    clips = pd.read_parquet(args.data / "processed" / f"clips_n{args.n}.parquet")
    cameras = sorted(clips.camera.str.lower().unique())
    speed = pd.DataFrame({cam: {g: training_motion(part, max_clips=args.per_cell, camera=cam)
                                for g, part in clips.groupby("genre")} for cam in cameras})
    camera_mean = pd.Series({cam: training_motion(clips, max_clips=2 * args.per_cell, camera=cam) for cam in cameras})
    print(f"training dancers' speed (px/s), up to {args.per_cell} clips a cell:")
    print(speed.round(2).to_string())
    print("each camera's, every genre (the bundle's training_motion_by_camera):", camera_mean.round(2).to_dict())
    print("\nshare of the camera's:")
    print((speed / camera_mean).round(2).to_string())
    for table, bundle in zip(args.figure6, args.bundle):
        f6 = pd.read_csv(table)
        yardstick = json.loads((bundle / "generator.json").read_text())["training_motion_by_camera"]
        px = f6.motion_vs_training * f6.camera.map(yardstick)  # the video's speed, px/s
        f6["motion_vs_genre"] = px / [speed.loc[t[1:3], c] for t, c in zip(f6.track, f6.camera)]
        print(f"\n{table}:")
        cols = ["dancer", "track", "camera", "motion_vs_training", "motion_vs_genre"]
        print(f6[cols].round(3).to_string(index=False))
        print("mean:", f6[["motion_vs_training", "motion_vs_genre"]].mean().round(3).to_dict())


if __name__ == "__main__":
    main()
