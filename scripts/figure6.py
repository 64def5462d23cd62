"""Snakemake wrapper: Figure 6, unseen dancers through `dabfusion generate`'s path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.report import unseen_dancers  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
unseen_dancers(Path(sm.input.bundle), dict(zip(sm.params.dancers, map(Path, sm.input.photos))), Path(sm.input.music),
               list(sm.params.tracks), float(sm.params.seconds), int(sm.params.seed), Path(sm.output.videos),
               Path(sm.output.sheet), Path(sm.output.table))
