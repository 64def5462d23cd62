"""Snakemake wrapper: the loss curves of stage 1 and every stage-2 variant."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.report import loss_curves  # noqa: E402

sm = snakemake  # noqa: F821
loss_curves({name: Path(path) for name, path in sm.input.items()}, Path(sm.output.png))
