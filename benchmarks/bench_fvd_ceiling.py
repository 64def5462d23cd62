"""The FVD ceiling of any flow generator: the test clips' own motion, recovered by stage 1 and decoded.

Run after the default pipeline (needs results/samples/base and results/models/lfae):
    .venv/bin/python benchmarks/bench_fvd_ceiling.py
Prints FVD / PSNR of that oracle, of the static baseline and of DabFusion, on the same clips
and the same (random-init, seed 0, 112 px) I3D, plus how much each set of videos moves.
"""
import sys, numpy as np, pandas as pd, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from dabfusion.frames import load_clip
from dabfusion.training.lfae import load_lfae
from dabfusion.training.flow_cache import clip_flows, frames_tensor
from dabfusion.metrics.fvd import I3DFeatures, fvd
from dabfusion.metrics.image import psnr, ssim, to_tensor
torch.set_num_threads(1)
s = pd.read_csv("results/samples/base/samples.csv")
lfae = load_lfae("results/models/lfae/model.safetensors").eval()
gts, recs, stat = [], [], []
with torch.inference_mode():
    for c in s.itertuples():
        gt = load_clip(c.frames_file, c.start_frame, c.n_frames)
        f = frames_tensor(gt)
        g, o, _ = clip_flows(lfae, f)
        feats = lfae.encode(f[:1])
        out = torch.cat([lfae.animate(f[:1], g[k:k+1], o[k:k+1], feats) for k in range(len(f))]).clamp(0, 1)
        recs.append((out.permute(0, 2, 3, 1) * 255).round().byte().numpy()); gts.append(gt); stat.append(np.repeat(gt[:1], len(gt), 0))
i3d = I3DFeatures(None, 0, resize=112)
F = lambda v: np.concatenate([i3d(np.stack(v[i:i+8])) for i in range(0, len(v), 8)])
fg, fr, fs = F(gts), F(recs), F(stat)
gen = np.stack([np.load(p) for p in s.generated_frames]); fd = F(list(gen))
print("FVD oracle(stage-1 recon of true motion)", fvd(fg, fr), "static", fvd(fg, fs), "dabfusion", fvd(fg, fd))
P = lambda v: float(np.mean([psnr(to_tensor(a), to_tensor(b)).mean() for a, b in zip(v, gts)]))
print("PSNR oracle", P(recs), "static", P(stat), "dabfusion", P(list(gen)))
# how much do the videos move? mean abs frame difference to the first frame
M = lambda v: float(np.mean([np.abs(x.astype(float) - x[:1]).mean() for x in v]))
print("motion (mean |frame - first|): gt", M(gts), "oracle", M(recs), "dabfusion", M(list(gen)))
