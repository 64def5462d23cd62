"""What the Snakemake report shows besides the tables: side-by-side videos, loss curves, rule times."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_path, write_table_atomic, write_video

log = logging.getLogger(__name__)


def pick_spread(samples: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` clips covering as many cameras and genres as possible (round robin)."""
    order = samples.sort_values("clip_id").copy()
    order["_c"] = order.groupby("camera").cumcount()
    order["_g"] = order.groupby("genre").cumcount()
    return order.sort_values(["_c", "_g", "clip_id"]).head(n).drop(columns=["_c", "_g"])


def side_by_side(samples_csv: Path, music_csv: Path, n: int, out_dir: Path) -> list[Path]:
    """Ground truth | generated, with the clip's music, for ``n`` clips spread over cameras and genres."""
    from .frames import load_clip
    from .sampling import music_segment

    samples = pd.read_csv(samples_csv)
    music = pd.read_csv(music_csv).set_index("music_id")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for c in pick_spread(samples, n).itertuples():
        gt = load_clip(c.frames_file, int(c.start_frame), int(c.n_frames))
        gen = np.load(c.generated_frames)
        gap = np.full((len(gt), gt.shape[1], 4, 3), 255, np.uint8)
        audio, sr = music_segment(music, c.music_id, c.music_start, c.music_end)
        out = out_dir / f"{c.camera}_{c.genre}_{c.clip_id}.mp4"
        write_video(out, np.concatenate([gt, gap, gen], axis=2), int(round(c.fps)), audio, sr)
        written.append(out)
    return written


def runtime_table(benchmark_dir: Path, out_csv: Path) -> pd.DataFrame:
    """Snakemake's per-job ``benchmark:`` files as one table (seconds, peak memory), slowest first.

    Two summary rows: the sum over jobs, and the wall time they spanned (each file is written
    when its job ends, so a job ran from the file's mtime minus its seconds to its mtime).
    """
    rows, spans = [], []
    for f in sorted(Path(benchmark_dir).glob("*.tsv")):
        b = pd.read_csv(f, sep="\t")
        rows.append({"job": f.stem, "seconds": float(b.s.mean()), "max_rss_mb": float(b.max_rss.mean()),
                     "cpu_seconds": float(b.cpu_time.mean())})
        end = f.stat().st_mtime
        spans.append((end - float(b.s.iloc[-1]), end))
    table = pd.DataFrame(rows, columns=["job", "seconds", "max_rss_mb", "cpu_seconds"])
    table = table.sort_values("seconds", ascending=False).reset_index(drop=True)
    summary = [{"job": "TOTAL (sum of jobs)", "seconds": table.seconds.sum(),
                "max_rss_mb": table.max_rss_mb.max(), "cpu_seconds": table.cpu_seconds.sum()}]
    if spans:
        summary.append({"job": "WALL (first benchmarked job start to last end)",
                        "seconds": max(e for _, e in spans) - min(s for s, _ in spans),
                        "max_rss_mb": table.max_rss_mb.max(), "cpu_seconds": table.cpu_seconds.sum()})
    table = pd.concat([table, pd.DataFrame(summary)], ignore_index=True)
    write_table_atomic(out_csv, table)
    return table


def loss_curves(loss_files: dict[str, Path], out_png: Path) -> None:
    """One panel per training (stage 1, each stage-2 variant): loss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(loss_files), figsize=(3.2 * len(loss_files), 2.8), squeeze=False)
    for ax, (name, path) in zip(axes[0], loss_files.items()):
        loss = pd.read_csv(path)
        x = loss["epoch"] if "epoch" in loss else np.arange(len(loss))
        for col in [c for c in loss.columns if c not in ("epoch", "lr", "seconds", "step")][:3]:
            ax.plot(x, loss[col], label=col)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
