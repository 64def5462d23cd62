"""The ``dabfusion`` command: dataset generation and config checks outside Snakemake."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import ConfigError, load_config
from .logs import setup_logging


def _cmd_check_config(args) -> int:
    cfg = load_config(args.config, args.preset)
    print(json.dumps(cfg, indent=2, sort_keys=True))
    return 0


def _cmd_synth(args) -> int:
    from .synth.dataset import generate

    cfg = load_config(args.config, args.preset)
    manifest = generate(cfg["synthetic"], args.out or cfg["data_dir"], workers=args.workers)
    print(json.dumps({k: v for k, v in manifest.items() if k != "config"}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dabfusion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--config", default="config.yaml", help="config file (default: config.yaml)")
        p.add_argument("--preset", action="append", default=[], help="preset file(s) overlaid in order")

    p = sub.add_parser("check-config", help="validate a config, print it with defaults filled in")
    common(p)
    p.set_defaults(func=_cmd_check_config)
    p = sub.add_parser("synth", help="generate the synthetic AIST++-shaped dataset")
    common(p)
    p.add_argument("--out", help="output folder (default: data_dir of the config)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.set_defaults(func=_cmd_synth)

    args = parser.parse_args(argv)
    setup_logging()
    try:
        return args.func(args)
    except ConfigError as exc:
        logging.getLogger("dabfusion").error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
