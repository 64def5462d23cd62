"""Snakemake wrapper: extract the frames of one shard of the video list."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.clips import extract_shard  # noqa: E402

sm = snakemake  # noqa: F821
out = Path(sm.output.shard)
extract_shard(Path(sm.input.manifest).parent, out.parent.parent, int(sm.wildcards.shard),
              sm.params.n_shards, sm.params.extract, out)
