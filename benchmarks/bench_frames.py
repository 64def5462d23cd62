"""Benchmark: frame extraction and clip loading. Prints figures; asserts nothing.

Run: .venv/bin/python benchmarks/bench_frames.py [--seconds 10] [--repeats 3]

Input: an AIST++-like video (1920x1080, 60 fps, H.264 at 10 Mbit/s, AAC audio) made by
upscaling a synthetic clip with ffmpeg. Output in every case: 128x128 frames at 30 fps,
centre-cropped, as the aistpp preset extracts them.

- ours: dabfusion.frames.extract_video (decord, resize inside the decoder, memory-mapped .npy)
- baseline A, the AIST++ API's way (`load_video(path, fps=60)`):
  `ffmpeg -i v -vf fps=60:round=down -f rawvideo -pix_fmt rgb24 pipe:` reading full-resolution
  frames at the annotation rate, then keeping every 2nd (30 fps), crop + resize in Python (PIL)
- baseline B, a tuned pipe: ffmpeg does fps, crop and scale in its filter graph and pipes
  128x128 frames

Clip loading: random 40-frame clips from the .npy store (memory-mapped slices), against
decoding the same clips from the original video with decord.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from dabfusion.config import validate_config
from dabfusion.frames import ExtractSpec, extract_video, load_clip
from dabfusion.synth.dataset import generate


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_input(tmp: Path, seconds: float) -> Path:
    cfg = validate_config({"synthetic": {"genres": ["HO"], "tracks_per_genre": 1, "dancers_per_genre": 1,
                                         "situations": ["sFM"], "cameras": ["c01"], "fps": 60,
                                         "seconds": {"sFM": seconds}, "width": 384, "height": 216}})["synthetic"]
    generate(cfg, tmp / "synth", workers=2, progress=False)
    small = next((tmp / "synth/videos").glob("*.mp4"))
    big = tmp / "aist_like_1080p.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(small), "-vf", "scale=1920:1080",
                    "-c:v", "libx264", "-preset", "veryfast", "-b:v", "10M", "-r", "60", "-c:a", "aac", str(big)],
                   check=True)
    return big


def baseline_full_pipe(video: Path, size: int, fps: int) -> np.ndarray:
    from PIL import Image

    w, h = 1920, 1080
    proc = subprocess.Popen([ffmpeg_exe(), "-loglevel", "error", "-i", str(video), "-vf", "fps=60:round=down",
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"], stdout=subprocess.PIPE)
    frames = []
    x0 = (w - h) // 2
    step = 60 // fps
    i = 0
    while True:
        buf = proc.stdout.read(w * h * 3)
        if len(buf) < w * h * 3:
            break
        if i % step == 0:
            img = np.frombuffer(buf, np.uint8).reshape(h, w, 3)[:, x0:x0 + h]
            frames.append(np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR)))
        i += 1
    proc.wait()
    return np.stack(frames)


def baseline_filter_pipe(video: Path, size: int, fps: int) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(video), "-vf",
                          f"fps={fps}:round=down,crop=ih:ih,scale={size}:{size}", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "pipe:"], stdout=subprocess.PIPE, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, size, size, 3)


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, res = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    size, fps = 128, 30
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        video = make_input(tmp, args.seconds)
        out = tmp / "frames.npy"
        t_ours, _ = best_of(lambda: extract_video(video, out, ExtractSpec(size, fps, "crop")), args.repeats)
        n = len(np.load(out, mmap_mode="r"))
        t_a, fa = best_of(lambda: baseline_full_pipe(video, size, fps), args.repeats)
        t_b, fb = best_of(lambda: baseline_filter_pipe(video, size, fps), args.repeats)
        print(f"input: 1920x1080 60 fps, {args.seconds:g} s; output {n} frames of {size}x{size} at {fps} fps "
              f"(best of {args.repeats})")
        print(f"  ours (decord, in-decoder resize) : {t_ours:6.2f} s  {n / t_ours:7.1f} frames/s")
        print(f"  baseline A (AIST++ API, 60 fps)  : {t_a:6.2f} s  {len(fa) / t_a:7.1f} frames/s  "
              f"-> ours is {t_a / t_ours:.1f}x")
        print(f"  baseline B (ffmpeg filter pipe)  : {t_b:6.2f} s  {len(fb) / t_b:7.1f} frames/s  "
              f"-> ours is {t_b / t_ours:.1f}x")
        ours = np.load(out)
        m = min(len(ours), len(fb))
        print(f"  frames: ours {len(ours)}, A {len(fa)}, B {len(fb)}; mean |ours - B| = "
              f"{np.abs(ours[:m].astype(float) - fb[:m]).mean():.2f} / 255")

        # clip loading: the training loader's access pattern
        import decord

        rng = np.random.default_rng(0)
        starts = rng.integers(0, n - 40, size=200)
        t0 = time.perf_counter()
        for s in starts:
            load_clip(out, int(s), 40)
        t_store = time.perf_counter() - t0
        vr = decord.VideoReader(str(video), width=228, height=128)
        t0 = time.perf_counter()
        for s in starts[:20]:
            vr.get_batch(list(range(2 * int(s), 2 * int(s) + 80, 2))).asnumpy()
        t_dec = (time.perf_counter() - t0) * 10
        print(f"clip loading, 40 frames of {size}x{size}: store {200 / t_store:8.1f} clips/s "
              f"({1000 * t_store / 200:.2f} ms/clip); decoding the mp4 {200 / t_dec:6.1f} clips/s")
        print(f"store size: {out.stat().st_size / n / 1024:.1f} KiB/frame "
              f"({out.stat().st_size / 2**20:.1f} MiB for {args.seconds:g} s)")


if __name__ == "__main__":
    main()
