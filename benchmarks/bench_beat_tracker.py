"""Benchmark: our numpy beat tracker against librosa 0.11's, run in a child process that imports
only librosa. Prints figures only.

Run: .venv/bin/python benchmarks/bench_beat_tracker.py [SECONDS]   (default 30 s per excerpt)
Tracks: every synthetic AIST++ track id (60), tracked both without a tempo prior (rhythm
features, ``dabfusion generate``) and with the nominal tempo as prior (the evaluation's beats);
and a SECONDS excerpt from the middle of each of Debian's 19 game-music tracks
(tools/real-music.sh installs them). Per item: beat F-measure at +-70 ms and tempo difference.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from dabfusion.aist import GENRES, music_bpm
from dabfusion.beat_tracker import beat_track, f_measure, librosa_reference, real_music_files
from dabfusion.io import decode_audio
from dabfusion.music.audio import resample
from dabfusion.synth.music import synthesize_track

SR = 22050


def items(seconds: float) -> list[tuple[str, str, np.ndarray, int, float | None]]:
    out = []
    for genre in GENRES:
        for k in range(6):
            music_id = f"m{genre}{k}"
            y = synthesize_track(music_id, seconds, SR, seed=0).samples
            out.append(("synthetic, no prior", music_id, y, SR, None))
            out.append(("synthetic, nominal prior", music_id, y, SR, music_bpm(music_id)))
    files = real_music_files()
    if len(files) < 10:
        sys.exit("bench_beat_tracker: fewer than 10 real music files; run `sudo bash tools/real-music.sh`")
    for path in files:
        y, sr = decode_audio(path)
        start = max(0, len(y) // 2 - int(seconds * sr) // 2)
        y = resample(y[start:start + int(seconds * sr)], sr, SR)  # the pipeline's music rate
        out.append(("Debian game music", path.stem, y, SR, None))
    return out


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    work = items(seconds)
    t0 = time.perf_counter()
    reference = librosa_reference([(y, sr, bpm) for _, _, y, sr, bpm in work])
    t_librosa = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = [beat_track(y, sr, start_bpm=bpm or 120.0) for _, _, y, sr, bpm in work]
    t_ours = time.perf_counter() - t0
    rows = []
    for (group, name, *_), (tempo_ref, beats_ref), (tempo, beats) in zip(work, reference, ours):
        rows.append((group, name, f_measure(beats, beats_ref), abs(tempo - tempo_ref) / tempo_ref,
                     np.array_equal(np.round(beats * SR / 512), np.round(beats_ref * SR / 512))))
    print(f"{len(work)} items of {seconds:g} s; librosa (child process, incl. its start and numba compile) "
          f"{t_librosa:.1f} s, ours {t_ours:.1f} s")
    print(f"{'group':26s} {'n':>3s} {'F@70ms mean':>11s} {'F min':>6s} "
          f"{'tempo diff max':>14s} {'identical beats':>15s}")
    for group in dict.fromkeys(r[0] for r in rows):
        g = [r for r in rows if r[0] == group]
        print(f"{group:26s} {len(g):3d} {np.mean([r[2] for r in g]):11.4f} {min(r[2] for r in g):6.4f} "
              f"{max(r[3] for r in g):13.2%} {sum(r[4] for r in g):9d} of {len(g)}")
    worst = min(rows, key=lambda r: r[2])
    print(f"worst: {worst[0]} {worst[1]} F {worst[2]:.4f}, tempo diff {worst[3]:.2%}")
    ok = all(r[2] >= 0.99 and r[3] <= 0.01 for r in rows)
    print(f"goal (every item F >= 0.99 and tempo within 1 %): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
