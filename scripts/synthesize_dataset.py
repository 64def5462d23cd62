"""Snakemake wrapper: generate the synthetic AIST++-shaped dataset."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.synth.dataset import generate  # noqa: E402

generate(
    snakemake.params.synthetic,  # noqa: F821
    Path(snakemake.output.manifest).parent,  # noqa: F821
    workers=snakemake.threads,  # noqa: F821
)
