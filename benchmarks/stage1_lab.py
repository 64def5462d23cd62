"""Stage-1 laboratory: train the latent flow auto-encoder with other settings on a finished run's clips.

Run: .venv/bin/python benchmarks/stage1_lab.py OUT_DIR [--set KEY=VALUE ...] [--data DATA_DIR]
     then: .venv/bin/python benchmarks/stage2_lab.py OUT_RECON --recon --results OUT_DIR

KEY is a key of config.yaml's ``lfae`` section (``epochs=40``, ``model.channels=32``); VALUE is
JSON. The model lands in OUT_DIR/models/lfae/, where ``stage2_lab.py --results OUT_DIR`` finds it,
so ``--recon`` scores the test clips re-animated through it: the ceiling of any stage 2 on it.
One torch thread, so two settings can train side by side on two cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dabfusion.config import load_config
from dabfusion.plan import Paths
from dabfusion.training.lfae import train_lfae


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--set", action="append", default=[], help="lfae.KEY=VALUE (VALUE as JSON)")
    ap.add_argument("--data", type=Path, default=Path("resources/synthetic"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config("config.yaml")
    lcfg = {**cfg["lfae"], "image_size": cfg["extract"]["size"]}
    for item in args.set:
        key, value = item.split("=", 1)
        *path, last = key.removeprefix("lfae.").split(".")
        d = lcfg
        for p in path:
            d = d[p]
        d[last] = json.loads(value)
    n = cfg["clips"]["length"]
    out = Paths(data=str(args.data), results=str(args.out))
    train_lfae(lcfg, Path(out.clips(n)), Path(out.lfae).parent)
    (args.out / "settings.json").write_text(json.dumps({"set": args.set, "data": str(args.data)}, indent=1))


if __name__ == "__main__":
    main()
