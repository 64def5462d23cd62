"""Snakemake wrapper: stage-2 training targets (flows, occlusion, z0) from the frozen stage 1."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.training.flow_cache import build_flow_cache  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
build_flow_cache(Path(sm.input.lfae), Path(sm.input.clips), Path(sm.output.meta).parent, sm.params.max_clips,
                 sm.params.seed)
