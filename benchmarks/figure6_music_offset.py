"""Does Figure 6's motion depend on where the music starts? Figure 6's dancers and tracks, each
danced three ways with one bundle: 4 s from the track's start (Figure 6 itself), 4 s of the
track cut at OFFSET seconds (the cut audio is all `dabfusion generate` sees), and 8 s from the
start, measured over its first and its second 4 s. ``--swap``: the cut again, with one part of
its music embedding e (CLAP's style e_c, Wav2CLIP's movement e_w) taken from the full track at
the same music, to tell which part carries the difference.

    .venv/bin/python benchmarks/figure6_music_offset.py BUNDLE --results RESULTS --data DATA [--offset 4] [--swap]

The dancers, tracks, cameras and sampling seeds are those of the Figure 6 table made with the
bundle (``--figure6``, by default the run's ``figure6/figure6.csv``), so "from the start"
reproduces its ``motion_vs_training``.

Run in the run's folder (the music table's paths are relative to it). Prints, per video and on
average, the dancer's speed over the training dancers' of the same camera (as Figure 6's
``motion_vs_training``). A cut that moves less than the same music inside a longer dance from
the start points at how the music features are computed from the audio given, not at the music.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dabfusion.generate import Generator, dance_length, load_bundle, prepare_reference  # noqa: E402
from dabfusion.metrics.alignment import video_motion_envelope  # noqa: E402
from dabfusion.music.embedding import MOVEMENT_DIM, STYLE_DIM  # noqa: E402

PARTS = {"style": slice(0, STYLE_DIM), "movement": slice(STYLE_DIM, STYLE_DIM + MOVEMENT_DIM)}


class SwappedEncoder:
    """The bundle's music encoder on the cut audio, with one part of e from the full track's windows
    ``shift`` frames later (the same music)."""

    def __init__(self, encoder, full: np.ndarray, shift: int, part: slice):
        self.encoder, self.full, self.shift, self.part = encoder, full, shift, part

    def __call__(self, samples, sr, starts):
        e, beats = self.encoder(samples, sr, starts)
        e_full, _ = self.encoder(self.full, sr, [s + self.shift for s in starts])
        e[:, self.part] = e_full[:, self.part]
        return e, beats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--results", type=Path, required=True, help="the run's results_dir (its figure6/photos)")
    ap.add_argument("--data", type=Path, required=True, help="the run's data_dir (its processed/music.csv)")
    ap.add_argument("--offset", type=float, default=4.0)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--swap", action="store_true", help="also the cut with e_c or e_w from the full track")
    ap.add_argument("--figure6", type=Path, help="the Figure 6 table made with BUNDLE (default: the run's)")
    args = ap.parse_args()
    bundle = load_bundle(args.bundle)
    gen = Generator(bundle, device="cpu")
    music = pd.read_csv(args.data / "processed" / "music.csv").set_index("music_id")
    figure6 = pd.read_csv(args.figure6 or args.results / "figure6" / "figure6.csv")
    yardstick = bundle.meta["training_motion_by_camera"]
    rows = []
    # row i of the table was sampled with seed figure6.seed + i (0 + i by default), as here
    for i, (dancer, track, camera) in enumerate(figure6[["dancer", "track", "camera"]].itertuples(index=False)):
        ref = prepare_reference(bundle, args.results / "figure6" / "photos" / f"{dancer}.png",
                                background_from=camera).frame
        samples, sr = np.load(music.loc[track, "file"]), int(music.loc[track, "sample_rate"])

        def motion(audio: np.ndarray, seconds: float) -> np.ndarray:
            n = dance_length(audio, sr, bundle.fps, gen.sampler.n_frames, seconds, track)
            return video_motion_envelope(gen.dance(ref, audio, sr, n, i), bundle.fps) / yardstick[camera]

        long = motion(samples, 2 * args.seconds)
        half = len(long) // 2
        cut = samples[int(args.offset * sr):]
        rows.append({"dancer": dancer, "track": track, "camera": camera,
                     "from_start": float(motion(samples, args.seconds).mean()),
                     f"cut_at_{args.offset:g}s": float(motion(cut, args.seconds).mean()),
                     "long_first_half": float(long[:half].mean()), "long_second_half": float(long[half:].mean())})
        if args.swap:
            own = gen.encoder
            for name, part in PARTS.items():
                gen.encoder = SwappedEncoder(own, samples, round(args.offset * bundle.fps), part)
                rows[-1][f"cut_with_full_{name}"] = float(motion(cut, args.seconds).mean())
            gen.encoder = own
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    print("mean:", table.mean(numeric_only=True).round(3).to_dict())


if __name__ == "__main__":
    main()
