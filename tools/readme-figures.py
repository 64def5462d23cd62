"""Write the README's figures of the default run from its tables, never by hand.

    .venv/bin/python tools/readme-figures.py RESULTS_DIR            print the block
    .venv/bin/python tools/readme-figures.py RESULTS_DIR --write    replace it in README.md

The block sits between the two markers below in README.md; RESULTS_DIR is a finished default
run's results folder (``make demo`` on a fresh clone). The commit named is the current HEAD of
the checkout that holds RESULTS_DIR: run this before that checkout moves on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pandas as pd

BEGIN, END = "<!-- figures of the default run: begin -->", "<!-- figures of the default run: end -->"


def block(results: Path, partial: bool = False) -> str:
    if not (results / "table1.csv").exists():
        raise SystemExit(f"{results}: no table1.csv; point this at a finished default run's results (make demo)")
    t1 = pd.read_csv(results / "table1.csv").set_index("method")
    meta = json.loads((results / "table1.json").read_text())
    runtimes = pd.read_csv(results / "runtimes.csv") if (results / "runtimes.csv").exists() else None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=results, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        commit = "unknown"
    random_init = sorted(k.removesuffix("_pretrained") for k, v in meta["pretrained"].items() if v is False)
    frames = meta["frames"].get("base") if isinstance(meta["frames"], dict) else meta["frames"]
    fvd = ", ".join(f"{name} {t1.loc[m, 'fvd']:.3f}" for m, name in
                    (("base", "DabFusion"), ("static", "static"), ("retrieval", "retrieval")) if m in t1.index)
    lines = [BEGIN,
             f"- The default run of commit {commit} ({meta['videos']} test clips of {frames} frames, "
             f"{meta['source']} data; seeded random init: {', '.join(random_init) or 'none'}), "
             f"`results/table1.csv`: FVD {fvd}."]
    if (results / "table3.csv").exists():
        t3 = pd.read_csv(results / "table3.csv").set_index("method")
        align = ", ".join(f"{name} {t3.loc[m, 'mm_align']:.3f} ({t3.loc[m, 'mm_align_shifted']:.3f})" for m, name in
                          (("gt", "ground truth"), ("base", "DabFusion"), ("retrieval", "retrieval"))
                          if m in t3.index and "mm_align_shifted" in t3)
        lines.append(f"  2D-MM Align, in brackets its chance control (`results/table3.csv`): {align}.")
    if (results / "table6.csv").exists():
        t6 = pd.read_csv(results / "table6.csv").set_index("method")
        if "base" in t6.index and "ci95_low" in t6:
            b = t6.loc["base"]
            lines.append(f"  With beats minus without (`results/table6.csv`): {b.mm_align_minus_nobeat:+.3f} "
                         f"(95 % interval {b.ci95_low:+.3f} to {b.ci95_high:+.3f}).")
    if partial:  # jobs of an earlier run mixed with rerun ones: their span is not the default's wall time
        lines.append("  (Part of this run's jobs were rerun at this commit: its wall time is not shown; "
                     "docs/results.md gives full runs'.)")
    elif runtimes is not None:
        wall = runtimes[runtimes.job.str.startswith("WALL")]
        if len(wall):
            lines.append(f"  Benchmarked jobs spanned {float(wall.seconds.iloc[0]) / 60:.1f} min of wall time "
                         "(`results/runtimes.csv`).")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--write", action="store_true", help="replace the block in README.md")
    ap.add_argument("--partial", action="store_true", help="the run was partly rerun (snakemake --forcerun): "
                    "leave its wall time out")
    args = ap.parse_args()
    text = block(args.results.resolve(), args.partial)
    if not args.write:
        print(text)
        return
    readme = Path(__file__).resolve().parent.parent / "README.md"
    old = readme.read_text()
    if BEGIN not in old or END not in old:
        raise SystemExit(f"{readme}: no figures block ({BEGIN} ... {END}) to replace")
    new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(readme)
    print(f"wrote the figures of {args.results} into {readme}")


if __name__ == "__main__":
    main()
