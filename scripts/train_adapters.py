"""Snakemake wrapper: train and evaluate the style and movement adapters."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.music.features import train_adapters  # noqa: E402

sm = snakemake  # noqa: F821
train_adapters(Path(sm.input.clips), Path(sm.input.windows), Path(sm.input.motion), sm.params.music,
               Path(sm.output.style), Path(sm.output.movement), Path(sm.output.evaluation))
