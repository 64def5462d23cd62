"""Snakemake wrapper: the music embedding parts e_c, e_w, e_b for every clip window."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.music.features import compute_embeddings  # noqa: E402

sm = snakemake  # noqa: F821
compute_embeddings(Path(sm.input.windows), Path(sm.input.style), Path(sm.input.movement), Path(sm.output.embedding))
