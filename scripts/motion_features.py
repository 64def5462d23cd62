"""Snakemake wrapper: the motion descriptor of every clip (target of the movement adapter)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.music.features import compute_motion  # noqa: E402

compute_motion(Path(snakemake.input.clips), Path(snakemake.output.motion))  # noqa: F821
