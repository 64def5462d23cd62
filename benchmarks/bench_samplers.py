"""Benchmark: how close each sampler's flows come to the stage-1 targets, per model call budget.

Run after the default pipeline has trained the base variant:
    .venv/bin/python benchmarks/bench_samplers.py [results/models/diffusion/base/model.safetensors]
For a few training clips (same seeds for every sampler) it samples the flow volume from the
clip's z0 and music and prints the flow MSE against the cached stage-1 target, the spread of
the sampled flow, the mean occlusion (target ~1), and seconds; "zero flow" is the baseline
of predicting no motion. Samples are plausible motions, not the clip's own, so the MSE
measures sanity (no blow-up, right scale), not fidelity.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import torch

from dabfusion.checkpoints import load_unet
from dabfusion.diffusion import samplers
from dabfusion.diffusion.conditions import MusicConditions
from dabfusion.diffusion.schedule import CosineSchedule
from dabfusion.training.diffusion import FlowVolumes
from dabfusion.training.flow_cache import load_cache

RUNS = [("ddpm", 1000, True), ("ddim", 50, True), ("ddim", 25, True), ("ddim", 25, False), ("dpmpp2m", 25, True),
        ("dpmpp2m", 15, True), ("dpmpp2m", 10, True)]


def main() -> None:
    model = Path(sys.argv[1] if len(sys.argv) > 1 else "results/models/diffusion/base/model.safetensors")
    if not model.exists():
        print(f"{model} not found: run `snakemake --cores all {model}` first")
        return
    net, meta = load_unet(model)
    n = meta["n_frames"]
    feats = Path("resources/synthetic/features")
    data = FlowVolumes(load_cache(feats / f"flows_n{n}"), MusicConditions(feats / f"music_embedding_n{n}.parquet",
                                                                          meta["beat"]))
    b = data.batch(list(range(0, len(data), max(1, len(data) // 4)))[:4])
    a0, s = b["a0"], CosineSchedule(meta["timesteps"])
    pred = meta.get("prediction", "eps")
    fn = lambda x, t, drop: s.eps_from_output(pred, x, t, net(x, t, b["z0"], b["e"], b["beats"], drop))  # noqa: E731
    print(f"{model} (prediction {pred}), {len(a0)} training clips of {n} frames")
    print(f"zero flow: flow MSE {float(a0[:, :2].pow(2).mean()):.4f}, target flow std {float(a0[:, :2].std()):.3f}")
    with torch.inference_mode():
        for name, steps, th in RUNS:
            t0 = time.perf_counter()
            out = samplers.sample(name, samplers.classifier_free(fn, 1.0), s, a0.shape,
                                  torch.Generator().manual_seed(1), steps,
                                  threshold=(functools.partial(samplers.dynamic_threshold, percentile=0.9)
                                             if th else None))
            sec = time.perf_counter() - t0
            print(f"{name:<8} {samplers.model_calls(name, s, steps):>5} calls, threshold {'on ' if th else 'off'}: "
                  f"flow MSE {float((out - a0)[:, :2].pow(2).mean()):10.4f}, flow std {float(out[:, :2].std()):8.3f}, "
                  f"occlusion {float(((out[:, 2] + 1) / 2).mean()):7.3f}, {sec:6.1f} s")


if __name__ == "__main__":
    main()
