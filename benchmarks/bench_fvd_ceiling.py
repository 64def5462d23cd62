"""The FVD ceiling of any flow generator: the test clips' own motion, recovered by stage 1 and rendered.

Run after the default pipeline (needs results/samples/base and results/models/lfae):
    .venv/bin/python benchmarks/bench_fvd_ceiling.py [STAGE1_MODEL.safetensors]
Prints FVD / PSNR on the same clips and the same (random-init, seed 0) I3D as the tables of:
that oracle rendered as stage 1 renders (the reference warped bicubically), the same with
bilinear warping (what bilinear sampling's blur costs), the first frame repeated, and
DabFusion; plus how much each set of videos moves.
"""
import sys

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from dabfusion.checkpoints import load_lfae  # noqa: E402
from dabfusion.config import load_config  # noqa: E402
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.metrics.fvd import I3DFeatures, fvd  # noqa: E402
from dabfusion.metrics.image import (
    psnr,  # noqa: E402
    to_tensor,  # noqa: E402
)
from dabfusion.plan import Paths  # noqa: E402
from dabfusion.training.flow_cache import clip_flows  # noqa: E402

torch.set_num_threads(2)
cfg = load_config("config.yaml")
s = pd.read_csv(f"{cfg['results_dir']}/samples/base/samples.csv")
default_lfae = Paths(data=cfg["data_dir"], results=cfg["results_dir"]).lfae
lfae = load_lfae(sys.argv[1] if len(sys.argv) > 1 else default_lfae).eval()
gts, stat, recs, occ = [], [], {"bicubic": [], "bilinear": []}, []
with torch.inference_mode():
    for c in s.itertuples():
        gt = load_clip(c.frames_file, c.start_frame, c.n_frames)
        f = to_tensor(gt)
        g, o, _ = clip_flows(lfae, f)
        feats = lfae.encode(f[:1])
        occ.append(float(o.mean()))
        for mode in recs:
            lfae.cfg.image_warp = mode
            out = torch.cat([lfae.animate(f[:1], g[k:k + 1], o[k:k + 1], feats) for k in range(len(f))]).clamp(0, 1)
            recs[mode].append((out.permute(0, 2, 3, 1) * 255).round().byte().numpy())
        gts.append(gt)
        stat.append(np.repeat(gt[:1], len(gt), 0))
i3d = I3DFeatures(None, 0, resize=cfg["evaluation"]["fvd_resize"])
F = lambda v: np.concatenate([i3d(np.stack(v[i:i + 8])) for i in range(0, len(v), 8)])  # noqa: E731
P = lambda v: float(np.mean([psnr(to_tensor(a), to_tensor(b)).mean() for a, b in zip(v, gts)]))  # noqa: E731
M = lambda v: float(np.mean([np.abs(x.astype(float) - x[:1]).mean() for x in v]))  # noqa: E731
fg = F(gts)
gen = list(np.stack([np.load(p) for p in s.generated_frames]))
rows = {"oracle: own motion, bicubic (stage 1)": recs["bicubic"], "oracle: own motion, bilinear": recs["bilinear"],
        "first frame repeated": stat, "DabFusion": gen}
print(f"{len(gts)} test clips; FVD with seeded random I3D at {cfg['evaluation']['fvd_resize']} px; "
      f"stage 1's occlusion map on them: mean {np.mean(occ):.4f} (1 = the reference visible everywhere)")
for name, v in rows.items():
    print(f"  {name:38s} FVD {fvd(fg, F(v)):6.3f}  PSNR {P(v):6.2f}  motion {M(v):5.2f} (ground truth {M(gts):.2f})")
