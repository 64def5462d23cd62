"""Is Figure 6 short of motion because its dancers are unseen, or because of its path? Figure 6's
path (photo -> cut out -> placed in a camera's studio -> `dabfusion generate`'s dance) run on
rendered photos of dancers the model trained on, beside the unseen ones, same genres, cameras,
tracks and sampling seeds.

    .venv/bin/python benchmarks/figure6_seen_dancers.py OUT_DIR --bundle RESULTS/figure6/.../generator \
        --data resources/bench [--unseen d06 d12 d15] [--seen d04 d10 d13] [--tracks mBR0 mPO1 mLO2]

Writes OUT_DIR/{unseen,seen}/figure6.{csv,png} (``report.unseen_dancers``, as the pipeline's rule
does) and prints each group's ``motion_vs_training`` per camera. The k-th dancer of each group
gets the same camera (cameras in turn) and the same sampling seeds, so only the person differs.
Equal motion: the unseen dancers move less for reasons of the path (camera, placement, music);
less for the unseen: the model does not carry its motion over to new people.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.io import atomic_path  # noqa: E402
from dabfusion.report import unseen_dancers  # noqa: E402
from dabfusion.synth.dataset import dancer_photo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--bundle", type=Path, required=True, help="a generator bundle (results/generator or a repeat's)")
    ap.add_argument("--data", type=Path, required=True, help="the run's data_dir (its processed/music.csv)")
    ap.add_argument("--unseen", nargs="+", default=["d06", "d12", "d15"])
    ap.add_argument("--seen", nargs="+", default=["d04", "d10", "d13"], help="dancers of the training data")
    ap.add_argument("--tracks", nargs="+", default=["mBR0", "mPO1", "mLO2"])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0, help="the photos' (synthetic.seed) and the sampling's")
    args = ap.parse_args()
    tables = {}
    for group, dancers in (("unseen", args.unseen), ("seen", args.seen)):
        out = args.out / group
        photos = {}
        for d in dancers:
            photos[d] = out / "photos" / f"{d}.png"
            photos[d].parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(photos[d]) as tmp:
                Image.fromarray(dancer_photo(d, args.seed)).save(tmp, format="png")
        tables[group] = unseen_dancers(args.bundle, photos, args.data / "processed" / "music.csv", args.tracks,
                                       args.seconds, args.seed, out / "videos", out / "figure6.png",
                                       out / "figure6.csv")
    both = pd.concat([t.assign(group=g) for g, t in tables.items()])
    print(both.pivot_table(index="camera", columns="group", values="motion_vs_training").round(3).to_string())
    print("mean:", both.groupby("group").motion_vs_training.mean().round(3).to_dict())


if __name__ == "__main__":
    main()
