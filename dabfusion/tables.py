"""The paper's Tables 1-6 from per-video scores: CSV, markdown, a figure and a metadata sidecar.

What each table holds (title, methods, rows per camera or genre, metrics, input files) is its
spec in ``dabfusion.plan.TABLES``; ``build_rows`` turns a spec and the methods' scores into rows.

Every number comes from ``results/eval/{method}/per_video.csv`` (``evaluate.score_method``);
FVD is computed here over the rows of each table row, against the ground truth of the same
clips. The sidecar records what a reader needs to judge a number: videos, frames, fps,
seeds, sampler and steps, and which feature extractors were seeded random inits.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_path, write_json_atomic, write_table_atomic, write_text_atomic
from .plan import ALIGN_COLS, BASE, GROUND_TRUTH, LABELS, QUALITY_COLS, TABLES

log = logging.getLogger(__name__)

#: which way is better per metric: True higher, False lower, None a chance control, "gt" the ground truth's
HIGHER_IS_BETTER = {"fvd": False, "lpips": False, "psnr": True, "ssim": True, "cs": True, "mm_align": True,
                    "mm_align_shifted": None, "av_align": True, "motion": "gt"}
BOOTSTRAP_RESAMPLES = 2000


class Scores:
    """One method's per-video rows, I3D features and scoring metadata."""

    def __init__(self, per_video: Path):
        self.file = Path(per_video)
        self.rows = pd.read_csv(per_video)
        feats = np.load(self.file.with_name("i3d.npz"))
        self.generated, self.ground_truth = feats["generated"], feats["ground_truth"]
        if len(self.generated) != len(self.rows):
            raise ValueError(f"{self.file}: {len(self.rows)} rows but {len(self.generated)} I3D features; rescore")
        self.meta = json.loads(self.file.with_suffix(".json").read_text())

    def fvd(self, mask: np.ndarray) -> float | None:
        from .metrics.fvd import fvd

        if mask.sum() < 2:
            return None  # a covariance needs two videos: reported as empty, not NaN
        return fvd(self.ground_truth[mask], self.generated[mask])

    def row(self, mask: np.ndarray | None = None, quality: bool = True, alignment: bool = True) -> dict:
        mask = np.ones(len(self.rows), bool) if mask is None else np.asarray(mask)
        sub = self.rows[mask]
        out: dict = {}
        if quality:
            out["fvd"] = None if self.meta["method"] == "gt" else self.fvd(mask)
            for k in ("lpips", "psnr", "ssim"):
                out[k] = float(sub[k].mean()) if k in sub and sub[k].notna().any() else None
        if alignment:
            out.update({k: float(sub[k].mean()) for k in ALIGN_COLS if k in sub})  # motion: scored since issue 16
        out["videos"] = int(mask.sum())
        return out


def _cell(v) -> str:
    """A number of a markdown table: 4 significant digits, empty where there is none."""
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4g}"


def _arrow(col: str) -> str:
    return {True: "↑", False: "↓", None: "(chance control)", "gt": "(px/s; the ground truth's is the target)"}[
        HIGHER_IS_BETTER[col]]


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, col: str, seed: int = 0) -> tuple[float, float, float]:
    """Mean of a[col] - b[col] over the clips both scored, and its bootstrap 95 % interval over clips."""
    pair = a[["clip_id", col]].merge(b[["clip_id", col]], on="clip_id", suffixes=("", "_b"))
    diff = (pair[col] - pair[f"{col}_b"]).to_numpy(dtype=float)
    if len(diff) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(len(diff), size=(BOOTSTRAP_RESAMPLES, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def _genre_name(code: str) -> str:
    from .aist import GENRES

    return GENRES[code][0] if code in GENRES else code


def _label(column: str, method: str, group_value, frames_by_method: dict[str, int]):
    """The value of one label column of a row (a group value arrives as it is in per_video.csv)."""
    if column == "model":
        return LABELS.get(method, method)
    if column == "method":
        return method
    if column == "camera":
        return str(group_value).upper()
    if column == "dance_style":
        return _genre_name(group_value)
    if column == "frames":
        return frames_by_method[method]
    if column == "beat":
        return "no" if method == "nobeat" else "yes"
    raise ValueError(f"no label column {column!r}")


def build_rows(number: int, scores: dict[str, Scores], frames_by_method: dict[str, int]) -> pd.DataFrame:
    """The rows of table ``number`` (its ``plan.TABLES`` spec) from the scores of the methods it needs."""
    if number not in TABLES:
        raise ValueError(f"no table {number}; tables are 1-6")
    spec = TABLES[number]
    quality = any(c in QUALITY_COLS for c in spec.metrics)
    alignment = any(c in ALIGN_COLS for c in spec.metrics)
    groups: list = [None]
    if spec.group is not None:
        groups = sorted(scores[BASE].rows[spec.group].unique()) + ([spec.total] if spec.total else [])
    group_column = next((c for c in spec.columns if c in ("camera", "dance_style")), None)
    rows = []
    for value in groups:
        for m, s in scores.items():
            mask = None if value is None or value == spec.total else (s.rows[spec.group] == value).to_numpy()
            r = s.row(mask, quality=quality, alignment=alignment)
            row = {c: (value if c == group_column and value == spec.total
                       else _label(c, m, value, frames_by_method)) for c in spec.columns}
            row.update({k: r.get(k) for k in spec.metrics})
            row["videos"] = r["videos"]
            if spec.paired_against in scores:  # the beat's effect: minus the no-beat model on the same clips
                diff, low, high = paired_difference(s.rows, scores[spec.paired_against].rows, "mm_align")
                row.update(mm_align_minus_nobeat=diff, ci95_low=low, ci95_high=high)
            rows.append(row)
    return pd.DataFrame(rows)


def _markdown(number: int, table: pd.DataFrame, meta: dict) -> str:
    shown = table.drop(columns=[c for c in ("method",) if c in table])
    fmt = shown.copy()
    for c in fmt.columns:
        if c in HIGHER_IS_BETTER or c in ("mm_align_minus_nobeat", "ci95_low", "ci95_high"):
            fmt[c] = [_cell(v) for v in fmt[c]]
        if c in HIGHER_IS_BETTER:
            fmt = fmt.rename(columns={c: f"{c} {_arrow(c)}"})
    lines = [f"# Table {number}: {TABLES[number].title}", ""]
    lines += [f"> {w}" for w in meta["warnings"]] + ([""] if meta["warnings"] else [])
    lines.append(fmt.to_markdown(index=False))
    lines += ["", f"{meta['videos']} videos per method, {meta['frames']} frames at {meta['fps']:g} fps; "
              f"FVD on I3D features at {meta['fvd_resize']} px; sampler {meta['sampler']}.",
              "", "mm_align_shifted: 2D-MM Align of the same videos against their music beats shifted by half a "
              "beat period, the chance control: motion on the beat scores well above it."]
    if "ci95_low" in table:
        lines += ["", f"mm_align_minus_nobeat: mean over the same clips of the variant's 2D-MM Align minus the "
                  f"no-beat model's; ci95: {BOOTSTRAP_RESAMPLES} bootstrap resamples of the clips."]
    return "\n".join(lines) + "\n"


def _figure(number: int, table: pd.DataFrame, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [c for c in QUALITY_COLS + ALIGN_COLS if c in table and table[c].notna().any()]
    label_cols = [c for c in ("dance_style", "camera", "frames", "model") if c in table]
    labels = [" / ".join(str(r[c]) for c in label_cols) for _, r in table.iterrows()]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 0.35 * len(labels) + 1.6), squeeze=False)
    for ax, c in zip(axes[0], cols):
        vals = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        ax.barh(range(len(vals)), np.nan_to_num(vals), color=["#4c72b0" if "DabFusion" in lab else "#999999"
                                                               for lab in labels])
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels), fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{c} {_arrow(c)}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"Table {number}: {TABLES[number].title}", fontsize=10)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def conditioning_flags(embedding_file: Path) -> dict:
    """Whether the music encoder DabFusion was conditioned on had pretrained CLAP / Wav2CLIP."""
    from .music.embedding import read_vectors

    table, _ = read_vectors(embedding_file)
    return {"music_clap_pretrained": bool(np.all(table["clap_pretrained"])),
            "music_wav2clip_pretrained": bool(np.all(table["wav2clip_pretrained"]))}


def write_table(number: int, per_video: dict[str, Path], samples: dict[str, Path], out_csv: Path,
                source: str, conditioning_pretrained: dict) -> pd.DataFrame:
    """Build table ``number`` and write ``.csv``, ``.md``, ``.png`` and ``.json`` beside ``out_csv``.

    ``per_video``: method -> its per_video.csv; ``samples``: method -> its samples.csv (for
    seeds, sampler and steps); ``conditioning_pretrained``: the music encoder's flags.
    """
    scores = {m: Scores(p) for m, p in per_video.items()}
    frames = {m: int(s.meta["frames"]) for m, s in scores.items()}
    table = build_rows(number, scores, frames)
    first = next(iter(scores.values())).meta
    extractors = {k: all(s.meta[k] for s in scores.values()) for k in first if k.endswith("_pretrained")}
    flags = {**extractors, **conditioning_pretrained}
    manifests = {m: pd.read_csv(p) for m, p in samples.items()}
    warnings = []
    if source == "synthetic":
        warnings.append("Computed on the SYNTHETIC AIST++-shaped dataset, not on AIST++.")
    random_init = [k.removesuffix("_pretrained") for k, v in flags.items() if not v]
    if random_init:
        warnings.append("SEEDED RANDOM INIT (no pretrained weights) for: " + ", ".join(random_init)
                        + ". These numbers are NOT comparable with published ones.")
    meta = {
        "table": number, "title": TABLES[number].title, "source": source, "warnings": warnings,
        "videos": int(first["videos"]), "frames": frames, "fps": float(first["fps"]),
        "fvd_resize": first["fvd_resize"], "sigma_seconds": first["sigma_seconds"], "cs_frames": first["cs_frames"],
        "pretrained": flags,
        "sampler": {m: f"{d.sampler.iloc[0]}, {int(d.steps.iloc[0])} steps"
                    + (f", guidance {float(d.guidance.iloc[0]):.3g}" if "guidance" in d else "")
                    + (f" on the {d.guide.iloc[0]}" if "guide" in d else "")
                    for m, d in manifests.items() if m != GROUND_TRUTH},  # its manifest is base's: not sampled
        "seeds": {m: [int(x) for x in d.seed] if "seed" in d else None for m, d in manifests.items()},
        # relative to the table, so one commit's sidecars are the same bytes in every folder
        "methods": {m: os.path.relpath(p, Path(out_csv).parent) for m, p in per_video.items()},
    }
    table = table.assign(**{f"{k}": v for k, v in {"synthetic_data": source == "synthetic",
                                                    "random_init": ";".join(random_init)}.items()})
    write_table_atomic(out_csv, table)
    out_csv = Path(out_csv)
    md_meta = {**meta, "frames": ", ".join(f"{v}" for v in sorted(set(frames.values()))),
               "sampler": "; ".join(f"{m}: {v}" for m, v in meta["sampler"].items())}
    write_text_atomic(out_csv.with_suffix(".md"), _markdown(number, table.drop(columns=["synthetic_data",
                                                                                       "random_init"]), md_meta))
    _figure(number, table, out_csv.with_suffix(".png"))
    write_json_atomic(out_csv.with_suffix(".json"), meta)
    log.info("table %d (%s): %d rows -> %s", number, TABLES[number].title, len(table), out_csv)
    return table


def seed_table(groups: dict[str, dict[str, int]], per_video: dict[str, Path], out_csv: Path,
               source: str, figure6: dict[str, Path] | None = None) -> pd.DataFrame:
    """Repeats of one setting with other seeds (``diffusion.variants.*.seed``): their spread.

    ``groups``: setting -> {variant: its seed} (two or more); ``per_video`` also holds the ground truth
    (``gt``) and any baselines, which are deterministic and get one row each. Rows per variant:
    FVD, 2D-MM Align and its chance control, motion and motion over the ground truth's on the
    same clips, and, for the variants of ``figure6`` (variant -> its Figure 6 table), the unseen
    dancers' mean motion over the training dancers'; then the mean, min and max of each group.
    Writes ``.csv`` and ``.md``.
    """
    scores = {m: Scores(p) for m, p in per_video.items()}
    gt = scores.get("gt")
    gt_motion = gt.rows.set_index("clip_id")["motion"] if gt is not None and "motion" in gt.rows else None
    unseen = {v: pd.read_csv(f) for v, f in (figure6 or {}).items()}
    # against the training dancers of the video's camera, and (tables of older runs lack it) of every camera
    unseen_cols = {"figure6_motion": "motion_vs_training", "figure6_motion_all_cameras": "motion_vs_all_cameras"}
    unseen_cols = {k: c for k, c in unseen_cols.items() if unseen and all(c in t for t in unseen.values())}
    cols = ["fvd", "mm_align", "mm_align_shifted", "motion", "motion_vs_gt", *unseen_cols]

    def row(m: str) -> dict:
        s, r = scores[m], scores[m].row()
        ratio = None
        if gt_motion is not None and "motion" in s.rows:
            own = s.rows.set_index("clip_id")["motion"]
            ratio = float(own.mean() / gt_motion.loc[own.index].mean())
        extra = {k: float(unseen[m][c].mean()) if m in unseen else None for k, c in unseen_cols.items()}
        return {"method": m, **{k: r.get(k) for k in ("fvd", "mm_align", "mm_align_shifted", "motion")},
                "motion_vs_gt": ratio, **extra, "videos": r["videos"]}

    rows = []
    for setting, members in groups.items():
        part = pd.DataFrame([{"setting": setting, "seed": seed, **row(m)} for m, seed in members.items()])
        rows += part.to_dict("records")
        for stat in ("mean", "min", "max"):
            rows.append({"setting": setting, "method": stat, **getattr(part[cols], stat)().to_dict()})
    rows += [{"setting": m, **row(m)} for m in per_video if m not in {v for g in groups.values() for v in g}]
    table = pd.DataFrame(rows).astype({"seed": "Int64"})
    write_table_atomic(out_csv, table)
    lines = ["# Seeds: repeats of one setting", ""]
    if source == "synthetic":
        lines += ["> Computed on the SYNTHETIC AIST++-shaped dataset, not on AIST++.", ""]
    fmt = table.copy()
    for c in cols:
        fmt[c] = [_cell(v) for v in fmt[c]]
    lines += [fmt.to_markdown(index=False), "",
              "Each repeat trains stage 2 and draws the sampling noise with its own seed, and with "
              "sampling.calibration on samples at its own calibrated guidance (stage 1, the data and "
              "the test clips are shared). mm_align_shifted: the chance control; motion: the dancer's mean "
              "speed (px/s); motion_vs_gt: over the ground truth's on the same clips"
              + ("; figure6_motion: Figure 6 made with the variant (unseen dancers, figure6/), their mean motion "
                 "over the training dancers' seen by the same camera" if unseen_cols else "")
              + ("; figure6_motion_all_cameras: over every camera's training dancers"
                 if "figure6_motion_all_cameras" in unseen_cols else "") + ". Baselines are deterministic."]
    write_text_atomic(Path(out_csv).with_suffix(".md"), "\n".join(lines) + "\n")
    log.info("seeds: %d settings repeated -> %s", len(groups), out_csv)
    return table
