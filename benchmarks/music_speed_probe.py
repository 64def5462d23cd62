"""Does the music condition tell how fast to dance? Linear probes on the cached music embedding
of each clip's window (CLAP's e_c, Wav2CLIP's e_w, the beat part e_b): fitted on the training
clips, scored on the test clips, whose tracks the training never heard.

    .venv/bin/python benchmarks/music_speed_probe.py DATA [--n 16] [--write DOC]

Prints, for the ground truth's log speed (``video_motion_envelope``, px/s), the R^2 on the test
clips of a ridge regression on the camera alone, on the camera and the genre (an oracle: the
label itself), and on the camera and each part of e; then how often a nearest-class-mean
classifier on each part names the test clip's genre (chance: one over the genres). A part that
predicts the speed as well as the genre label gives stage 2 what it needs to dance each genre at
its own speed; then a stage 2 that does not has not learned it, not been denied it.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.frames import load_clip  # noqa: E402
from dabfusion.io import replace_marked_block  # noqa: E402
from dabfusion.metrics.alignment import video_motion_envelope  # noqa: E402
from dabfusion.music.features import with_window_ids  # noqa: E402


def ridge_r2(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, groups: np.ndarray) -> float:
    """R^2 on ``test`` of a ridge fit on ``train``; its penalty chosen by leaving out half the
    training tracks (``groups``), as the test tracks are left out."""
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
    x = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])

    def fit(rows, alpha):
        a = x[rows]
        reg = alpha * np.eye(a.shape[1])
        reg[-1, -1] = 0.0  # no penalty on the intercept
        return np.linalg.solve(a.T @ a + reg, a.T @ y[rows])

    def r2(w, rows):
        return 1 - ((y[rows] - x[rows] @ w) ** 2).sum() / ((y[rows] - y[rows].mean()) ** 2).sum()

    tracks = np.unique(groups[train])
    held = np.isin(groups, np.random.default_rng(0).permutation(tracks)[: len(tracks) // 2])
    alphas = np.logspace(-2, 4, 13)
    best = max(alphas, key=lambda a: r2(fit(train & ~held, a), train & held))
    return float(r2(fit(train, best), test))


def centroid_accuracy(x: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
    z = (x - mu) / sd
    classes = np.unique(labels[train])
    centres = np.stack([z[train & (labels == k)].mean(0) for k in classes])
    guess = classes[np.argmin(((z[test][:, None] - centres[None]) ** 2).sum(-1), axis=1)]
    return float((guess == labels[test]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--n", type=int, default=16, help="clip length (frames)")
    ap.add_argument("--write", type=Path, help="also put the tables between the markers "
                    "'<!-- music speed probe: begin -->' and '<!-- music speed probe: end -->' of this file")
    args = ap.parse_args()
    clips = with_window_ids(pd.read_parquet(args.data / "processed" / f"clips_n{args.n}.parquet"))
    emb = pd.read_parquet(args.data / "features" / f"music_embedding_n{args.n}.parquet").set_index("window_id")
    speed = np.array([video_motion_envelope(load_clip(c.frames_file, int(c.start_frame), int(c.n_frames)), c.fps).mean()
                      for c in clips.itertuples()])
    y = np.log(speed + 1e-6)
    train, test = (clips.split == "train").to_numpy(), (clips.split == "test").to_numpy()
    groups = clips.music_id.to_numpy()
    camera = pd.get_dummies(clips.camera).to_numpy(float)
    genre = pd.get_dummies(clips.genre).to_numpy(float)
    parts = {p: np.stack(emb.loc[clips.window_id, p].to_numpy()) for p in ("e_c", "e_w", "e_b")}
    shared = set(groups[train]) & set(groups[test])
    out = [f"{train.sum()} training clips, {test.sum()} test clips, {len(shared)} tracks in both.", "",
           "| the probe's input | R^2 of the log speed, test clips |", "|---|---|"]
    for name, x in [("camera", camera), ("camera + genre (the label)", np.hstack([camera, genre])),
                    *((f"camera + {p}", np.hstack([camera, v])) for p, v in parts.items())]:
        out.append(f"| {name} | {ridge_r2(x, y, train, test, groups):+.3f} |")
    labels = clips.genre.to_numpy()
    out += ["", f"The test clip's genre named from each part (chance {1 / len(np.unique(labels)):.2f}): "
            + ", ".join(f"{p} {centroid_accuracy(v, labels, train, test):.3f}" for p, v in parts.items()) + "."]
    text = "\n".join(out)
    print(text)
    if args.write:
        replace_marked_block(args.write, "<!-- music speed probe: begin -->", "<!-- music speed probe: end -->", text)


if __name__ == "__main__":
    main()
