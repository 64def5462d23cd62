"""Benchmark: the stage-2 U-Net's parameters, training-step and sampling-step time, and the
time of a whole video per sampler. Prints figures only.

Run: .venv/bin/python benchmarks/bench_diffusion.py
Shapes (batch 1, fp32, the CPU's threads):
- paper: dim 64, dim_mults (1, 2, 4, 8), 40 frames, 32 x 32 latent with 256 channels (259 in
  LFDM's concatenated input), e of 880 dims. LFDM's U-Net at this shape, measured on a 2-core
  CPU like this one (shared/reference/lfdm.md): 42.7 M params, 9.8 s a training step,
  2.85 s a sampling step, ~47 min for its default 1000-step DDPM video.
- default: the embedded default config (dim 32, (1, 2, 4), 16 frames, 16 x 16, 64 channels).
A video's time is (model calls of the sampler) x (sampling-step time) + rendering; the
speed-up is against LFDM's DDPM-1000 at LFDM's own measured step time.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
from dabfusion.models.unet3d import UNet3D, UNet3DConfig
spec = json.loads(sys.argv[1])
torch.manual_seed(0)
cfg = UNet3DConfig(latent_channels=spec["cz"], cond_dim=spec["cond"], **spec["model"])
net = UNet3D(cfg)
n, s = spec["frames"], spec["latent"]
x, z0, e = torch.randn(1, 3, n, s, s), torch.randn(1, spec["cz"], s, s), torch.randn(1, spec["cond"])
t = torch.tensor([500])
opt = torch.optim.Adam(net.parameters(), 2e-4)
train = []
for i in range(spec["steps"] + 1):
    t0 = time.perf_counter()
    loss = (net(x, t, z0, e) - x).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    if i: train.append(time.perf_counter() - t0)
net.eval()
sample = []
with torch.inference_mode():
    for i in range(spec["steps"] + 2):
        t0 = time.perf_counter(); net(x, t, z0, e)
        if i: sample.append(time.perf_counter() - t0)
med = lambda v: sorted(v)[len(v) // 2]
print(json.dumps({"params_M": sum(p.numel() for p in net.parameters()) / 1e6, "train_s": med(train),
                  "sample_s": med(sample), "peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

SHAPES = {
    "paper": {"model": {"dim": 64, "dim_mults": [1, 2, 4, 8], "heads": 4, "head_dim": 32}, "cz": 256, "cond": 880,
              "frames": 40, "latent": 32, "steps": 2, "lfdm": {"params_M": 42.7, "train_s": 9.8, "sample_s": 2.85}},
    "default": {"model": {"dim": 32, "dim_mults": [1, 2, 4], "heads": 4, "head_dim": 16}, "cz": 64, "cond": 736,
                "frames": 16, "latent": 16, "steps": 5, "lfdm": None},
}
SAMPLERS = [("ddpm", 1000), ("ddim", 50), ("dpmpp2m", 25), ("dpmpp2m", 15)]


def main() -> None:
    for name, spec in SHAPES.items():
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<8} {spec['frames']} frames, {spec['latent']}x{spec['latent']} latent: "
              f"{r['params_M']:.2f} M params, "
              f"training step {r['train_s']:.2f} s, sampling step {r['sample_s']:.3f} s, "
              f"peak RSS {r['peak_rss_GB']:.2f} GB")
        lfdm = spec["lfdm"]
        if lfdm:
            print(f"         LFDM (lfdm.md, same kind of CPU, not this run): {lfdm['params_M']} M, "
                  f"training step {lfdm['train_s']} s, sampling step {lfdm['sample_s']} s")
        for sampler, steps in SAMPLERS:
            video = steps * r["sample_s"]
            line = f"         {sampler:<8} {steps:>4} calls: {video:8.1f} s a video"
            if lfdm:
                line += (f"  ({1000 * lfdm['sample_s'] / video:6.1f}x faster than LFDM's DDPM-1000, "
                         f"{1000 * lfdm['sample_s']:.0f} s)")
            print(line)


if __name__ == "__main__":
    main()
