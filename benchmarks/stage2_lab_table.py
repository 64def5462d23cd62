"""Collect stage2_lab.py results (lab.json files) into one markdown table, for docs/ or a note.

Run: .venv/bin/python benchmarks/stage2_lab_table.py LAB_DIR [LAB_DIR ...] [--write FILE]
         [--group "LABEL=DIR,DIR,DIR" ...]
     With --write, the table replaces the block between the markers
     "<!-- stage-2 lab: begin -->" and "<!-- stage-2 lab: end -->" in FILE. Each --group (one
     setting trained with several seeds) becomes a row of mean (min-max) per figure, in the
     block between "<!-- stage-2 seeds: begin -->" and "<!-- stage-2 seeds: end -->".
     --block NAME writes to the blocks "<!-- stage-2 lab NAME: begin -->" ... and "<!-- stage-2
     seeds NAME: begin -->" ... instead, so a later session's runs get their own table and the
     earlier tables stay as their own runs wrote them.
     --truth RECON_DIR (a ``stage2_lab.py --recon`` run on the same stage 1 and clips) adds
     flow_speed_vs_truth to both tables: each run's generated flow speed over that of the test
     clips' own stage-1 flows. Stage 2 generates what stage 1 would encode, so 1 is a faithful
     speed, and a video motion above the recon row's comes from flows faster than the truth.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dabfusion.io import replace_marked_block


def markers(kind: str, block: str | None) -> tuple[str, str]:
    """The begin and end markers of a table in a markdown file: kind "lab" or "seeds"."""
    name = f"stage-2 {kind} {block}" if block else f"stage-2 {kind}"
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


SEED_COLUMNS = ["mm_align", "mm_align_shifted", "motion_vs_gt", "unseen_motion_vs_gt"]
COLUMNS = ["mm_align", "mm_align_shifted", "speed_on_off_beat", "motion_vs_gt", "unseen_motion_vs_gt",
           "flow_on_off_beat", "flow_speed"]
TRUTH_COLUMN = "flow_speed_vs_truth"


def with_truth(r: dict, truth_speed: float | None) -> dict:
    """``r`` with its flow speed over the truth's, when ``truth_speed`` is given."""
    return {**r, TRUTH_COLUMN: r["flow_speed"] / truth_speed} if truth_speed and "flow_speed" in r else r


def load(folder: Path, truth_speed: float | None = None) -> dict:
    return with_truth(json.loads((Path(folder) / "lab.json").read_text()), truth_speed)


def rows(folder: Path, columns: list[str], truth_speed: float | None = None) -> list[str]:
    """The run's row, after one row per snapshot of its learning curve."""
    r = load(folder, truth_speed)
    curve = [row(f"{folder.name} after {c['epoch']} epochs", with_truth({**r, **c}, truth_speed), columns)
             for c in r.get("curve", [])]
    return curve + [row(folder.name, r, columns)]


def row(name: str, r: dict, columns: list[str]) -> str:
    own = Path(r.get("stage1", "results/models/lfae/model.safetensors")).parents[2]  # OUT of stage1_lab.py
    settings = own / "settings.json"
    sets = ", ".join(json.loads(settings.read_text())["set"]) if settings.exists() else own.name
    stage1 = "" if own.name in ("results", "") else f" (stage 1: lfae {sets})"
    setting = f"stage-1 flows of the test clips themselves{stage1}" if r["setting"] == "recon" else \
        ", ".join(s.removeprefix("diffusion.") for s in r["setting"]) or "the default"
    if r.get("model"):  # a model of another run, sampled with other settings
        model = Path(r["model"])
        pipeline = model.parents[1].name == "diffusion" and model.parents[2].name == "models"  # a run's variant
        owner = f"{model.parent.name} of {model.parents[3]}" if pipeline else model.parent.name
        setting = f"model of {owner}; {setting}"
    if r.get("calibration"):  # stage2_lab.py --calibrate
        setting += f"; guidance {r['calibration']['guidance']:.2f}, calibrated on training clips"
    cells = [f"{r[c]:.4g}" if isinstance(r.get(c), float) else "" for c in columns]
    return f"| {name} | {setting} | " + " | ".join(cells) + " |"


def table(folders: list[Path], truth_speed: float | None = None) -> str:
    columns = COLUMNS + ([TRUTH_COLUMN] if truth_speed else [])
    head = "| run | settings over the default | " + " | ".join(columns) + " |"
    return "\n".join([head, "|" + "---|" * (len(columns) + 2),
                      *[line for f in folders for line in rows(f, columns, truth_speed)]])


def seeds_table(groups: list[str], truth_speed: float | None = None) -> str:
    """"LABEL=DIR,DIR,..." -> one row per group: each figure's mean (min-max) over its runs."""
    columns = SEED_COLUMNS + ([TRUTH_COLUMN] if truth_speed else [])
    lines = ["| setting | runs | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 2)]
    for group in groups:
        label, dirs = group.split("=", 1)
        runs = [load(Path(d), truth_speed) for d in dirs.split(",")]
        cells = []
        for c in columns:
            v = [r[c] for r in runs]
            cells.append(f"{sum(v) / len(v):.3f} ({min(v):.3f}-{max(v):.3f})")
        names = ", ".join(Path(d).name for d in dirs.split(","))
        lines.append(f"| {label} | {names} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--write", type=Path)
    ap.add_argument("--group", action="append", default=[], help='"LABEL=DIR,DIR,DIR": one setting, several seeds')
    ap.add_argument("--block", help="write to the blocks named NAME (see the docstring)")
    ap.add_argument("--truth", type=Path, help="a --recon run: adds each run's flow speed over its (see the docstring)")
    args = ap.parse_args()
    truth_speed = load(args.truth)["flow_speed"] if args.truth else None
    text = table([f for f in args.folders if (f / "lab.json").exists()], truth_speed)
    seeds = seeds_table(args.group, truth_speed) if args.group else None
    if args.write:
        replace_marked_block(args.write, *markers("lab", args.block), text)
        if seeds:
            replace_marked_block(args.write, *markers("seeds", args.block), seeds)
    print(text)
    if seeds:
        print(seeds)


if __name__ == "__main__":
    main()
