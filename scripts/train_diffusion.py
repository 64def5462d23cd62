"""Snakemake wrapper: train one stage-2 variant in-process, or under torchrun for several GPUs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.training.diffusion import train_diffusion  # noqa: E402

sm = snakemake  # noqa: F821
out_dir = Path(sm.output.model).parent
cache_dir = Path(sm.input.cache).parent
cfg = sm.params.diffusion
_setup.train(sm, "dabfusion.training.diffusion", cfg, out_dir,
             ["--cache", str(cache_dir), "--lfae", sm.input.lfae, "--embedding", sm.input.embedding,
              "--out", str(out_dir)],
             lambda: train_diffusion(cfg, cache_dir, Path(sm.input.lfae), Path(sm.input.embedding), out_dir))
