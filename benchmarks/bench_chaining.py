"""Long dances: the paper's chaining (each window restarts from the last generated frame) against
ours (every window warps the original reference and continues the previous window's last frames).

Run after `snakemake results/generator` (the default config):
    .venv/bin/python benchmarks/bench_chaining.py [SECONDS] [CHUNK_SECONDS]

Reference: the first frame of a synthetic test clip (a real dancer in the real studio); music:
a new SECONDS-long synthetic track. Per chunk of CHUNK_SECONDS it prints, for both methods:
  bg_psnr   PSNR of the studio (pixels that are background in the reference and in the frame)
            against the reference frame: the studio never changes, so any loss is drift;
  sharpness mean |Laplacian| of the frame over that of the reference (1 = as sharp);
  seam      mean |frame difference| across window boundaries over that inside windows
            (1 = boundaries as smooth as the rest).
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.config import load_config  # noqa: E402
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.generate import Generator, default_overlap, load_bundle, window_starts  # noqa: E402
from dabfusion.logs import setup_logging  # noqa: E402
from dabfusion.person import dancer_mask  # noqa: E402
from dabfusion.plan import Paths  # noqa: E402
from dabfusion.synth.music import synthesize_track  # noqa: E402


def laplacian(x: np.ndarray) -> float:
    g = x.astype(np.float32).mean(-1)
    return float(np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).mean())


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    chunk = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    setup_logging()
    torch.set_num_threads(2)
    cfg = load_config(ROOT / "config.yaml")
    bundle = load_bundle(Path(cfg["results_dir"]) / "generator")
    clips = pd.read_parquet(Paths(data=cfg["data_dir"], results=cfg["results_dir"]).clips(cfg["clips"]["length"]))
    clip = clips[(clips.split == "test") & (clips.camera.str.lower() == bundle.meta["cameras"][0])].iloc[0]
    ref_frame = load_clip(clip.frames_file, int(clip.start_frame), 1)[0]
    studio = np.asarray(Image.open(bundle.path(f"background_{bundle.meta['cameras'][0]}")).convert("RGB"))
    sr = 22050
    samples = synthesize_track("mHO5", seconds, sr, seed=123).samples  # a House track at 110 BPM, never heard
    fps, n = bundle.fps, int(bundle.meta["n_frames"])
    n_total = int(round(seconds * fps))
    generator = Generator(bundle, device="cpu")
    ref_bg = ~dancer_mask(ref_frame, studio)
    ref_sharp = laplacian(ref_frame)
    print(f"{seconds:g} s dance, {n}-frame windows at {fps:g} fps, chunks of {chunk:g} s")
    for method, overlap in (("last_frame", 1), ("anchored", default_overlap(n))):
        starts = window_starts(n_total, n, overlap)
        times = {}
        video = generator.dance(ref_frame, samples, sr, n_total, 0, method, overlap, times=times)
        diffs = np.abs(np.diff(video.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
        # the frame pairs (i, i + 1) that straddle a window boundary
        seams = {s + (overlap - 1) for s in starts[1:]} if method == "anchored" else {s for s in starts[1:]}
        per = int(round(chunk * fps))
        print(f"{method}: {len(starts)} windows; music {times['music']:.1f} s, motion {times['motion']:.1f} s, "
              f"render {times['render']:.1f} s")
        for c in range(0, n_total, per):
            frames = video[c:c + per]
            psnrs = []
            for f in frames:
                bg = ref_bg & ~dancer_mask(f, studio)
                mse = float(((f[bg].astype(np.float32) - ref_frame[bg].astype(np.float32)) ** 2).mean()) / 255.0**2
                psnrs.append(10 * np.log10(1.0 / max(mse, 1e-10)))
            sharp = np.mean([laplacian(f) for f in frames]) / ref_sharp
            idx = np.arange(c, min(c + per, n_total) - 1)
            at = [diffs[i] for i in idx if i in seams]
            inside = [diffs[i] for i in idx if i not in seams]
            seam = (np.mean(at) / max(np.mean(inside), 1e-6)) if at else float("nan")
            print(f"  {c / fps:5.1f}-{min(c + per, n_total) / fps:5.1f} s  bg_psnr {np.mean(psnrs):6.2f}  "
                  f"sharpness {sharp:5.3f}  seam {seam:5.2f}")


if __name__ == "__main__":
    main()
