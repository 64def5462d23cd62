"""The code style of pyproject.toml's [tool.ruff] (line length, pyflakes, import order) holds everywhere."""

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_ruff_finds_nothing():
    venv_ruff = Path(sys.executable).with_name("ruff")  # the test extra's pinned ruff, beside this python
    ruff = str(venv_ruff) if venv_ruff.exists() else shutil.which("ruff")
    assert ruff, "ruff is not installed: tools/setup-venv.sh installs it with the test extra"
    res = subprocess.run([ruff, "check", "dabfusion", "scripts", "tests", "benchmarks", "tools"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-1000:]
