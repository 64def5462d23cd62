"""Snakemake wrapper: every per-video metric and the I3D features of one method's videos."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.evaluate import load_scorers, score_method  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
scorers = load_scorers(sm.params.evaluation, sm.params.music)
score_method(Path(sm.input.samples), sm.wildcards.method, Path(sm.input.music), scorers, Path(sm.output.rows),
             Path(sm.output.features), beats_file=Path(sm.input.beats))
