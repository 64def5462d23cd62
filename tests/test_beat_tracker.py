"""Our numpy copy of librosa's beat tracker: it agrees with librosa, and no process of ours calls a
numba ufunc, the cause of the SIGSEGV that came and went with the checkout's path (issue 15)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from dabfusion.aist import music_bpm
from dabfusion.beat_tracker import (
    beat_track,
    f_measure,
    librosa_reference,
    onset_detect,
    onset_strength,
    real_music_files,
)
from dabfusion.synth.music import synthesize_track

from .conftest import ROOT

SR = 22050


@pytest.fixture(scope="module")
def real_music():
    """Three 20 s excerpts of Debian game music (tools/real-music.sh installs the packages)."""
    from dabfusion.io import decode_audio
    from dabfusion.music.audio import resample

    if not real_music_files():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("Debian's asc-music and singularity-music are not installed and cannot be (not root, or "
                        "no apt-get): run `sudo bash tools/real-music.sh`; CI runs as root and installs them")
        res = subprocess.run(["bash", str(ROOT / "tools/real-music.sh")], capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f"could not install the real music:\n{res.stdout}\n{res.stderr}"
    files = real_music_files()
    assert len(files) >= 10, files
    out = []
    for path in files[::7][:3]:
        y, sr = decode_audio(path)
        mid = len(y) // 2
        out.append((path.stem, resample(y[mid - 10 * sr: mid + 10 * sr], sr, SR), SR, None))
    return out


def test_beats_and_tempo_match_librosa_run_alone(real_music):
    items = [(m, synthesize_track(m, 20.0, SR, seed=1).samples, SR, prior)
             for m in ("mBR0", "mHO3", "mJB5", "mKR2") for prior in (None, music_bpm(m))]
    items += real_music
    reference = librosa_reference([(y, sr, bpm) for _, y, sr, bpm in items])
    for (name, y, sr, bpm), (tempo_ref, beats_ref) in zip(items, reference):
        tempo, beats = beat_track(y, sr, start_bpm=bpm or 120.0)
        assert len(beats_ref) > 10, name
        assert f_measure(beats, beats_ref) >= 0.99, (name, beats, beats_ref)
        assert abs(tempo - tempo_ref) <= 0.01 * tempo_ref, (name, tempo, tempo_ref)


def test_onsets_match_librosa_in_process():
    librosa = pytest.importorskip("librosa")
    y = synthesize_track("mLO2", 10.0, SR, seed=2).samples
    env = onset_strength(y, SR)
    np.testing.assert_allclose(env, librosa.onset.onset_strength(y=y, sr=SR), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(onset_detect(env, SR), librosa.onset.onset_detect(onset_envelope=env, sr=SR))


def test_silence_and_short_audio_have_no_beats():
    assert beat_track(np.zeros(SR * 3, np.float32), SR) == (0.0, pytest.approx(np.zeros(0)))
    tempo, beats = beat_track(np.zeros(100, np.float32), SR)
    assert tempo == 0.0 and len(beats) == 0
    assert len(onset_detect(onset_strength(np.zeros(SR, np.float32), SR), SR)) == 0


def test_f_measure():
    ref = np.arange(10) * 0.5
    assert f_measure(ref + 0.05, ref) == 1.0
    assert f_measure(ref + 0.1, ref) == 0.0
    assert f_measure(ref[::2], ref) == pytest.approx(2 * 1 * 0.5 / 1.5)


# Every music path of every job and command, in one process that imported laion_clap, wav2clip and
# torch first (the order that crashed), with every numba entry point counted: GUFunc and DUFunc
# calls (librosa's guvectorize and vectorize) and jitted functions called from Python.
NO_NUMBA_SCRIPT = r"""
import json, sys
import laion_clap, wav2clip, torch  # noqa: F401  first, as in the jobs that crashed
import numpy as np
import librosa, librosa.beat, librosa.onset, librosa.sequence, librosa.util.utils
from numba.core.registry import CPUDispatcher
from numba.np.ufunc.dufunc import DUFunc
from numba.np.ufunc.gufunc import GUFunc

calls = []
def counting(cls, name):
    original = cls.__call__
    def call(self, *a, **k):
        calls.append(f"{name} {getattr(self, '__name__', self)}")
        return original(self, *a, **k)
    cls.__call__ = call
for cls, name in ((GUFunc, "gufunc"), (DUFunc, "dufunc"), (CPUDispatcher, "jit")):
    counting(cls, name)

# the counters work: one call of each kind with arguments they refuse before any loop runs
import librosa.util.matching as matching
controls = [librosa.util.utils._localmax, librosa.util.utils._cabs2,
            next(v for v in vars(matching).values() if isinstance(v, CPUDispatcher))]
for f in controls:
    try:
        f("not an array")
    except Exception:
        pass
controls, calls = calls[:], []

from dabfusion.beats import music_beats
from dabfusion.evaluate import TrackBeats
from dabfusion.metrics.alignment import audio_peaks
from dabfusion.music.features import load_backbones, song_windows
from dabfusion.music.rhythm import track_rhythm
from dabfusion.synth.music import synthesize_track
import pandas as pd, tempfile, os

track = synthesize_track("mHO3", 12.0, 22050, seed=4)
y, sr = track.samples, track.sample_rate
tempo, beats = music_beats(y, sr)
with tempfile.TemporaryDirectory() as d:
    np.save(os.path.join(d, "m.npy"), y)
    eval_beats = TrackBeats(pd.DataFrame({"file": [os.path.join(d, "m.npy")], "sample_rate": [sr]},
                                         index=["mHO3"]))("mHO3")
    rhythm = track_rhythm(y, sr)
    peaks = audio_peaks(y, sr)
    peaks_44k = audio_peaks(librosa.resample(y, orig_sr=sr, target_sr=44100), 44100)
    from dabfusion.config import validate_config
    mcfg = {**validate_config({})["music"], "weights_dir": d}  # no weights there: seeded random inits
    backbones = load_backbones(mcfg)
    clap, w2c, rh = song_windows(y, sr, [0.0, 2.0], 16, 15.0, mcfg, backbones)
    # the scoring paths: CS's Wav2CLIP embedding, AV-Align on stereo 44.1 kHz, librosa.load of a user's file
    from pathlib import Path
    import soundfile
    from dabfusion.evaluate import _read_music
    from dabfusion.metrics.clip_score import music_embedding
    cs_music = music_embedding(backbones[1], y, sr)
    stereo = np.stack([y, y]).repeat(2, axis=1)[:, : 2 * len(y)]
    peaks_stereo = audio_peaks(stereo, 44100)
    soundfile.write(os.path.join(d, "song.flac"), y, sr)
    loaded, loaded_sr = _read_music(Path(d) / "clip.mp4", Path(d) / "song.flac")
json.dump({"calls": calls, "controls": controls, "tempo": tempo, "beats": list(beats), "truth": list(track.beat_times),
           "eval_beats": list(eval_beats), "rhythm_beats": list(rhythm.beats), "peaks": len(peaks),
           "peaks_44k": len(peaks_44k), "peaks_stereo": len(peaks_stereo),
           "cs_music": list(cs_music.shape), "loaded": [len(loaded), loaded_sr], "clap": list(clap.shape),
           "beat_column_max": float(rh.reshape(-1, 6)[:, 0].max())},
          open(sys.argv[1], "w"))
"""


def test_no_numba_ufunc_runs_on_any_music_path_after_laion_clap(tmp_path):
    out = tmp_path / "out.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-c", NO_NUMBA_SCRIPT, str(out)], capture_output=True, text=True,
                         timeout=600, env=env, cwd=ROOT)
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stderr[-3000:]}"
    r = json.loads(out.read_text())
    assert [c.split()[0] for c in r["controls"]] == ["gufunc", "dufunc", "jit"], r["controls"]
    assert r["calls"] == [], f"numba ran: {sorted(set(r['calls']))}"
    # and the beats are right: every ground-truth beat of the synthetic track, at its tempo
    truth = np.asarray(r["truth"])
    truth = truth[(truth > 0.5) & (truth < 11.5)]
    assert f_measure(np.asarray(r["beats"]), truth) >= 0.95, (r["beats"], truth)
    assert abs(r["tempo"] - music_bpm("mHO3")) <= 0.03 * music_bpm("mHO3")
    assert f_measure(np.asarray(r["eval_beats"]), truth) >= 0.95
    assert r["rhythm_beats"] == r["beats"]
    assert r["peaks"] >= 12 and abs(r["peaks_44k"] - r["peaks"]) <= 2
    assert abs(r["peaks_stereo"] - r["peaks"]) <= 2 and r["cs_music"] == [512] and r["loaded"] == [12 * 22050, 22050]
    assert r["clap"][0] == 2 and r["beat_column_max"] > 0.9
