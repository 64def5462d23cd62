"""Snakemake wrapper: ground truth | generated videos with music, for the report."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.report import side_by_side  # noqa: E402

sm = snakemake  # noqa: F821
side_by_side(Path(sm.input.samples), Path(sm.input.music), sm.params.n, Path(sm.output.videos))
