"""The ``dabfusion`` command: dataset generation, config checks and evaluation outside Snakemake."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import ConfigError, load_config
from .io import DataError
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


def _cmd_evaluate(args) -> int:
    from pathlib import Path

    from .evaluate import load_scorers, score_folders

    cfg = load_config(args.config, args.preset)
    scorers = load_scorers(cfg["evaluation"], cfg["music"])
    table, summary = score_folders(Path(args.generated), Path(args.reference), Path(args.music) if args.music else None,
                                   scorers, Path(args.out))
    print(table.to_string(index=False))
    print(json.dumps(summary, indent=2))
    random_init = [k for k, v in summary.items() if k.endswith("_pretrained") and not v]
    if random_init:
        print(f"NOTE: seeded random init for {', '.join(random_init)}: not comparable with published numbers",
              file=sys.stderr)
    return 0


def _cmd_generate(args) -> int:
    from pathlib import Path

    from .generate import default_bundle, generate

    bundle = Path(args.checkpoint) if args.checkpoint else default_bundle()
    times = generate(Path(args.image), Path(args.music), bundle, Path(args.out), args.seconds,
                     args.seed, Path(args.background) if args.background else None, args.background_from,
                     method=args.chaining, device=args.device,
                     weights_dir=Path(args.weights) if args.weights else None,
                     keep_background=args.keep_background, size=args.size)
    print(json.dumps({"video": args.out, "seconds": {k: round(v, 2) for k, v in times.items()}}, indent=2))
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

    p = sub.add_parser("evaluate", help="score any videos against references: FVD, LPIPS, PSNR, SSIM, CS, "
                                        "2D-MM Align, AV-Align")
    common(p)
    p.add_argument("--generated", required=True, help="folder of generated .mp4 videos")
    p.add_argument("--reference", required=True, help="folder of ground-truth .mp4 videos with the same names")
    p.add_argument("--music", help="music file, or folder of one file per video (default: the reference's audio)")
    p.add_argument("--out", default="evaluation.csv", help="per-video CSV; the summary goes beside it as .json")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("generate", help="make the person of a photo dance to a piece of music")
    p.add_argument("--image", required=True, help="photo of one person (PNG/JPEG; an RGBA alpha is used as the mask)")
    p.add_argument("--music", required=True, help="any audio file (wav, mp3, m4a, ...), at least one window long")
    p.add_argument("--background", help="background image (default: the empty studio of --background-from)")
    p.add_argument("--background-from", help="camera whose studio and dancer placement to use (default: the first)")
    p.add_argument("--keep-background", action="store_true",
                   help="dance in the photo's own scene, the person inpainted away behind them (beyond the paper)")
    p.add_argument("--size", type=int, default=256,
                   help="video side in px (default 256, up to 512): the flows are upsampled to warp the photo "
                        "at this size; the model's own size renders as the paper does")
    p.add_argument("--checkpoint", help="generator bundle (rule export_generator; default: results/bench/generator "
                                        "when `make bench` has made it, else the demo's results/generator)")
    p.add_argument("--seconds", type=float, help="dance this many seconds (default: the whole music)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chaining", choices=["anchored", "last_frame"], default="anchored",
                   help="long music: continue windows warping the original photo (default), or restart each "
                        "window from the last generated frame (the paper)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--weights", help="folder with yolov8n.onnx / sam_vit_b_01ec64.pth to detect and segment with "
                                     "YOLO and Segment Anything (default: the bundle's weights folder; without "
                                     "them: MediaPipe, shipped with its models)")
    p.add_argument("--out", required=True, help="output .mp4 (written to a temporary name, then renamed)")
    p.set_defaults(func=_cmd_generate)

    args = parser.parse_args(argv)
    setup_logging()
    try:
        return args.func(args)
    except ConfigError as exc:
        logging.getLogger("dabfusion").error("%s", exc)
        return 2
    except DataError as exc:
        logging.getLogger("dabfusion").error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
