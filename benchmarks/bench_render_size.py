"""Render one dance at the model's size and at --size: sharpness and time per stage.

Run: .venv/bin/python benchmarks/bench_render_size.py [--bundle results/generator] [--photo P]
         [--music M] [--seconds 10] [--size 256] [--out docs/img/render_sizes.png]

The same photo, song and seed through `dabfusion generate`'s steps twice: rendered at the model's
S px (the paper's way) and at --size px (flows upsampled to warp the photo itself). Prints and
writes beside --out (.csv) the seconds of each stage and the sharpness of the person: mean
|Laplacian| over the person's pixels of each frame, over that of the reference frame at the
same size (1.0: as sharp as the photo placed in the studio). The 64 px video is compared after
a bicubic upsampling to --size, as a viewer would see it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def laplacian_energy(frames: np.ndarray, mask: np.ndarray) -> float:
    """Mean |Laplacian| of the gray frames (T, R, R, 3) over ``mask`` (R, R)."""
    import cv2

    out = [np.abs(cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F))[mask].mean()
           for f in frames]
    return float(np.mean(out))


def main() -> None:
    import cv2
    import pandas as pd
    from PIL import Image

    from dabfusion.generate import Generator, dance_length, load_bundle, prepare_reference
    from dabfusion.music.audio import load_music

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "results/generator")
    ap.add_argument("--photo", type=Path, default=ROOT / "tests/data/photos/full_body_stadium.jpg")
    ap.add_argument("--music", type=Path, default=ROOT / "resources/synthetic/music/mBR0.wav")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=ROOT / "docs/img/render_sizes.png")
    args = ap.parse_args()
    bundle = load_bundle(args.bundle)
    samples, sr = load_music(args.music)
    n_total = dance_length(samples, sr, bundle.fps, int(bundle.meta["n_frames"]), args.seconds, args.music)
    t = time.perf_counter()
    generator = Generator(bundle)
    load = time.perf_counter() - t
    rows, strips = [], []
    for size in (bundle.image_size, args.size):
        times = {"load": load}
        t = time.perf_counter()
        ref = prepare_reference(bundle, args.photo, size=size)
        times["person"] = time.perf_counter() - t
        video = generator.dance(ref.frame, samples, sr, n_total, seed=0, times=times, hires=ref.hires)
        times.pop("windows")
        shown = video if size == args.size else np.stack(
            [cv2.resize(f, (args.size, args.size), interpolation=cv2.INTER_CUBIC) for f in video])
        big_ref = cv2.resize(ref.hires, (args.size, args.size), interpolation=cv2.INTER_CUBIC) \
            if size != args.size else ref.hires
        rows.append({"rendered_px": size, "frames": len(video), "seconds_of_music": round(n_total / bundle.fps, 2),
                     **{f"{k}_s": round(v, 2) for k, v in times.items()}, "reference_laplacian": 0.0})
        strips.append((shown, big_ref))
    # the person's pixels: where the large reference differs from the studio behind it
    studio = np.asarray(Image.open(bundle.path(f"background_{bundle.meta['cameras'][0]}")).convert("RGB")
                        .resize((args.size, args.size), Image.BICUBIC)).astype(int)
    mask = np.abs(strips[1][1].astype(int) - studio).max(axis=-1) > 25
    photo_sharpness = laplacian_energy(strips[1][1][None], mask)
    for row, (shown, _) in zip(rows, strips):
        row["reference_laplacian"] = round(photo_sharpness, 3)
        row["video_laplacian"] = round(laplacian_energy(shown, mask), 3)
        row["sharpness_vs_photo"] = round(row["video_laplacian"] / photo_sharpness, 3)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    k = [0, n_total // 3, 2 * n_total // 3]
    top = np.concatenate([strips[0][0][i] for i in k], axis=1)
    bottom = np.concatenate([strips[1][0][i] for i in k], axis=1)
    Image.fromarray(np.concatenate([top, bottom], axis=0)).save(args.out)
    print(f"wrote {args.out} (top: rendered at {bundle.image_size} px, shown at {args.size}; bottom: at {args.size} px)"
          f" and {args.out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
