"""Stage-2 training: denoise cached latent-flow volumes, conditioned on z0 and the music (eq. 6).

    a0  = target.encode(cached grids, occlusion)            (B, 3, N, h, w)
    t   ~ U{0 .. T-1},  eps ~ N(0, I),  a_t = q_sample(a0, t, eps)
    loss = || eps - UNet(a_t, t, z0, e, beats, drop) ||^2   drop ~ Bernoulli(p_uncond): CFG
           (prediction "v": || v - UNet(...) ||^2, v = sqrt(abar) eps - sqrt(1 - abar) a0;
            prediction "x0": || a0 - UNet(...) ||^2)

EMA weights are kept beside the trained ones and are what the final file holds. Checkpoints
and resuming work as in stage 1 (``runtime.py``): every epoch's randomness comes from
(seed, epoch), so a resumed run ends with the same weights as an uninterrupted one.

Run through Snakemake (rule train_diffusion), or directly, also under torchrun:
    torchrun --standalone --nproc_per_node=2 -m dabfusion.training.diffusion --config-json cfg.json ...
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..diffusion import target
from ..diffusion.conditions import MusicConditions, without_beats
from ..diffusion.schedule import CosineSchedule
from ..io import write_table_atomic
from ..models.unet3d import UNet3D, UNet3DConfig
from .flow_cache import check_cache, load_cache
from .runtime import Runtime, epoch_generator, load_resumable, run_fingerprint, save_state, save_weights, unwrap

log = logging.getLogger(__name__)

MODEL_FILES = ("unet3d.py",)


class EMA:
    """Exponential moving average of a model's weights, decay warmed up as (1 + k) / (10 + k)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = state["updates"]


class FlowVolumes:
    """Training examples from the flow cache: a0, z0 and the music condition of each clip."""

    def __init__(self, cache: dict, conditions: MusicConditions, representation: str = "flows",
                 standardize: bool = False):
        self.cache, self.cond = cache, conditions
        self.flow_scale = cache["meta"]["flow_scale"]
        self.space = target.TargetSpace(representation)
        if standardize:
            self.space = target.TargetSpace.fit(self.sample(), representation, standardize)
        self.window_ids = cache["index"].window_id.tolist()
        self.cond.rows(self.window_ids)  # fail now, naming the window, if the tables disagree
        if conditions.n_frames != cache["meta"]["n_frames"]:
            raise ValueError(f"flow cache has {cache['meta']['n_frames']}-frame clips, music embedding "
                             f"{conditions.file} {conditions.n_frames}-frame windows")

    def __len__(self) -> int:
        return len(self.window_ids)

    def sample(self) -> torch.Tensor:
        """a0 of up to 512 cached clips, evenly spread: the statistics' sample."""
        n = len(self.cache["index"])
        return self.a0(sorted(set(np.linspace(0, n - 1, min(n, 512)).astype(int))))

    @functools.cached_property
    def flow_var(self) -> torch.Tensor:
        """(C,) variance of a0 per channel over the sample: the position loss's scale."""
        return self.sample().var(dim=(0, 2, 3, 4)).clamp(min=1e-8)

    def a0(self, idx: list[int]) -> torch.Tensor:
        grids = torch.from_numpy(np.stack([self.cache["grids"][i] for i in idx]).astype(np.float32))
        occ = torch.from_numpy(np.stack([self.cache["occlusion"][i] for i in idx]).astype(np.float32))
        return target.encode(grids, occ.unsqueeze(2), self.flow_scale)

    def batch(self, idx: list[int]) -> dict:
        a0 = self.space.to_model(self.a0(idx))
        z0 = torch.from_numpy(np.stack([self.cache["z0"][i] for i in idx]).astype(np.float32))
        e, beats = self.cond.get([self.window_ids[i] for i in idx])
        return {"a0": a0, "z0": z0, "e": e, "beats": beats}


def build_unet(cfg: dict, meta: dict, cond_dim: int) -> tuple[UNet3D, UNet3DConfig]:
    mcfg = UNet3DConfig.from_dict({**cfg["model"], "latent_channels": meta["latent_channels"], "cond_dim": cond_dim,
                                   "frame_rhythm": cfg["frame_rhythm"],
                                   "max_frames": max(meta["n_frames"], UNet3DConfig.max_frames)})
    torch.manual_seed(cfg["seed"])
    return UNet3D(mcfg), mcfg


def diffusion_loss(net, schedule: CosineSchedule, batch: dict, p_uncond: float, g: torch.Generator,
                   device, prediction: str = "eps", rows: slice | None = None,
                   global_batch: int | None = None, velocity_weight: float = 0.0,
                   position_weight: float = 0.0, space: target.TargetSpace | None = None,
                   flow_var: torch.Tensor | None = None, p_drop_beats: float = 0.0) -> torch.Tensor:
    """Eq. (6) on one batch, all randomness (t, noise, condition dropout) drawn from ``g``.

    ``prediction`` "eps" is the paper's loss; "v" or "x0" regress those instead (see the README).
    ``velocity_weight`` (beyond the paper, as EDGE and MDM do for joints) adds that times the
    squared error of the predicted clean flows' frame-to-frame change: the dance's timing is a
    small part of the flows' variance, and this loss is about nothing else.
    ``position_weight`` (for ``representation: velocity``, where the model generates changes) adds
    that times the squared error of the flows the predicted changes sum to (``space.to_flows``),
    over ``flow_var``, the training flows' variance per channel (C,): where the pose gets to, not
    only how it steps.
    ``p_drop_beats`` (beyond the paper): rows whose beats alone are nulled (``without_beats``),
    drawn apart from the condition dropout, so the model also learns to dance to the style
    without the beats and ``sampling.guide: beats`` can guide on the beats alone.
    Under DDP ``batch`` holds this rank's ``rows`` of a ``global_batch``: the randomness is drawn
    for the whole global batch and sliced, so the ranks together compute one process's step.
    """
    a0 = batch["a0"]
    b, rows = global_batch or a0.shape[0], rows or slice(None)
    t = torch.randint(schedule.T, (b,), generator=g)[rows]
    noise = torch.randn((b, *a0.shape[1:]), generator=g)[rows]
    drop = (torch.rand(b, generator=g) < p_uncond)[rows]
    a0, noise, t, drop = a0.to(device), noise.to(device), t.to(device), drop.to(device)
    e = batch["e"].to(device)
    beats = batch["beats"].to(device) if batch["beats"] is not None else None
    if p_drop_beats:  # drawn only when on, so models trained without it keep their random stream
        e, beats = without_beats(e, beats, (torch.rand(b, generator=g) < p_drop_beats)[rows].to(device))
    a_t = schedule.q_sample(a0, t, noise)
    pred = net(a_t, t, batch["z0"].to(device), e, beats, drop).float()
    loss = F.mse_loss(pred, schedule.training_target(prediction, a0, t, noise))
    if velocity_weight or position_weight:
        x0 = schedule.x0_from_output(prediction, a_t, t, pred)
    if velocity_weight:
        loss = loss + velocity_weight * F.mse_loss(x0.diff(dim=2), a0.diff(dim=2))
    if position_weight:
        err = (space.to_flows(x0)[:, :2] - space.to_flows(a0)[:, :2]) ** 2  # the flow, not the occlusion
        loss = loss + position_weight * (err / flow_var[:2].to(err)[None, :, None, None, None]).mean()
    return loss


def train_diffusion(cfg: dict, cache_dir: Path, lfae_file: Path, embedding_file: Path, out_dir: Path,
                    stop_after_epochs: int | None = None, progress: bool = True) -> dict:
    """Train (or resume) one stage-2 variant. ``stop_after_epochs`` ends early, as a kill would."""
    from tqdm import tqdm

    if cfg["frame_rhythm"] and not cfg["beat"]:
        raise ValueError(f"stage-2 variant {cfg.get('variant')!r}: frame_rhythm needs beat: true "
                         "(without beats there are no per-frame beat features to give it)")
    # a variant without beats has none to drop: its dropout is the condition's alone
    p_drop_beats = cfg.get("p_drop_beats", 0.0) if cfg["beat"] else 0.0
    rt = Runtime.start(cfg["device"], cfg["precision"])
    out_dir = Path(out_dir)
    ckpt_file = out_dir / "checkpoint.pt"
    meta = check_cache(cache_dir, lfae_file)
    data = FlowVolumes(load_cache(cache_dir), MusicConditions(embedding_file, cfg["beat"]), cfg["representation"],
                       cfg["standardize"])
    model, mcfg = build_unet(cfg, meta, data.cond.dim)
    schedule = CosineSchedule(cfg["timesteps"])
    ema = EMA(model, cfg["ema_decay"])
    net = rt.wrap(model)
    ema.model.to(rt.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg["lr_milestones"], gamma=0.1)
    fingerprint = run_fingerprint({**cfg, "cache": meta["lfae_sha256"], "clips": meta["clips"]}, MODEL_FILES)
    start_epoch, history = 0, []
    state = load_resumable(ckpt_file, fingerprint, [(unwrap(net), "model"), (opt, "optimizer"),
                                                      (sched, "scheduler"), (ema, "ema")])
    snapshots: dict[int, dict] = {}
    if state is not None:
        start_epoch, history, snapshots = state["epoch"] + 1, state["history"], state.get("snapshots", {})
        log.info("resuming stage 2 from %s after epoch %d", ckpt_file, state["epoch"])

    def save_ema(path: Path, epochs: int) -> None:
        save_weights(path, ema.model, mcfg.to_dict(),
                     {"flow_scale": meta["flow_scale"], "n_frames": meta["n_frames"], "beat": cfg["beat"],
                      "target_space": data.space.to_dict(), "prediction": cfg["prediction"],
                      "timesteps": cfg["timesteps"],
                      "lfae_sha256": meta["lfae_sha256"], "epochs": epochs, "music_pretrained": data.cond.pretrained,
                      "train_clips": meta["clips"], "p_drop_beats": p_drop_beats})

    rows = rt.shard(cfg["batch_size"])
    steps = cfg["steps_per_epoch"] or max(1, len(data) // cfg["batch_size"])
    started, last = time.perf_counter(), start_epoch
    for epoch in range(start_epoch, cfg["epochs"]):
        if stop_after_epochs is not None and epoch - start_epoch >= stop_after_epochs:
            break
        g = epoch_generator(cfg["seed"], epoch)
        net.train()
        total, t0 = 0.0, time.perf_counter()
        for _ in tqdm(range(steps), desc=f"stage 2 epoch {epoch + 1}/{cfg['epochs']}",
                      disable=not (progress and rt.is_main), mininterval=10):
            idx = torch.randint(len(data), (cfg["batch_size"],), generator=g).tolist()
            with rt.autocast():
                loss = diffusion_loss(net, schedule, data.batch(idx[rows]), cfg["p_uncond"], g, rt.device,
                                      cfg["prediction"], rows, cfg["batch_size"], cfg["velocity_loss"],
                                      cfg["position_loss"], data.space,
                                      data.flow_var if cfg["position_loss"] else None, p_drop_beats)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg["grad_clip"])
            opt.step()
            ema.update(unwrap(net))
            total += float(loss.detach())
        sched.step()
        row = {"epoch": epoch + 1, "loss": rt.average(total / steps), "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        history.append(row)
        last = epoch + 1
        if cfg["snapshot_every"] and (epoch + 1) % cfg["snapshot_every"] == 0 and epoch + 1 < cfg["epochs"]:
            # for the learning curve; kept in the checkpoint, written with the final weights
            snapshots[epoch + 1] = {k: v.detach().clone() for k, v in ema.model.state_dict().items()}
        if rt.is_main:
            log.info("stage 2 epoch %d: loss=%.4g lr=%.3g (%.1f s)", epoch + 1, row["loss"], row["lr"], row["seconds"])
            save_state(ckpt_file, {"model": unwrap(net).state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "ema": ema.state_dict(), "epoch": epoch,
                                   "history": history, "fingerprint": fingerprint, "snapshots": snapshots})
        rt.barrier()
    if rt.is_main and last >= cfg["epochs"]:
        save_ema(out_dir / "model.safetensors", cfg["epochs"])
        for epoch, weights in snapshots.items():
            ema.model.load_state_dict(weights)
            save_ema(out_dir / "snapshots" / f"epoch{epoch:04d}.safetensors", epoch)
        write_table_atomic(out_dir / "loss.csv", pd.DataFrame(history))
    rt.stop()
    return {"epochs_run": last - start_epoch, "seconds": time.perf_counter() - started,
            "final_loss": history[-1]["loss"] if history else float("nan")}


def main(argv: list[str] | None = None) -> None:
    from ..logs import setup_logging

    ap = argparse.ArgumentParser(description="train one stage-2 variant (use torchrun for several GPUs)")
    ap.add_argument("--config-json", required=True, help="the variant's settings as written by the Snakemake rule")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--lfae", required=True)
    ap.add_argument("--embedding", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop-after-epochs", type=int, default=None)
    args = ap.parse_args(argv)
    setup_logging()
    cfg = json.loads(Path(args.config_json).read_text())
    train_diffusion(cfg, Path(args.cache), Path(args.lfae), Path(args.embedding), Path(args.out),
                    stop_after_epochs=args.stop_after_epochs)


if __name__ == "__main__":
    main()
