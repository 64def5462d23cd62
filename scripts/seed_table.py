"""Snakemake wrapper: the spread over repeats of one setting with other seeds (results/seeds.csv)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.tables import seed_table  # noqa: E402

sm = snakemake  # noqa: F821
seed_table(dict(sm.params.groups), {m: Path(sm.input[m]) for m in sm.params.methods}, Path(sm.output.csv),
           sm.params.source, figure6={v: Path(sm.input[f"figure6_{v}"]) for v in sm.params.figure6})
