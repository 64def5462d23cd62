"""Snakemake wrapper: one of the paper's tables (CSV, markdown, figure, metadata)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.tables import conditioning_flags, write_table  # noqa: E402

sm = snakemake  # noqa: F821
methods = sm.params.methods
write_table(int(sm.wildcards.k), {m: Path(sm.input[m]) for m in methods},
            {m: Path(sm.input[f"samples_{m}"]) for m in methods}, Path(sm.output.csv), sm.params.source,
            conditioning_flags(Path(sm.input.embedding)))
