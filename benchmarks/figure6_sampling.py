"""Figure 6 of one bundle again, with other sampling noise, other sampling settings or another
stage-2 model: how much of a Figure 6 figure is the draw, and how much the model.

    .venv/bin/python benchmarks/figure6_sampling.py run BUNDLE OUT --results RESULTS --data DATA \
        [--seed 100] [--set steps=100 --set guidance=4.0 ...] [--unet MODEL.safetensors]
    .venv/bin/python benchmarks/figure6_sampling.py table OUT [OUT ...] [--write DOC]

The dancers' photos, their order (which sets their cameras) and the tracks are those of the
run's Figure 6 (``RESULTS/figure6``), so with the defaults it reproduces the bundle's Figure 6
table. ``--seed``: video k is sampled with seed SEED + k (Figure 6's ``figure6.seed``, 0 in the
pipeline). ``--set``: a ``sampling`` key of the bundle's generator.json. ``--unet``: a stage-2
model (``model.safetensors`` of a training or lab run) in place of the bundle's. Writes OUT/
(a bundle that links to BUNDLE's files, the videos, figure6.{csv,png}) and prints each video's
``motion_vs_training`` and their mean. ``table``: one row per OUT (its settings, the mean and the
range over its videos), printed and, with ``--write``, put between the markers
``<!-- figure6 sampling: begin -->`` and ``<!-- figure6 sampling: end -->`` of DOC (with ``--block
NAME``: ``<!-- figure6 sampling NAME: begin -->`` ..., so a later set of runs gets a table of its own).
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.io import replace_marked_block, write_json_atomic  # noqa: E402
from dabfusion.report import unseen_dancers  # noqa: E402


def value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def linked_bundle(bundle: Path, out: Path, sets: list[str], unet: Path | None) -> Path:
    """OUT/generator: BUNDLE's files as links, its generator.json with ``sets`` in ``sampling``."""
    out.mkdir(parents=True, exist_ok=True)
    for f in bundle.iterdir():
        if f.name == "generator.json":
            continue
        src = unet if (unet is not None and f.name == "unet.safetensors") else f
        link = out / f.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(src.resolve())
    meta = json.loads((bundle / "generator.json").read_text())
    for item in sets:
        key, text = item.split("=", 1)
        if key not in meta["sampling"] and key != "guide":  # a bundle made before sampling.guide lacks it
            raise SystemExit(f"--set {item}: {key!r} is not a sampling key ({', '.join(meta['sampling'])})")
        meta["sampling"][key] = value(text)
    write_json_atomic(out / "generator.json", meta)
    return out


def run(args) -> None:
    figure6 = pd.read_csv(args.results / "figure6" / "figure6.csv")
    photos = {d: args.results / "figure6" / "photos" / f"{d}.png" for d in figure6.dancer.unique()}
    tracks = list(figure6.track.unique())
    seconds = float(figure6.seconds.iloc[0])
    bundle = linked_bundle(args.bundle, args.out / "generator", args.set, args.unet)
    table = unseen_dancers(bundle, photos, args.data / "processed" / "music.csv", tracks, seconds, args.seed,
                           args.out / "videos", args.out / "figure6.png", args.out / "figure6.csv")
    write_json_atomic(args.out / "settings.json", {"bundle": str(args.bundle), "seed": args.seed, "set": args.set,
                                                   "unet": str(args.unet) if args.unet else None})
    print("sampling:", json.loads((bundle / "generator.json").read_text())["sampling"], "seed:", args.seed)
    print(table[["dancer", "track", "camera", "motion_vs_training"]].round(3).to_string(index=False))
    print(f"mean motion_vs_training: {table.motion_vs_training.mean():.3f}")


def table(args) -> None:
    rows = []
    for out in args.outs:
        settings = json.loads((out / "settings.json").read_text())
        t = pd.read_csv(out / "figure6.csv")
        rows.append({"run": out.name, "bundle": settings["bundle"], "model": settings["unet"] or "the bundle's",
                     "seed": settings["seed"], "sampling": ", ".join(settings["set"]) or "the bundle's",
                     "motion_vs_training": f"{t.motion_vs_training.mean():.3f} "
                                           f"({t.motion_vs_training.min():.3f}-{t.motion_vs_training.max():.3f})"})
    text = pd.DataFrame(rows).to_markdown(index=False)
    print(text)
    if args.write:
        name = f"figure6 sampling {args.block}" if args.block else "figure6 sampling"
        replace_marked_block(args.write, f"<!-- {name}: begin -->", f"<!-- {name}: end -->", text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="Figure 6 of a bundle with other noise, settings or model")
    r.add_argument("bundle", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--results", type=Path, required=True, help="the run's results_dir (its figure6/)")
    r.add_argument("--data", type=Path, required=True, help="the run's data_dir (its processed/music.csv)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--set", action="append", default=[], help="sampling KEY=VALUE")
    r.add_argument("--unet", type=Path, help="another stage-2 model.safetensors")
    t = sub.add_parser("table", help="one row per finished OUT")
    t.add_argument("outs", type=Path, nargs="+")
    t.add_argument("--write", type=Path)
    t.add_argument("--block", help="write to the markers of this name (see above)")
    args = ap.parse_args()
    if args.command == "run":
        run(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
