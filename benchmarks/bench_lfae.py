"""Benchmark: stage-1 training step time, peak memory and images/s. Prints figures only.

Run: .venv/bin/python benchmarks/bench_lfae.py
Each shape runs in a fresh process so that its peak resident memory is its own. Shapes:
- default: the embedded default config (64 px, small widths, VGG to relu2_2 at one scale)
- paper: 128 px, the aistpp preset's stage-1 model (LFDM-like widths), VGG-19 pyramid
  (5 slices, 4 scales) as in LFDM; for reference LFDM's mug128 config takes 10.7-11.0 s a
  step at batch 8 on a 2-core CPU (shared/reference/lfdm.md)
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
from dabfusion.models.lfae import LatentFlowAE, LFAEConfig
from dabfusion.models.losses import VGGPyramidLoss, equivariance_loss, random_affine
spec = json.loads(sys.argv[1])
cfg = LFAEConfig.from_dict({**spec["model"], "image_size": spec["size"]})
torch.manual_seed(0)
model = LatentFlowAE(cfg)
vgg = VGGPyramidLoss(None, spec["vgg_layers"], spec["vgg_scales"])
opt = torch.optim.Adam(model.parameters(), 2e-4)
b, s = spec["batch"], spec["size"]
x, y = torch.rand(b, 3, s, s), torch.rand(b, 3, s, s)
g = torch.Generator().manual_seed(0)
times = []
for i in range(spec["steps"] + 1):
    t0 = time.perf_counter()
    r = model(x, y)
    loss = (vgg(r["out"], y) + (r["out"] - y).abs().mean()
            + equivariance_loss(model.detect, y, r["kp_dri"][0], random_affine(b, 0.05, g)))
    opt.zero_grad(); loss.backward(); opt.step()
    if i: times.append(time.perf_counter() - t0)
params = sum(p.numel() for p in model.parameters()) / 1e6
step = sorted(times)[len(times) // 2]
print(json.dumps({"params_M": params, "step_s": step, "images_per_s": b / step,
                  "peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

SHAPES = {
    "default (64 px)": {"size": 64, "batch": 8, "steps": 5, "vgg_layers": 2, "vgg_scales": [1.0],
                        "model": {"channels": 16, "res_blocks": 2, "keypoints": 10, "motion_scale": 0.5,
                                  "hourglass": [16, 32, 64]}},
    "paper (128 px)": {"size": 128, "batch": 8, "steps": 2, "vgg_layers": 5, "vgg_scales": [1.0, 0.5, 0.25, 0.125],
                       "model": {"channels": 64, "res_blocks": 6, "keypoints": 10, "motion_scale": 0.25,
                                 "hourglass": [64, 128, 256, 512, 1024]}},
}


def main() -> None:
    for name, spec in SHAPES.items():
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<16} batch {spec['batch']:>3}: {r['params_M']:6.2f} M params, {r['step_s']:6.2f} s/step, "
              f"{r['images_per_s']:6.1f} images/s, peak RSS {r['peak_rss_GB']:.2f} GB")


if __name__ == "__main__":
    main()
