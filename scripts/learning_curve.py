"""Snakemake wrapper: the base variant's learning curve (2D-MM Align, motion, FVD against steps)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.calibration import with_calibrated_guidance  # noqa: E402
from dabfusion.learning_curve import learning_curve  # noqa: E402

sm = snakemake  # noqa: F821
# every snapshot at the final model's guidance: the curve shows what training changes, at one sampling
scfg = with_calibrated_guidance(sm.params.sampling, sm.input.get("guidance"), sm.input.model)
torch.set_num_threads(sm.threads)
dcfg = sm.params.diffusion
steps = dcfg["steps_per_epoch"] or max(1, json.loads(Path(sm.input.cache).read_text())["clips"] // dcfg["batch_size"])
learning_curve(list(zip(sm.params.epochs, map(Path, [*sm.input.snapshots, sm.input.model]))), steps,
               Path(sm.input.lfae), Path(sm.input.clips), Path(sm.input.embedding), Path(sm.input.beats),
               scfg, sm.params.evaluation, Path(sm.output.csv))
