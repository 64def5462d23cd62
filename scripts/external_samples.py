"""Snakemake wrapper: a manifest pairing another system's videos with DabFusion's test clips."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.evaluate import external_manifest  # noqa: E402

sm = snakemake  # noqa: F821
external_manifest(Path(sm.input.reference), Path(sm.params.folder), Path(sm.output.manifest))
