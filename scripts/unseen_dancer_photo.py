"""Snakemake wrapper: a photo of a dancer the model never saw (Figure 6's input)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from PIL import Image  # noqa: E402

from dabfusion.io import atomic_path  # noqa: E402
from dabfusion.synth.dataset import dancer_photo  # noqa: E402

sm = snakemake  # noqa: F821
with atomic_path(sm.output[0]) as tmp:
    Image.fromarray(dancer_photo(sm.wildcards.dancer, int(sm.params.seed))).save(tmp, format="png")
