"""Stage-1 evaluation: reconstruct held-out driving frames, against 'output the reference frame'.

For each of ``eval_clips`` test-split clips (seeded choice), the reference is the clip's
first frame and the driving frames are its middle and last frames. Both the auto-encoder's
output and the trivial baseline (the reference frame unchanged) are scored against the
driving frame with L1, PSNR, SSIM and LPIPS (metrics/image.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..frames import load_clip
from ..io import atomic_path, write_table_atomic
from ..models.warp import displacement_from_grid
from .image import LPIPS, psnr, ssim, to_tensor

log = logging.getLogger(__name__)


def flow_to_rgb(grid: torch.Tensor, max_px: float | None = None) -> np.ndarray:
    """(B, h, w, 2) grid -> (B, h, w, 3) uint8: hue = direction, brightness = displacement."""
    import matplotlib.colors as mcolors

    d = displacement_from_grid(grid).cpu().numpy()
    mag = np.linalg.norm(d, axis=-1)
    scale = max_px or max(float(mag.max()), 1e-6)
    hsv = np.stack([(np.arctan2(d[..., 1], d[..., 0]) / (2 * np.pi)) % 1.0,
                    np.ones_like(mag), np.clip(mag / scale, 0, 1)], -1)
    return (mcolors.hsv_to_rgb(hsv) * 255).astype(np.uint8)


def eval_pairs(clips: pd.DataFrame, n: int, seed: int) -> list[tuple[str, int, int]]:
    test = clips[clips.split == "test"]
    rng = np.random.default_rng(seed)
    picked = test.iloc[np.sort(rng.choice(len(test), size=min(n, len(test)), replace=False))]
    out = []
    for c in picked.itertuples():
        for k in (c.n_frames // 2, c.n_frames - 1):
            out.append((c.frames_file, int(c.start_frame), int(c.start_frame + k)))
    return out


@torch.no_grad()
def evaluate_lfae(model, clips_file: Path, n_clips: int, seed: int, out_csv: Path, out_png: Path,
                  lpips_weights: Path | None = None, batch: int = 32) -> pd.DataFrame:
    clips = pd.read_parquet(clips_file)
    pairs = eval_pairs(clips, n_clips, seed)
    lp = LPIPS(lpips_weights, seed)
    rows = {"autoencoder": [], "reference frame (baseline)": []}
    first = None
    for i in range(0, len(pairs), batch):
        chunk = pairs[i:i + batch]
        ref = to_tensor(np.stack([load_clip(f, a, 1)[0] for f, a, _ in chunk]))
        dri = to_tensor(np.stack([load_clip(f, b, 1)[0] for f, _, b in chunk]))
        res = model(ref, dri)
        out = res["out"].clamp(0, 1)
        if first is None:
            first = (ref[:6], dri[:6], out[:6], res["grid"][:6], res["occlusion"][:6])
        for name, pred in (("autoencoder", out), ("reference frame (baseline)", ref)):
            rows[name].append(torch.stack([(pred - dri).abs().flatten(1).mean(1), psnr(pred, dri), ssim(pred, dri),
                                           lp(pred, dri)], 1))
    table = []
    for name, parts in rows.items():
        m = torch.cat(parts).numpy()
        table.append({"method": name, "l1": m[:, 0].mean(), "psnr": m[:, 1].mean(), "ssim": m[:, 2].mean(),
                      "lpips": m[:, 3].mean(), "pairs": len(m), "lpips_backbone_pretrained": lp.pretrained})
    frame = pd.DataFrame(table)
    write_table_atomic(out_csv, frame)
    _grid_figure(first, out_png)
    log.info("stage-1 reconstruction on held-out clips:\n%s", frame.to_string(index=False))
    return frame


def _grid_figure(first, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch.nn.functional as F

    ref, dri, out, grid, occ = first
    size = ref.shape[-1]
    flow = flow_to_rgb(grid)
    cols = ["reference", "driving", "reconstruction", "latent flow", "occlusion"]
    fig, axes = plt.subplots(len(ref), len(cols), figsize=(2 * len(cols), 2 * len(ref)), squeeze=False)
    for r in range(len(ref)):
        occ_img = F.interpolate(occ[r:r + 1], size=(size, size), mode="nearest")[0, 0].numpy()
        images = [ref[r].permute(1, 2, 0).numpy(), dri[r].permute(1, 2, 0).numpy(),
                  out[r].permute(1, 2, 0).numpy(), flow[r], occ_img]
        for c, img in enumerate(images):
            ax = axes[r][c]
            ax.imshow(img, cmap="gray" if c == 4 else None, vmin=0, vmax=1 if c == 4 else None,
                      interpolation="nearest")
            ax.axis("off")
            if r == 0:
                ax.set_title(cols[c], fontsize=9)
    fig.suptitle("Stage 1 on held-out clips (flow: hue = direction, brightness = magnitude; "
                 "occlusion: white = visible)", fontsize=8)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
