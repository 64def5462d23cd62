"""Snakemake wrapper: the evaluation's music beats of every track, tracked once for all scoring jobs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.evaluate import write_track_beats  # noqa: E402

write_track_beats(Path(snakemake.input.music), Path(snakemake.output.beats))  # noqa: F821
