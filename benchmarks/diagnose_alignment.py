"""Diagnosis: is each method's motion on the beat, and how much does it move? Prints figures only.

Run: .venv/bin/python benchmarks/diagnose_alignment.py [RESULTS_DIR] [DATA_DIR]
     (defaults: results, resources/synthetic: a finished default run)

Per method (ground truth, every sampled variant, the baselines), over the test clips:
- 2D-MM Align against the evaluation's music beats, and its chance control: the same videos
  against the beats shifted by half a beat period (a method on the beat drops, chance stays);
- where the kinematic beats fall in the beat period (phase histogram, 8 bins, 0 = on a beat);
- the dancer's speed on beat frames / off beat frames (real dance slows down on beats: < 1);
- the mean speed against the ground truth's (a still dancer is far below 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dabfusion.metrics.alignment import (
    SIGMA_SECONDS,
    mm_align,
    shifted_half_period,
    video_kinematic_beats,
    video_motion_envelope,
)


def clip_frames(row, method: str) -> np.ndarray:
    if method == "gt":
        return np.asarray(np.load(row.frames_file, mmap_mode="r")[row.start_frame:row.start_frame + row.n_frames])
    return np.load(row.generated_frames)


def diagnose(results: Path, data: Path) -> pd.DataFrame:
    beats_of = pd.read_parquet(data / "features/evaluation_beats.parquet").set_index("music_id")["beats"]
    methods = ["gt"] + sorted(p.name for p in (results / "samples").iterdir() if (p / "samples.csv").exists())
    rows, gt_speed = [], None
    for method in methods:
        samples = pd.read_csv(results / "samples" / ("base" if method == "gt" else method) / "samples.csv")
        own, chance, phases, on, off, speed, n_kin = [], [], [], [], [], [], 0
        for r in samples.itertuples():
            frames = clip_frames(r, method)
            beats = np.asarray(beats_of[r.music_id]) - r.music_start  # in the clip's time
            kin = video_kinematic_beats(frames, r.fps)
            n_kin += len(kin)
            own.append(mm_align(kin, beats, SIGMA_SECONDS))
            chance.append(mm_align(kin, shifted_half_period(beats), SIGMA_SECONDS))
            for t in kin:
                i = np.searchsorted(beats, t) - 1
                if 0 <= i < len(beats) - 1:
                    phases.append((t - beats[i]) / (beats[i + 1] - beats[i]))
            env = video_motion_envelope(frames, r.fps)
            t = np.arange(len(frames)) / r.fps
            near = np.min(np.abs(t[:, None] - beats[None, :]), axis=1) < 0.5 / r.fps
            on += list(env[near])
            off += list(env[~near])
            speed.append(env.mean())
        mean_speed = float(np.mean(speed))
        gt_speed = gt_speed or mean_speed
        hist = np.histogram(phases, bins=8, range=(0, 1))[0]
        rows.append({"method": method, "clips": len(samples), "kinematic_beats": n_kin,
                     "mm_align": np.mean(own), "mm_align_half_period_shift": np.mean(chance),
                     "phase_hist": " ".join(f"{h:3d}" for h in hist),
                     "speed_on_off_beat": np.mean(on) / max(np.mean(off), 1e-9),
                     "speed_vs_gt": mean_speed / gt_speed})
    return pd.DataFrame(rows)


def main() -> None:
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results")
    data = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("resources/synthetic")
    if not (results / "samples").is_dir():
        sys.exit(f"{results}: no samples/ folder; point this at a finished run's results (make demo)")
    pd.set_option("display.width", 200)
    print(diagnose(results, data).to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
