"""Benchmark: music feature extraction time per minute of music. Prints figures only.

Run: .venv/bin/python benchmarks/bench_music.py
Backbones are seeded random inits here (same architecture and cost as pretrained ones).
CLAP always sees 10 s (short windows are repeat-padded), so its cost is per window, not per
second: the pipeline embeds every clip window (clips.length / extract.fps seconds each).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dabfusion.music.audio import resample
from dabfusion.music.backbones import embed, load_clap, load_wav2clip
from dabfusion.music.rhythm import clip_rhythm, track_rhythm
from dabfusion.synth.music import synthesize_track


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    print(f"torch threads: {torch.get_num_threads()}")
    track = synthesize_track("mHO2", 60.0, 22050, seed=0)
    y = track.samples
    track_rhythm(y[:22050 * 2], 22050)  # numba warm-up, not timed
    t_rhythm, tr = timed(lambda: track_rhythm(y, 22050))
    t_clip, _ = timed(lambda: [clip_rhythm(tr, s, 16, 15.0) for s in np.arange(0, 58, 8 / 15)])
    with tempfile.TemporaryDirectory() as d:
        clap = load_clap(Path(d) / "none.pt", "", False, 0)
        w2c = load_wav2clip(Path(d) / "none.pt", "", False, 0)
    y48, y16 = resample(y, 22050, 48000), resample(y, 22050, 16000)
    win10 = [y48[i:i + 480000] for i in range(0, len(y48) - 479999, 480000)]
    t_clap10, _ = timed(lambda: embed(clap, win10, 16))
    starts = np.arange(0, 60 - 16 / 15, 8 / 15)  # the default's clip windows: 16 frames at 15 fps, stride 8
    clipw48 = [y48[int(s * 48000):int((s + 16 / 15) * 48000)] for s in starts]
    clipw16 = [y16[int(s * 16000):int((s + 16 / 15) * 16000)] for s in starts]
    t_clapw, _ = timed(lambda: embed(clap, clipw48, 16))
    t_w2cw, _ = timed(lambda: embed(w2c, clipw16, 64))
    t_w2c1, _ = timed(lambda: embed(w2c, clipw16, 1))  # one window at a time: the baseline of batching
    t_w2c60, _ = timed(lambda: embed(w2c, [y16], 1))
    print("per minute of music (60 s synthetic House track, 2-core CPU):")
    print(f"  librosa rhythm (onsets, beats, tempo) : {t_rhythm:6.2f} s; per-clip beat features {t_clip * 1000:.1f} ms "
          f"for {len(starts)} clips")
    print(f"  CLAP, 10 s windows ({len(win10)})             : {t_clap10:6.2f} s")
    print(f"  CLAP, clip windows ({len(clipw48)} x 1.07 s)   : {t_clapw:6.2f} s")
    print(f"  Wav2CLIP, clip windows ({len(clipw16)})        : {t_w2cw:6.2f} s in batches of 64, {t_w2c1:.2f} s one "
          f"at a time;  whole minute at once {t_w2c60:.2f} s")


if __name__ == "__main__":
    main()
