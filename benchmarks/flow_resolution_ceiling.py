"""How much of the dancers' motion can a backward flow of s x s cells carry? An oracle for stage 1.

Run: .venv/bin/python benchmarks/flow_resolution_ceiling.py [DATA_DIR]   (default resources/synthetic)

For the 40 test clips the tables use: Farneback optical flow from each frame back to frame 0
(the true backward flow, as far as Farneback sees it), averaged to s x s cells, upsampled,
warps frame 0; the motion metric of the tables (``video_motion_envelope``) on the result over
the ground truth's. Stage 1's flows live on a 16 x 16 grid (64 px frames): if the oracle keeps
the motion at 16 x 16, a stage 1 that loses it loses it in its flow predictor, not in the grid.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stage1_motion_budget import oracle, true_backward_flows  # noqa: E402

from dabfusion.clips import select_clips  # noqa: E402
from dabfusion.config import load_config  # noqa: E402
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.metrics.alignment import video_motion_envelope  # noqa: E402
from dabfusion.music.features import with_window_ids  # noqa: E402
from dabfusion.plan import Paths  # noqa: E402

GRIDS = (64, 32, 16, 8)


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("resources/synthetic")
    cfg = load_config("config.yaml")
    fps, n = cfg["extract"]["fps"], cfg["clips"]["length"]
    clips = pd.read_parquet(Paths(data=str(data), results="").clips(n))
    test = select_clips(with_window_ids(clips[clips.split == "test"]), cfg["sampling"]["max_clips"],
                        cfg["sampling"]["seed"])
    motion = {s: [] for s in ("gt", *GRIDS)}
    for c in test.itertuples():
        frames = load_clip(c.frames_file, c.start_frame, c.n_frames)
        motion["gt"].append(video_motion_envelope(frames, fps).mean())
        true = true_backward_flows(frames)
        for s in GRIDS:
            motion[s].append(video_motion_envelope(oracle(frames, true, s), fps).mean())
    gt = float(np.mean(motion["gt"]))
    print(f"{len(test)} test clips of {data}; ground truth motion {gt:.2f} px/s")
    print("flow grid,motion_vs_gt")
    for s in GRIDS:
        print(f"{s}x{s},{np.mean(motion[s]) / gt:.3f}")


if __name__ == "__main__":
    main()
