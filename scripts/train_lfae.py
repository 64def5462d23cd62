"""Snakemake wrapper: train stage 1 in-process, or under torchrun when several GPUs are asked for."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.training.lfae import train_lfae  # noqa: E402

sm = snakemake  # noqa: F821
out_dir = Path(sm.output.model).parent
_setup.train(sm, "dabfusion.training.lfae", sm.params.lfae, out_dir, ["--clips", sm.input.clips, "--out", str(out_dir)],
             lambda: train_lfae(sm.params.lfae, Path(sm.input.clips), out_dir))
