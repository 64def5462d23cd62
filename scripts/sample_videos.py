"""Snakemake wrapper: generate every selected test clip of one variant (mp4 with music + frames)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.calibration import with_calibrated_guidance  # noqa: E402
from dabfusion.sampling import sample_test_clips  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
scfg = with_calibrated_guidance(sm.params.sampling, sm.input.get("guidance"), sm.input.model)
sample_test_clips(Path(sm.input.model), Path(sm.input.lfae), Path(sm.input.clips), Path(sm.input.embedding),
                  Path(sm.input.music), scfg, Path(sm.output.manifest))
