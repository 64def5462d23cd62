"""Snakemake wrapper: train one stage-2 variant in-process, or under torchrun for several GPUs."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.training.diffusion import train_diffusion  # noqa: E402

sm = snakemake  # noqa: F821
out_dir = Path(sm.output.model).parent
cache_dir = Path(sm.input.cache).parent
torch.set_num_threads(sm.threads)
if sm.params.launcher:
    cfg_file = out_dir / "train_config.json"
    cfg_file.parent.mkdir(parents=True, exist_ok=True)
    cfg_file.write_text(json.dumps(sm.params.diffusion))
    cmd = [*shlex.split(sm.params.launcher), "-m", "dabfusion.training.diffusion", "--config-json", str(cfg_file),
           "--cache", str(cache_dir), "--lfae", sm.input.lfae, "--embedding", sm.input.embedding,
           "--out", str(out_dir)]
    with open(sm.log[0], "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
else:
    train_diffusion(sm.params.diffusion, cache_dir, Path(sm.input.lfae), Path(sm.input.embedding), out_dir)
