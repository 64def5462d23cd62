"""Snakemake wrapper: the test clips re-animated through stage 1 with their own flows, scored."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.learning_curve import stage1_ceiling  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
stage1_ceiling(Path(sm.input.lfae), Path(sm.input.clips), Path(sm.input.beats), sm.params.sampling,
               Path(sm.output.csv))
