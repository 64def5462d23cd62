"""Snakemake wrapper: the per-job benchmark files as one table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.report import runtime_table  # noqa: E402

sm = snakemake  # noqa: F821
runtime_table([Path(f) for f in sm.input.benchmarks], Path(sm.output.csv))
