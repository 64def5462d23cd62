"""Snakemake wrapper: load, check and resample every music track once."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.clips import prepare_music  # noqa: E402

sm = snakemake  # noqa: F821
out = Path(sm.output.music)
prepare_music(Path(sm.input.manifest).parent, out.parent, sm.params.sample_rate, out)
