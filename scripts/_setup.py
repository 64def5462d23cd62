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


def train(snakemake, module: str, cfg: dict, out_dir: Path, cli_args: list[str], in_process) -> None:
    """Run a training in-process, or under ``params.launcher`` (torchrun, several GPUs).

    Under torchrun the settings go to ``{out_dir}/train_config.json`` and ``python -m module``
    gets ``--config-json`` plus ``cli_args``; its output is appended to the rule's log.
    """
    import json
    import shlex
    import subprocess

    import torch

    torch.set_num_threads(snakemake.threads)
    if not snakemake.params.launcher:
        in_process()
        return
    cfg_file = out_dir / "train_config.json"
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(json.dumps(cfg))
    cmd = [*shlex.split(snakemake.params.launcher), "-m", module, "--config-json", str(cfg_file), *cli_args]
    with open(snakemake.log[0], "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
