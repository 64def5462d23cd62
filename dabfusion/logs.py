"""Logging set-up shared by the Snakemake scripts and the command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Log to stderr, or, in a Snakemake job, into the rule's log file.

    In a job stderr itself is redirected to the log file too, so progress bars and warnings
    from libraries land beside our messages instead of vanishing.
    """
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_file, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stderr = stream
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr, force=True)
