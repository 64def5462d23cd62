"""Stage-1 training: random frame pairs from one video; reconstruct the driving frame.

Run through Snakemake (rule train_lfae), or directly, also under torchrun:
    torchrun --standalone --nproc_per_node=2 -m dabfusion.training.lfae --config config.yaml
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..io import write_table_atomic
from ..models.lfae import LatentFlowAE, LFAEConfig
from ..models.losses import VGGPyramidLoss, equivariance_loss, flow_loss, random_affine, teacher_flow
from .runtime import Runtime, epoch_generator, load_resumable, run_fingerprint, save_state, save_weights, unwrap

log = logging.getLogger(__name__)

# the code a stage-1 checkpoint depends on (resuming checks it has not changed)
MODEL_FILES = ("lfae.py", "blocks.py", "warp.py", "losses.py")


class FramePairs:
    """Random (reference, driving) frame pairs from the training videos of the clip index."""

    def __init__(self, clips: pd.DataFrame, max_gap: int):
        videos = clips.drop_duplicates("video")
        self.files = videos.frames_file.tolist()
        self.lengths = [np.load(f, mmap_mode="r").shape[0] for f in self.files]
        self.max_gap = max_gap
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def frames(self, i: int) -> np.ndarray:
        if i not in self._open:
            self._open[i] = np.load(self.files[i], mmap_mode="r")
        return self._open[i]

    def batch(self, n: int, g: torch.Generator, rows: slice | None = None,
              teacher_cells: int = 0) -> tuple[torch.Tensor, ...]:
        """Reference and driving frames (n, 3, S, S) in [0, 1], drawn with ``g``; only ``rows``
        of them are loaded and returned (DDP: every rank draws all n, keeps its share).
        ``teacher_cells`` > 0 adds the teacher's backward flows (n, cells, cells, 2) in pixels."""
        vids = torch.randint(len(self.files), (n,), generator=g).tolist()
        picks = []
        for v in vids:
            length = self.lengths[v]
            a = int(torch.randint(length, (1,), generator=g))
            lo, hi = max(0, a - self.max_gap), min(length - 1, a + self.max_gap)
            picks.append((v, a, int(torch.randint(lo, hi + 1, (1,), generator=g))))
        refs, dris = [], []
        for v, a, b in picks[rows or slice(None)]:
            f = self.frames(v)
            refs.append(f[a])
            dris.append(f[b])
        to_t = lambda x: torch.from_numpy(np.stack(x)).permute(0, 3, 1, 2).float() / 255.0  # noqa: E731
        if not teacher_cells:
            return to_t(refs), to_t(dris)
        flows = np.stack([teacher_flow(r, d, teacher_cells) for r, d in zip(refs, dris)])
        return to_t(refs), to_t(dris), torch.from_numpy(flows)


@dataclass
class StageOneResult:
    epochs_run: int
    seconds: float
    final_loss: float


def _build(cfg: dict) -> tuple[LatentFlowAE, LFAEConfig]:
    mcfg = LFAEConfig.from_dict({**cfg["model"], "image_size": cfg["image_size"]})
    torch.manual_seed(cfg["seed"])
    return LatentFlowAE(mcfg), mcfg


def train_lfae(cfg: dict, clips_file: Path, out_dir: Path, stop_after_epochs: int | None = None,
               progress: bool = True) -> StageOneResult:
    """Train (or resume training) stage 1. ``stop_after_epochs`` ends early, as a kill would."""
    from tqdm import tqdm

    rt = Runtime.start(cfg["device"], cfg["precision"])
    out_dir = Path(out_dir)
    ckpt_file = out_dir / "checkpoint.pt"
    clips = pd.read_parquet(clips_file)
    pairs = FramePairs(clips[clips.split == "train"], cfg["max_frame_gap"])
    model, mcfg = _build(cfg)
    perceptual = VGGPyramidLoss(Path(cfg["vgg_weights"]) if cfg["vgg_weights"] else None, cfg["vgg_layers"],
                                cfg["vgg_scales"], cfg["require_pretrained"], cfg["seed"]).to(rt.device)
    net = rt.wrap(model)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg["lr_milestones"], gamma=0.1)
    start_epoch, history = 0, []
    fingerprint = run_fingerprint(cfg, MODEL_FILES)
    state = load_resumable(ckpt_file, fingerprint, [(unwrap(net), "model"), (opt, "optimizer"), (sched, "scheduler")])
    if state is not None:
        start_epoch, history = state["epoch"] + 1, state["history"]
        log.info("resuming stage 1 from %s after epoch %d", ckpt_file, state["epoch"])
    rows = rt.shard(cfg["batch_size"])
    steps = cfg["steps_per_epoch"]
    teacher_cells = mcfg.latent_size if cfg["w_flow"] > 0 else 0
    started = time.perf_counter()
    last = start_epoch
    for epoch in range(start_epoch, cfg["epochs"]):
        if stop_after_epochs is not None and epoch - start_epoch >= stop_after_epochs:
            break
        g = epoch_generator(cfg["seed"], epoch)
        net.train()
        sums = {"loss": 0.0, "perceptual": 0.0, "l1": 0.0, "equivariance": 0.0, "occlusion": 0.0, "flow": 0.0}
        t0 = time.perf_counter()
        bar = tqdm(range(steps), desc=f"stage 1 epoch {epoch + 1}/{cfg['epochs']}",
                   disable=not (progress and rt.is_main),
                   mininterval=10)
        for _ in bar:
            ref, dri, *teacher = (t.to(rt.device) for t in pairs.batch(cfg["batch_size"], g, rows, teacher_cells))
            theta = random_affine(cfg["batch_size"], cfg["equivariance_strength"], g, rt.device)[rows]
            with rt.autocast():
                res = net(ref, dri)
                out = res["out"].float()
                l_perc = perceptual(out, dri)
                l_l1 = (out - dri).abs().mean()
                l_eq = equivariance_loss(unwrap(net).detect, dri, res["kp_dri"][0], theta) \
                    if cfg["w_equivariance"] > 0 else out.new_zeros(())
                l_occ = (1 - res["occlusion"].float()).mean()  # inpaint only what the reference cannot show
                l_flow = flow_loss(res["grid"].float(), teacher[0], mcfg.image_size) if teacher \
                    else out.new_zeros(())
                loss = cfg["w_perceptual"] * l_perc + cfg["w_l1"] * l_l1 + cfg["w_equivariance"] * l_eq \
                    + cfg["w_occlusion"] * l_occ + cfg["w_flow"] * l_flow
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in (("loss", loss), ("perceptual", l_perc), ("l1", l_l1), ("equivariance", l_eq),
                         ("occlusion", l_occ), ("flow", l_flow)):
                sums[k] += float(v.detach())
        sched.step()
        row = {"epoch": epoch + 1, **{k: rt.average(v / steps) for k, v in sums.items()},
               "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        history.append(row)
        last = epoch + 1
        if rt.is_main:
            log.info("stage 1 epoch %d: %s", epoch + 1,
                     ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))
            save_state(ckpt_file, {"model": unwrap(net).state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "epoch": epoch, "history": history,
                                   "fingerprint": fingerprint})
        rt.barrier()
    if rt.is_main and last >= cfg["epochs"]:
        save_weights(out_dir / "model.safetensors", unwrap(net), mcfg.to_dict(),
                     {"vgg_pretrained": perceptual.pretrained, "epochs": cfg["epochs"]})
        write_table_atomic(out_dir / "loss.csv", pd.DataFrame(history))
    rt.stop()
    final_loss = history[-1]["loss"] if history else float("nan")
    return StageOneResult(last - start_epoch, time.perf_counter() - started, final_loss)


def main(argv: list[str] | None = None) -> None:
    from ..config import load_config
    from ..logs import setup_logging

    ap = argparse.ArgumentParser(description="train stage 1 (use torchrun for several GPUs)")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--preset", action="append", default=[])
    ap.add_argument("--config-json", help="the stage-1 settings as written by the Snakemake rule")
    ap.add_argument("--clips", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop-after-epochs", type=int, default=None, help="end early (tests of resuming)")
    args = ap.parse_args(argv)
    setup_logging()
    if args.config_json:
        cfg = json.loads(Path(args.config_json).read_text())
    else:
        full = load_config(args.config, args.preset)
        cfg = {**full["lfae"], "image_size": full["extract"]["size"]}
    train_lfae(cfg, Path(args.clips), Path(args.out), stop_after_epochs=args.stop_after_epochs)


if __name__ == "__main__":
    main()
