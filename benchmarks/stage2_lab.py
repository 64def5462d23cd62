"""Stage-2 laboratory: train one denoiser setting on a finished run's flow cache, sample, score.

Run: .venv/bin/python benchmarks/stage2_lab.py OUT_DIR [--set diffusion.key=value ...] [--recon]

Uses the default run's data (resources/synthetic) and stage 1 (results/models/lfae): only
stage 2 is trained, so settings can be compared in minutes. Prints and writes (OUT_DIR/lab.json)
for the test clips: 2D-MM Align against the music beats and against the beats shifted by half
a period (the chance control), the on/off-beat speed ratio, and the mean motion against the
ground truth's. ``--recon`` scores the test clips re-animated with their own stage-1 flows
instead (the ceiling that stage 2 can reach through this renderer and metric). ``--model FILE
--calibrate`` samples at the guidance ``sampling.calibration`` picks for that model on training
clips, as the pipeline does with calibration on (dabfusion/calibration.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dabfusion.clips import select_clips
from dabfusion.config import load_config
from dabfusion.frames import load_clip
from dabfusion.learning_curve import beat_motion_scores
from dabfusion.metrics.alignment import video_motion_envelope
from dabfusion.metrics.image import to_tensor
from dabfusion.music.features import with_window_ids
from dabfusion.plan import Paths


def score(videos: list[np.ndarray], clips: pd.DataFrame, beats_of: pd.Series, gt_speed: float | None = None) -> dict:
    return beat_motion_scores(videos, clips, lambda m: beats_of[m], gt_speed)


def flow_timing(flows: list[torch.Tensor], beats: list[torch.Tensor]) -> dict:
    """Timing in the flows themselves, before rendering: flows (B, 3, N, h, w), beats (B, N, 6) e_b.

    flow_on_off_beat: mean flow change on frames whose beat pulse is > 0.5 over that on frames
    where it is < 0.1 (each clip's speeds relative to its own mean); flow_speed: mean change.
    """
    a, pulse = torch.cat(flows)[:, :2].float(), torch.cat(beats)[:, :, 0].numpy()
    pairs = (a[:, :, 1:] - a[:, :, :-1]).abs().mean(dim=(1, 3, 4))
    speed = torch.cat([pairs[:, :1], (pairs[:, 1:] + pairs[:, :-1]) / 2, pairs[:, -1:]], dim=1).numpy()
    rel = speed / np.maximum(speed.mean(axis=1, keepdims=True), 1e-12)
    return {"flow_on_off_beat": float(rel[pulse > 0.5].mean() / rel[pulse < 0.1].mean()),
            "flow_speed": float(speed.mean())}


def test_flows(ds, cond, test: pd.DataFrame, scfg: dict):
    """Per batch of 8 test clips: (reference frames, generated flows a0, beats e_b), sampled from
    each clip's own seed as ``dabfusion generate`` does; from ``sampling.noise_seed`` when set,
    as the pipeline does for the repeat of seed k (noise k)."""
    from dabfusion.sampling import clip_seed, noise_seed

    for lo in range(0, len(test), 8):
        part = test.iloc[lo:lo + 8]
        ref = torch.stack([to_tensor(load_clip(c.frames_file, c.start_frame, 1))[0] for c in part.itertuples()])
        e, beats = cond.get(part.window_id)
        gens = [torch.Generator().manual_seed(clip_seed(noise_seed(scfg), c)) for c in part.clip_id]
        yield ref, ds.space.to_flows(ds.flows(ds.lfae.encode(ref)[-1], e, beats, scfg, gens)), beats


def evaluate_model(model_file: Path, args, cfg: dict, test: pd.DataFrame, feats: Path, lfae_file: Path,
                   beats_of: pd.Series) -> tuple[dict, list, list]:
    """Sample the test clips, and the unseen dancers (Figure 6's photos placed as `dabfusion
    generate` places them) on the first 8 test clips' music; score both."""
    from dabfusion.diffusion.conditions import MusicConditions
    from dabfusion.generate import load_bundle, reference_frame
    from dabfusion.sampling import DanceSampler

    scfg = cfg["sampling"]
    ds = DanceSampler(model_file, lfae_file)
    cond = MusicConditions(Path(feats) / f"music_embedding_n{ds.n_frames}.parquet", ds.meta["beat"])
    videos, flows, rhythm = [], [], []
    for ref, a0, beats in test_flows(ds, cond, test, scfg):
        videos += list(ds.render(ref, a0))
        flows.append(a0)
        rhythm.append(beats)
    bundle = load_bundle(args.results / "generator")
    part = test.iloc[:8]
    e, beats = cond.get(part.window_id)
    unseen = []
    for k, photo in enumerate(sorted((args.results / "figure6/photos").glob("*.png"))):
        cam = bundle.meta["cameras"][k % len(bundle.meta["cameras"])]
        ref = to_tensor(reference_frame(bundle, photo, background_from=cam)[None])
        unseen += list(ds.generate(ref.expand(len(part), -1, -1, -1), e, beats, scfg, list(range(len(part)))))
    gt_motion = np.mean([video_motion_envelope(load_clip(c.frames_file, c.start_frame, c.n_frames), c.fps).mean()
                         for c in test.itertuples()])
    result = {**score(videos, test, beats_of, gt_motion), **flow_timing(flows, rhythm)}
    result["unseen_motion_vs_gt"] = float(np.mean([video_motion_envelope(v, 15.0).mean() for v in unseen]) / gt_motion)
    return result, videos, unseen


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_sets(cfg: dict, items: list[str]) -> dict:
    """Set each "section.key.subkey=VALUE" of ``items`` in ``cfg`` (in place) and return it."""
    for item in items:
        key, value = item.split("=", 1)
        section, *path = key.split(".")
        d = cfg[section]
        for p in path[:-1]:
            d = d.setdefault(p, {})
        d[path[-1]] = parse_value(value)
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--set", action="append", default=[], help="diffusion.KEY=VALUE or sampling.KEY=VALUE")
    ap.add_argument("--recon", action="store_true")
    ap.add_argument("--model", type=Path, help="score this trained model.safetensors instead of training one")
    ap.add_argument("--calibrate", action="store_true",
                    help="with --model: sample at the guidance calibrated on training clips (sampling.calibration)")
    ap.add_argument("--data", type=Path, default=Path("resources/synthetic"))
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--max-clips", type=int, default=40)
    args = ap.parse_args()
    if args.calibrate and not args.model:
        ap.error("--calibrate calibrates a trained model: give it with --model")
    torch.set_num_threads(1)
    cfg = apply_sets(load_config("config.yaml"), args.set)
    dcfg = {k: v for k, v in cfg["diffusion"].items() if k != "variants"}
    dcfg = {**dcfg, "beat": dcfg.get("beat", True), "frame_rhythm": dcfg.get("frame_rhythm", False),
            "seed": dcfg.get("seed", 0)}
    n = cfg["clips"]["length"]
    paths = Paths(data=str(args.data), results=str(args.results))
    feats, lfae_file = Path(paths.features), Path(paths.lfae)
    clips = pd.read_parquet(paths.clips(n))
    test = select_clips(with_window_ids(clips[clips.split == "test"]), args.max_clips, cfg["sampling"]["seed"])
    beats_of = pd.read_parquet(paths.evaluation_beats).set_index("music_id")["beats"]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.recon:
        from dabfusion.checkpoints import load_lfae
        from dabfusion.diffusion import target
        from dabfusion.diffusion.conditions import MusicConditions
        from dabfusion.learning_curve import reanimate

        lfae = load_lfae(lfae_file)
        flow_scale = json.loads(Path(paths.flows(n)).read_text())["flow_scale"]
        videos, flows = [], []
        for c in test.itertuples():
            video, grid, occ = reanimate(lfae, c)
            videos.append(video)
            flows.append(target.encode(grid[None], occ[None], flow_scale))
        beats = MusicConditions(paths.music_embedding(n)).get(test.window_id)[1]
        result = {"setting": "recon", "stage1": str(lfae_file), **flow_timing(flows, [beats])}
    elif args.model:
        calibrated = {}
        if args.calibrate:
            from dabfusion.calibration import calibrate_guidance

            calibrated = calibrate_guidance(args.model, lfae_file, paths.clips(n), paths.music_embedding(n),
                                            cfg["sampling"], cfg["sampling"]["calibration"], progress=False)
            cfg["sampling"]["guidance"] = calibrated["guidance"]
            print(json.dumps(calibrated), flush=True)
        r, videos, unseen = evaluate_model(args.model, args, cfg, test, feats, lfae_file, beats_of)
        result = {"setting": args.set, "model": str(args.model), **r,
                  **({"calibration": calibrated} if calibrated else {})}
    else:
        from dabfusion.training.diffusion import train_diffusion

        train = train_diffusion(dcfg, Path(paths.flows(n)).parent, lfae_file, paths.music_embedding(n),
                                args.out, progress=False)
        curve = []
        for snap in sorted((args.out / "snapshots").glob("*.safetensors")):
            r, _, _ = evaluate_model(snap, args, cfg, test, feats, lfae_file, beats_of)
            curve.append({"epoch": int(snap.stem.removeprefix("epoch")), **r})
            print(json.dumps(curve[-1]), flush=True)
        r, videos, unseen = evaluate_model(args.out / "model.safetensors", args, cfg, test, feats, lfae_file, beats_of)
        result = {"setting": args.set, "train_seconds": train["seconds"], "final_loss": train["final_loss"], **r,
                  "curve": curve}
        np.save(args.out / "unseen.npy", np.stack(unseen))
        np.save(args.out / "videos.npy", np.stack(videos))
        result["seconds"] = time.perf_counter() - t0
        (args.out / "lab.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result))
        return
    result.update(score(videos, test, beats_of), seconds=time.perf_counter() - t0)
    np.save(args.out / "videos.npy", np.stack(videos))
    (args.out / "lab.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
