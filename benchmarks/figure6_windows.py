"""Does a long dance lose its motion window by window? The dancer's speed in each window of the
Figure 6 videos of a finished run, over the training dancers' ground truth's.

    .venv/bin/python benchmarks/figure6_windows.py [RESULTS_DIR]      (default: results)

`dabfusion generate` makes a video longer than one window in windows of the model's clip
length that overlap by a quarter; each window after the first adds the frames past that
overlap. Per video of ``RESULTS_DIR/figure6/figure6.csv`` it prints the speed of each window's
new frames (the pair speeds of the tables' motion metric, ``pair_speeds``, in pixels/s) over
the bundle's ``training_motion``, and the mean over the videos per window. Flat rows: the
chaining keeps the motion; falling rows: it loses it.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.generate import default_overlap, window_starts  # noqa: E402
from dabfusion.metrics.alignment import pair_speeds, read_video_frames  # noqa: E402


def window_speeds(frames: np.ndarray, fps: float, n_frames: int) -> list[float]:
    """uint8 (T, H, W, 3) -> mean dancer speed (pixels/s) of the new frames of each window."""
    speeds = pair_speeds(frames) * fps
    overlap = default_overlap(n_frames)
    starts = window_starts(len(frames), n_frames, overlap)
    first_new = [0] + [s + overlap for s in starts[1:]]
    ends = [min(s + n_frames, len(frames)) for s in starts]
    # pair i joins frames i and i+1: a window's pairs end one before its last frame
    return [float(speeds[a:b - 1].mean()) for a, b in zip(first_new, ends)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", type=Path, default=Path("results"))
    args = ap.parse_args()
    table = pd.read_csv(args.results / "figure6" / "figure6.csv")
    meta = json.loads((args.results / "generator" / "generator.json").read_text())
    rows = []
    for r in table.itertuples():
        # the table names videos from the run's working directory; they sit in figure6/videos
        frames, fps = read_video_frames(args.results / "figure6" / "videos" / Path(r.video).name)
        rows.append(np.array(window_speeds(frames, fps, meta["n_frames"])) / meta["training_motion"])
        print(f"{r.dancer} {r.track} {r.camera}: " + " ".join(f"{x:.2f}" for x in rows[-1]))
    width = min(len(r) for r in rows)
    print("mean per window: " + " ".join(f"{x:.2f}" for x in np.mean([r[:width] for r in rows], axis=0)))


if __name__ == "__main__":
    main()
