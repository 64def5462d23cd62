"""Snakemake wrapper: the clip index (Parquet) and the rejects table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.clips import build_clip_index  # noqa: E402

sm = snakemake  # noqa: F821
clips = Path(sm.output.clips)
build_clip_index(Path(sm.input.manifest).parent, [Path(p) for p in sm.input.shards], Path(sm.input.music),
                 sm.params.extract, sm.params.clips, clips.parent, clips, Path(sm.output.rejects))
