"""Does the music reach `dabfusion generate` as it reached training? Figure 6's unseen dancers,
one model, with the training cache's music features and with generate's.

    .venv/bin/python benchmarks/unseen_music_features.py RESULTS_DIR DATA_DIR [--per-track 3]

For the first ``--per-track`` windows of each Figure 6 track it prints how far generate's
embedding e (`MusicEncoder` on the raw track) is from the cache's (relative L2), then the
unseen dancers' motion over the training dancers' (the metric of `figure6.csv`) with each.
Since commit 3293e3c the two embeddings agree; before it, Wav2CLIP's batch standardisation
made them differ (docs/design.md, the music encoder).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.diffusion.conditions import MusicConditions  # noqa: E402
from dabfusion.generate import MusicEncoder, load_bundle, reference_frame  # noqa: E402
from dabfusion.metrics.alignment import video_motion_envelope  # noqa: E402
from dabfusion.metrics.image import to_tensor  # noqa: E402
from dabfusion.sampling import DanceSampler  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--per-track", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    bundle = load_bundle(args.results / "generator")
    sampler = DanceSampler(bundle.path("unet"), bundle.path("lfae"))
    n, fps = sampler.n_frames, bundle.fps
    tracks = pd.read_csv(args.results / "figure6" / "figure6.csv").track.unique()
    windows = pd.read_parquet(args.data / "features" / f"music_windows_n{n}.parquet")
    part = windows[windows.music_id.isin(tracks)].groupby("music_id", sort=False).head(args.per_track)
    e_cache, b_cache = MusicConditions(args.data / "features" / f"music_embedding_n{n}.parquet",
                                       sampler.meta["beat"]).get(part.window_id)
    encoder = MusicEncoder(bundle, sampler.meta["beat"])
    music = pd.read_csv(args.data / "processed" / "music.csv").set_index("music_id")
    es, bs = [], []
    for music_id, group in part.groupby("music_id", sort=False):
        samples, sr = np.load(music.loc[music_id, "file"]), int(music.loc[music_id, "sample_rate"])
        e, b = encoder(samples, sr, [int(round(s * fps)) for s in group.start])
        es.append(e)
        bs.append(b)
    e_gen, b_gen = torch.cat(es), torch.cat(bs)
    print(f"{len(part)} windows of {', '.join(tracks)}: generate's e differs from the cache's by "
          f"{float((e_gen - e_cache).norm() / e_cache.norm()):.3f} (relative L2), e_b by "
          f"{float((b_gen - b_cache).norm() / b_cache.norm()):.3f}")
    photos = sorted((args.results / "figure6" / "photos").glob("*.png"))
    for name, e, b in [("cache", e_cache, b_cache), ("generate", e_gen, b_gen)]:
        motion = []
        for k, photo in enumerate(photos):
            camera = bundle.meta["cameras"][k % len(bundle.meta["cameras"])]
            ref = to_tensor(reference_frame(bundle, photo, background_from=camera)[None])
            videos = sampler.generate(ref.expand(len(part), -1, -1, -1), e, b, bundle.meta["sampling"],
                                      list(range(len(part))))
            motion += [video_motion_envelope(v, fps).mean() / bundle.meta["training_motion"] for v in videos]
        per_dancer = np.array(motion).reshape(len(photos), -1).mean(1)
        print(f"{name:>8} features: unseen dancers' motion / training dancers' {np.mean(motion):.3f} "
              f"(per dancer {' '.join(f'{m:.3f}' for m in per_dancer)})")


if __name__ == "__main__":
    main()
