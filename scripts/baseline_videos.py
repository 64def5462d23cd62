"""Snakemake wrapper: the static or retrieval baseline's videos on DabFusion's test clips."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.baselines import baseline_videos  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
retrieval = sm.wildcards.baseline == "retrieval"
baseline_videos(sm.wildcards.baseline, Path(sm.input.reference), Path(sm.input.music), Path(sm.output.manifest),
                lfae_file=Path(sm.input.lfae) if retrieval else None,
                cache_dir=Path(sm.input.cache).parent if retrieval else None,
                embedding_file=Path(sm.input.embedding) if retrieval else None)
