"""Benchmark: synthetic dataset generation time and size for the default and smoke configs.

Prints figures; asserts nothing. Run: .venv/bin/python benchmarks/bench_synthetic.py
The one-worker smoke run is the in-run baseline for the two-worker speed-up.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from dabfusion.config import load_config
from dabfusion.synth.dataset import generate

ROOT = Path(__file__).resolve().parent.parent


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(label: str, presets: list[str], workers: int) -> None:
    cfg = load_config(ROOT / "config.yaml", [ROOT / p for p in presets])["synthetic"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        m = generate(cfg, tmp, workers=workers, progress=False)
        dt = time.perf_counter() - t0
        frames = int(pd.read_csv(Path(tmp, "truth/sequences.csv")).n_frames.sum()) * len(cfg["cameras"])
        print(f"{label:<10} workers={workers}  {m['n_videos']:>4} videos  {frames:>6} frames  "
              f"{dt:7.1f} s  {frames / dt:7.0f} frames/s  {du(Path(tmp)) / 2**20:6.1f} MiB")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(f"cores: {os.cpu_count()}")
    run("smoke", ["presets/smoke.yaml"], 1)
    run("smoke", ["presets/smoke.yaml"], 2)
    run("default", [], 2)
