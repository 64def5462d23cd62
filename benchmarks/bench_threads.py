"""Why the default sets threads_per_job: 1 — one torch job on all cores against jobs side by side.

    .venv/bin/python benchmarks/bench_threads.py [STEPS]

Times stage-2 training steps (the default U-Net, batch 4, 16 frames) three ways on this
machine, in the same run: one process with all cores, one process with one thread, and one
one-thread process per core at once (what Snakemake does with threads_per_job: 1). Prints
steps per second of the whole machine for each.
"""
import multiprocessing as mp
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dabfusion.models.unet3d import UNet3D, UNet3DConfig  # noqa: E402

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 12


def train_steps(threads: int, steps: int, out: "mp.Queue | None" = None) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n, b = 16, 4
    model = UNet3D(UNet3DConfig(latent_channels=64, cond_dim=640 + 6 * n, dim=32, dim_mults=(1, 2, 4)))
    opt = torch.optim.Adam(model.parameters())
    x, z0, e = torch.randn(b, 3, n, 16, 16), torch.randn(b, 64, 16, 16), torch.randn(b, 640 + 6 * n)
    t = torch.randint(0, 1000, (b,))
    for i in range(steps + 1):
        if i == 1:  # the first step warms up
            start = time.perf_counter()
        loss = (model(x, t, z0, e) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    if out is not None:
        out.put(seconds)
    return seconds


if __name__ == "__main__":
    cores = os.cpu_count() or 1
    all_cores = STEPS / train_steps(cores, STEPS)
    one = STEPS / train_steps(1, STEPS)
    q = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=train_steps, args=(1, STEPS, q)) for _ in range(cores)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    side_by_side = sum(STEPS / q.get() for _ in procs)
    print(f"stage-2 training steps per second of the machine ({cores} cores, {STEPS} steps each):")
    print(f"  one job, {cores} threads:          {all_cores:.2f}")
    print(f"  one job, 1 thread:            {one:.2f}")
    print(f"  {cores} jobs side by side, 1 thread: {side_by_side:.2f}  "
          f"({side_by_side / all_cores:.2f}x one job on all cores)")
