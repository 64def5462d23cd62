"""Snakemake wrapper: stage-1 reconstruction metrics and picture grid on held-out clips."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.checkpoints import load_lfae  # noqa: E402
from dabfusion.metrics.reconstruction import evaluate_lfae  # noqa: E402

sm = snakemake  # noqa: F821
cfg = sm.params.lfae
evaluate_lfae(load_lfae(Path(sm.input.model)), Path(sm.input.clips), cfg["eval_clips"], cfg["seed"],
              Path(sm.output.table), Path(sm.output.grid), Path(cfg["lpips_weights"]) if cfg["lpips_weights"] else None)
