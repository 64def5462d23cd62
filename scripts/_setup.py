"""Imported first by every Snakemake script: make the package importable, route logs.

Jobs run with a per-rule conda env get PYTHONPATH cleared, so the repository root is put
on sys.path from the script's own location instead.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dabfusion.logs import setup_logging  # noqa: E402


def start(snakemake) -> None:
    setup_logging(snakemake.log[0])
