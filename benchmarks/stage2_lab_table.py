"""Collect stage2_lab.py results (lab.json files) into one markdown table, for docs/ or a note.

Run: .venv/bin/python benchmarks/stage2_lab_table.py LAB_DIR [LAB_DIR ...] [--write FILE]
     With --write, the table replaces the block between the markers
     "<!-- stage-2 lab: begin -->" and "<!-- stage-2 lab: end -->" in FILE.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BEGIN, END = "<!-- stage-2 lab: begin -->", "<!-- stage-2 lab: end -->"
COLUMNS = ["mm_align", "mm_align_shifted", "speed_on_off_beat", "motion_vs_gt", "unseen_motion_vs_gt",
           "flow_on_off_beat", "flow_speed"]


def rows(folder: Path) -> list[str]:
    """The run's row, after one row per snapshot of its learning curve."""
    r = json.loads((folder / "lab.json").read_text())
    curve = [row(f"{folder.name} after {c['epoch']} epochs", {**r, **c}) for c in r.get("curve", [])]
    return curve + [row(folder.name, r)]


def row(name: str, r: dict) -> str:
    own = Path(r.get("stage1", "results/models/lfae/model.safetensors")).parents[2]  # OUT of stage1_lab.py
    settings = own / "settings.json"
    sets = ", ".join(json.loads(settings.read_text())["set"]) if settings.exists() else own.name
    stage1 = "" if own.name in ("results", "") else f" (stage 1: lfae {sets})"
    setting = f"stage-1 flows of the test clips themselves{stage1}" if r["setting"] == "recon" else \
        ", ".join(s.removeprefix("diffusion.") for s in r["setting"]) or "the default"
    if r.get("model"):  # a model of another run, sampled with other settings
        setting = f"model of {Path(r['model']).parent.name}; {setting}"
    cells = [f"{r[c]:.4g}" if isinstance(r.get(c), float) else "" for c in COLUMNS]
    return f"| {name} | {setting} | " + " | ".join(cells) + " |"


def table(folders: list[Path]) -> str:
    head = "| run | settings over the default | " + " | ".join(COLUMNS) + " |"
    return "\n".join([head, "|" + "---|" * (len(COLUMNS) + 2), *[line for f in folders for line in rows(f)]])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    text = table([f for f in args.folders if (f / "lab.json").exists()])
    if args.write:
        doc = args.write.read_text()
        if BEGIN not in doc or END not in doc:
            raise SystemExit(f"{args.write}: no '{BEGIN}' ... '{END}' block to replace")
        head, rest = doc.split(BEGIN, 1)
        args.write.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])
    print(text)


if __name__ == "__main__":
    main()
