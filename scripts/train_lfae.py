"""Snakemake wrapper: train stage 1 in-process, or under torchrun when several GPUs are asked for."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.training.lfae import train_lfae  # noqa: E402

sm = snakemake  # noqa: F821
out_dir = Path(sm.output.model).parent
torch.set_num_threads(sm.threads)
if sm.params.launcher:
    cfg_file = out_dir / "train_config.json"
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(json.dumps(sm.params.lfae))
    cmd = [*shlex.split(sm.params.launcher), "-m", "dabfusion.training.lfae", "--config-json", str(cfg_file),
           "--clips", sm.input.clips, "--out", str(out_dir)]
    with open(sm.log[0], "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
else:
    train_lfae(sm.params.lfae, Path(sm.input.clips), out_dir)
