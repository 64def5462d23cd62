"""Snakemake wrapper: results/summary.md, the key figures of the run read from its files."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.summary import write_summary  # noqa: E402

sm = snakemake  # noqa: F821
write_summary(Path(sm.params.results), [Path(f) for f in sm.input], Path(sm.output.md), sm.params.commit,
              dict(sm.params.seeds), sm.params.source)
