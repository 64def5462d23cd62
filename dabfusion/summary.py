"""``results/summary.md``: the key figures of one finished run, written by the pipeline.

Every number is read from a file the run wrote (the tables, ``seeds.csv``, ``figure6.csv``,
the learning curve, each model's calibrated ``guidance.json``, stage 1's reconstruction,
``runtimes.csv``); none is typed. Each 2D-MM
Align figure is shown with its chance control (the same videos against the beats shifted by
half a period). Torch-free, so it runs in a second.
"""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .io import write_text_atomic
from .plan import FIGURE6_TABLE, LEARNING_CURVE, RUNTIMES, SEEDS_TABLE, STAGE1_CEILING, STAGE1_TABLE, table_name

NAMES = {"gt": "ground truth", "base": "DabFusion", "static": "static", "retrieval": "retrieval",
         "long": "DabFusion 2N frames", "nobeat": "no beat", "globalbeat": "beats in e only (paper)"}


def _f(x, digits: int = 3) -> str:
    return "" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def _md(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False)


def _alignment(results: Path) -> list[str]:
    t3 = pd.read_csv(results / table_name(3))
    gt = t3.set_index("method")
    out = pd.DataFrame({"method": [NAMES.get(m, m) for m in t3.method],
                        "2D-MM Align": [_f(x) for x in t3.mm_align],
                        "chance control": [_f(x) for x in t3.mm_align_shifted]})
    if "gt" in gt.index:
        out["2D-MM / ground truth"] = [_f(x / gt.loc["gt", "mm_align"], 2) for x in t3.mm_align]
    if "motion" in t3:
        out["motion (px/s)"] = [_f(x, 2) for x in t3.motion]
        if "gt" in gt.index:
            out["motion / ground truth"] = [_f(x / gt.loc["gt", "motion"], 2) for x in t3.motion]
    return ["## Alignment and motion (`table3.csv`)", "", _md(out)]


def _quality(results: Path) -> list[str]:
    t1 = pd.read_csv(results / table_name(1))
    out = pd.DataFrame({"method": [NAMES.get(m, m) for m in t1.method], "FVD": [_f(x) for x in t1.fvd],
                        "LPIPS": [_f(x) for x in t1.lpips], "PSNR": [_f(x, 2) for x in t1.psnr],
                        "SSIM": [_f(x) for x in t1.ssim]})
    return ["## Video quality (`table1.csv`)", "", _md(out)]


def _beat_effect(results: Path) -> list[str]:
    t6 = pd.read_csv(results / table_name(6))
    out = pd.DataFrame({"variant": [NAMES.get(m, m) for m in t6.method], "2D-MM Align": [_f(x) for x in t6.mm_align],
                        "chance control": [_f(x) for x in t6.mm_align_shifted], "FVD": [_f(x) for x in t6.fvd]})
    if "mm_align_minus_nobeat" in t6:
        out["minus no beat [95 % interval]"] = [
            f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" if m != "nobeat" else "" for m, d, lo, hi in
            zip(t6.method, t6.mm_align_minus_nobeat, t6.ci95_low, t6.ci95_high)]
    return ["## Beat information (`table6.csv`)", "", _md(out)]


def _seeds(results: Path) -> list[str]:
    s = pd.read_csv(results / SEEDS_TABLE)
    stats = s[s.method.isin(["mean", "min", "max"])]
    lines = ["## Repeats with other seeds (`seeds.csv`)", "",
             "Repeat k trains stage 2 with seed k and samples its videos with noise k, one draw each: the spread "
             "is of both, and the draw alone moves a seed's figures about as much as the seeds differ "
             "(docs/dancing-on-the-beat.md, finding 16).", ""]
    for setting, part in stats.groupby("setting", sort=False):
        p = part.set_index("method")
        n = int(((s.setting == setting) & ~s.method.isin(["mean", "min", "max"])).sum())
        cells = [f"{col} {_f(p.loc['mean', col])} [{_f(p.loc['min', col])}, {_f(p.loc['max', col])}]"
                 for col in ("fvd", "mm_align", "mm_align_shifted", "motion_vs_gt", "figure6_motion",
                             "figure6_motion_all_cameras")
                 if col in p and p[col].notna().any()]
        lines.append(f"- {setting}, {n} seeds, mean [min, max]: " + "; ".join(cells) + ".")
    single = s[~s.setting.isin(stats.setting.unique())]
    if len(single):
        lines.append("- deterministic: " + "; ".join(
            f"{r.setting}" + (f" FVD {_f(r.fvd)}," if pd.notna(r.fvd) else "")
            + f" 2D-MM {_f(r.mm_align)} ({_f(r.mm_align_shifted)})" for r in single.itertuples()) + ".")
    return lines


def _figure6(results: Path) -> list[str]:
    f6 = pd.read_csv(results / FIGURE6_TABLE)
    lines = ["## Unseen dancers (`figure6/figure6.csv`)", ""]
    for col, over in (("motion_vs_training", "the training dancers' ground truth's in the same camera"),
                      ("motion_vs_all_cameras", "every camera's training dancers'")):
        if col in f6:
            m = f6[col]
            lines.append(f"- Motion over {over}, {len(f6)} videos: mean {m.mean():.2f}, "
                         f"min {m.min():.2f}, max {m.max():.2f}.")
    return lines


def _curve(results: Path) -> list[str]:
    c = pd.read_csv(results / LEARNING_CURVE)
    cols = [k for k in ("steps", "mm_align", "mm_align_shifted", "speed_on_off_beat", "motion_vs_gt", "fvd") if k in c]
    return ["## Learning curve of the base variant (`report/learning_curve.csv`)", "",
            _md(c[cols].round(3))]


def _stage1(results: Path) -> list[str]:
    r = pd.read_csv(results / STAGE1_TABLE)
    return ["## Stage 1 (`lfae/reconstruction.csv`)", "",
            _md(r[["method", "psnr", "ssim", "lpips", "pairs"]].round(4))]


def _stage1_ceiling(results: Path) -> list[str]:
    r = pd.read_csv(results / STAGE1_CEILING).iloc[0]
    return ["## Stage 1's ceiling (`report/stage1_ceiling.csv`)", "",
            f"The {int(r.clips)} test clips re-animated through stage 1 with their own flows: motion "
            f"{_f(r.motion_vs_gt)} of the ground truth's, 2D-MM Align {_f(r.mm_align)} (chance control "
            f"{_f(r.mm_align_shifted)}). A stage 2 that generated each clip's true flows would score this; a model "
            "that moves more generates flows faster than the clips' own (docs/dancing-on-the-beat.md, finding 17)."]


GUIDANCE_FILES = "models/diffusion/*/guidance.json"


def _guidance(results: Path, files: list[str]) -> list[str]:
    """One line per variant: the guidance calibrated on training-split clips, and what it was chosen from."""
    lines = ["## Guidance calibrated per model (`models/diffusion/*/guidance.json`)", "",
             "Each model samples at the classifier-free guidance where its generated clips of the training split "
             "(never a test clip) move the target times as much as their ground truth (`sampling.calibration`; "
             "docs/dancing-on-the-beat.md, finding 18).", ""]
    for f in files:
        g = json.loads((results / f).read_text())
        tried = ", ".join(f"{_f(r)} at {s:g}" for s, r in zip(g["scales"], g["motion_ratio"]))
        short = "; no scale tried reaches it" if g["motion_ratio"][-1] < g["target_motion"] else ""
        on = f" on the {g['guide']}" if "guide" in g else ""  # sampling.guide; files from before it lack it
        lines.append(f"- {Path(f).parent.name}: {g['guidance']:.2f}{on} (motion over the ground truth's on "
                     f"{g['clips']} training clips: {tried}; target {g['target_motion']:g}{short}).")
    return lines


def _times(results: Path) -> list[str]:
    t = pd.read_csv(results / RUNTIMES)
    wall = t[t.job.str.startswith("WALL")]
    jobs = t[~t.job.str.startswith(("WALL", "TOTAL"))].sort_values("seconds", ascending=False).head(8)
    lines = ["## Time (`runtimes.csv`)", ""]
    if len(wall):
        lines.append(f"Wall time of the benchmarked jobs: {float(wall.seconds.iloc[0]) / 60:.1f} min. Longest jobs:")
        lines.append("")
    lines.append(_md(jobs.assign(minutes=(jobs.seconds / 60).round(1))[["job", "minutes", "max_rss_mb"]]))
    return lines


SECTIONS = [(table_name(1), _quality), (table_name(3), _alignment), (table_name(6), _beat_effect),
            (SEEDS_TABLE, _seeds), (FIGURE6_TABLE, _figure6), (LEARNING_CURVE, _curve),
            (GUIDANCE_FILES, _guidance), (STAGE1_TABLE, _stage1), (STAGE1_CEILING, _stage1_ceiling),
            (RUNTIMES, _times)]


def write_summary(results: Path, inputs: list[Path], out_md: Path, commit: str, seeds: dict, source: str) -> str:
    """Write ``out_md`` from the files of ``results`` among ``inputs`` (the job's declared inputs, so a
    file an earlier run left there is not read); returns the text."""
    results = Path(results)
    given = {Path(os.path.relpath(f, results)).as_posix() for f in inputs}
    meta = json.loads((results / table_name(1, "json")).read_text())
    lines = [f"# Summary of the run in `{results}`", "",
             f"Commit {commit}; {source} data; {meta['videos']} test clips; machine: {platform.system()} "
             f"{platform.machine()}, {os.cpu_count()} cores; seeds: "
             + ", ".join(f"{k} {v}" for k, v in seeds.items()) + "."]
    lines += [""] + [f"> {w}" for w in meta["warnings"]]
    for name, section in SECTIONS:
        if name == GUIDANCE_FILES:  # one file per variant
            calibrated = sorted(f for f in given if fnmatch.fnmatch(f, name))
            lines += ([""] + section(results, calibrated)) if calibrated else []
        elif name in given:
            lines += [""] + section(results)
    text = "\n".join(lines) + "\n"
    write_text_atomic(out_md, text)
    return text


# --- checking that figures shown in the docs come from the results files ------------------
_DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.])")


def figure_values(files: list[Path]) -> np.ndarray:
    """Every number a summary or the README may show from these CSV files: each cell; each
    column's mean, min and max; each cell over the ground truth's row of its table (a ratio);
    seconds as minutes. Of a ``guidance.json``: its guidance, target and motion ratios."""
    values = []
    for f in files:
        if Path(f).suffix == ".json":  # a calibrated guidance: the figures the summary shows of it
            g = json.loads(Path(f).read_text())
            values.append(np.array([g["guidance"], g["target_motion"], *g["motion_ratio"]], dtype=float))
            continue
        t = pd.read_csv(f)
        num = t.select_dtypes("number")
        values += [num.to_numpy().ravel(), num.mean().to_numpy(), num.min().to_numpy(), num.max().to_numpy()]
        if "method" in t and (t.method == "gt").any():
            gt = num[(t.method == "gt").to_numpy()].iloc[0].replace(0, np.nan)
            values.append((num / gt).to_numpy().ravel())
        if "seconds" in num:
            values.append(num.seconds.to_numpy() / 60.0)
    v = np.concatenate(values).astype(float)
    return v[np.isfinite(v)]


def unmatched_figures(text: str, files: list[Path]) -> list[str]:
    """The decimal numbers of ``text`` that no value of ``files`` (``figure_values``) rounds to at the
    number's own precision: a figure typed by hand or left from another run."""
    values = figure_values(files)
    out = []
    for token in _DECIMAL.findall(text):
        digits = len(token.split(".")[1])
        if not np.any(np.abs(values - float(token)) <= 0.5 * 10.0 ** -digits + 1e-9):
            out.append(token)
    return out
