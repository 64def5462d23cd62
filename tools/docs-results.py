"""Copy the figures of finished runs into docs/results.md: each run's summary.md, never typed.

    .venv/bin/python tools/docs-results.py [RESULTS_DIR ...]      (default: results results/bench)

RESULTS_DIR is a finished run's results folder; its summary.md (written by the pipeline's
``summary`` rule) is copied under a heading of its own, its headings one level down. Folders
without a summary.md are named as missing, so a page never mixes in stale figures silently.
The Figure 6 sheet of the last RESULTS_DIR that has one (the bench's, by default) becomes
``img/figure6.png`` beside the page: the README's picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dabfusion.io import write_bytes_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parent.parent
INTRO = """# Results of finished runs

Copied by `make docs` (`tools/docs-results.py`) from the `summary.md` each run writes; nothing
here is typed. The embedded default (`results/`) is the demo; `presets/bench.yaml`
(`results/bench/`) is the synthetic benchmark of `docs/dancing-on-the-beat.md`. 2D-MM Align
is always shown with its chance control: the same videos against the beats shifted by half a period.
"""


def page(dirs: list[Path]) -> str:
    parts = [INTRO]
    for d in dirs:
        summary = d / "summary.md"
        if not summary.exists():
            parts.append(f"## `{d}`\n\nNo summary.md: the run in this folder has not finished.\n")
            continue
        text = summary.read_text()
        parts.append("\n".join("#" + line if line.startswith("#") else line for line in text.splitlines()) + "\n")
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="*", type=Path, default=[Path("results"), Path("results/bench")])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results.md")
    args = ap.parse_args()
    write_text_atomic(args.out, page(args.results))
    print(f"wrote {args.out} from {', '.join(map(str, args.results))}")
    sheets = [d / "figure6" / "figure6.png" for d in args.results if (d / "figure6" / "figure6.png").exists()]
    if sheets:
        image = args.out.parent / "img" / "figure6.png"
        write_bytes_atomic(image, sheets[-1].read_bytes())
        print(f"wrote {image} from {sheets[-1]}")


if __name__ == "__main__":
    main()
