"""Snakemake wrapper: the guidance scale of one variant's model, calibrated on training clips."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.calibration import calibrate_guidance, write_calibration  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
result = calibrate_guidance(Path(sm.input.model), Path(sm.input.lfae), Path(sm.input.clips), Path(sm.input.embedding),
                            sm.params.sampling, sm.params.sampling["calibration"])
write_calibration(Path(sm.output.guidance), Path(sm.input.model), result)
