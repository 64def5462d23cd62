"""Snakemake wrapper: stills, beat plot and check table of the raw dataset."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.io import write_table_atomic  # noqa: E402
from dabfusion.synth.preview import beats_figure, check_table, stills_figure  # noqa: E402

root = Path(snakemake.input.manifest).parent  # noqa: F821
stills_figure(root, Path(snakemake.output.stills))  # noqa: F821
beats_figure(root, Path(snakemake.output.beats))  # noqa: F821
write_table_atomic(snakemake.output.checks, check_table(root))  # noqa: F821
