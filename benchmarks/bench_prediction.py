"""What the stage-2 U-Net should predict on a CPU budget: v against x0 (and eps), same everything else.

Run after the default pipeline (needs its stage 1, flow cache, music embedding and base samples):
    .venv/bin/python benchmarks/bench_prediction.py [v x0 eps] [--dim 32]

For each prediction, trains the base variant with the default's stage-2 settings (into
/tmp/bench_prediction/), samples the 40 test clips of results/samples/base with the default
sampler, and prints FVD against their ground truth (the same random-init I3D as the tables),
FVD of the first frame repeated, and how much the generated flows move: mean |displacement|
and mean change per frame (latent px), beside the same for the clips' own stage-1 flows.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.config import load_config  # noqa: E402
from dabfusion.diffusion import target  # noqa: E402
from dabfusion.diffusion.conditions import MusicConditions  # noqa: E402
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.logs import setup_logging  # noqa: E402
from dabfusion.metrics.fvd import I3DFeatures, fvd  # noqa: E402
from dabfusion.metrics.image import to_tensor  # noqa: E402
from dabfusion.models.warp import displacement_from_grid  # noqa: E402
from dabfusion.plan import Paths  # noqa: E402
from dabfusion.sampling import DanceSampler, clip_seed  # noqa: E402
from dabfusion.training.diffusion import train_diffusion  # noqa: E402
from dabfusion.training.flow_cache import clip_flows  # noqa: E402


def flow_motion(grid: torch.Tensor) -> tuple[float, float]:
    """grid (N, h, w, 2) -> (mean |displacement|, mean |change per frame|) in latent px."""
    d = displacement_from_grid(grid)
    return d.norm(dim=-1).mean().item(), (d[1:] - d[:-1]).norm(dim=-1).mean().item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("predictions", nargs="*", default=["v", "x0"])
    ap.add_argument("--dim", type=int, default=None, help="U-Net width (default: the config's)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    cfg = load_config(ROOT / "config.yaml")
    data, res = Path(cfg["data_dir"]), Path(cfg["results_dir"])
    n = cfg["clips"]["length"]
    paths = Paths(data=str(data), results=str(res))
    lfae, emb = Path(paths.lfae), Path(paths.music_embedding(n))
    samples = pd.read_csv(res / "samples/base/samples.csv")
    gts = [load_clip(c.frames_file, c.start_frame, c.n_frames) for c in samples.itertuples()]
    i3d = I3DFeatures(None, 0, resize=cfg["evaluation"]["fvd_resize"])
    feats = lambda v: np.concatenate([i3d(np.stack(v[i:i + 8])) for i in range(0, len(v), 8)])  # noqa: E731
    f_gt = feats(gts)
    print(f"first frame repeated: FVD {fvd(f_gt, feats([np.repeat(g[:1], len(g), 0) for g in gts])):.3f}")
    for pred in args.predictions:
        shared = {k: v for k, v in cfg["diffusion"].items() if k != "variants"}
        vcfg = {**shared, "frames": n, "variant": "base", "beat": True, "frame_rhythm": False, "prediction": pred}
        if args.dim:
            vcfg["model"] = {**vcfg["model"], "dim": args.dim}
        out = Path(f"/tmp/bench_prediction/{pred}_dim{vcfg['model']['dim']}")
        train_diffusion(vcfg, Path(paths.flows(n)).parent, lfae, emb, out, progress=False)
        ds = DanceSampler(out / "model.safetensors", lfae, "cpu")
        cond = MusicConditions(emb, ds.meta["beat"])
        gen, motion, real = [], [], []
        with torch.inference_mode():
            for lo in range(0, len(samples), 8):
                part, gt = samples.iloc[lo:lo + 8], gts[lo:lo + 8]
                ref = torch.stack([to_tensor(v[:1])[0] for v in gt])
                e, beats = cond.get(part.window_id)
                gens = [torch.Generator().manual_seed(clip_seed(cfg["sampling"]["seed"], c)) for c in part.clip_id]
                a0 = ds.flows(ds.lfae.encode(ref)[-1], e, beats, cfg["sampling"], gens)
                grid, _ = target.decode(a0.float(), ds.meta["flow_scale"])
                motion += [flow_motion(g) for g in grid]
                real += [flow_motion(clip_flows(ds.lfae, to_tensor(v))[0]) for v in gt]
                gen += list(ds.render(ref, a0))
        m, r = np.mean(motion, 0), np.mean(real, 0)
        print(f"prediction {pred} (dim {vcfg['model']['dim']}): FVD {fvd(f_gt, feats(gen)):.3f}; flows move "
              f"{m[0]:.3f} px, change {m[1]:.3f} px per frame (the clips' own: {r[0]:.3f}, {r[1]:.3f})")


if __name__ == "__main__":
    main()
