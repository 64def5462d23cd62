"""librosa 0.11's onset strength, tempo, beat tracker and onset picker in numpy, without numba.

Why our own: librosa's beat tracker and peak picker are numba gufuncs, and in some venvs they
crashed with SIGSEGV (a null ufunc loop) once laion-clap had been imported, depending on the
checkout's path (issue 15). Running librosa in a child process would avoid the crash but pay an
interpreter, librosa's import and numba's compile (~12 s) on every call; this module is plain
numpy/scipy, so every process that needs beats (feature caching, evaluation, ``dabfusion
generate``) computes them in-process. It follows librosa 0.11.0 step by step, with its defaults:

- ``onset_strength``: |STFT|^2 (n_fft 2048, centred, zero padding, periodic Hann), 128 Slaney mel
  bands up to sr/2 (``librosa.filters.mel``, pure numpy), power_to_db (amin 1e-10, top_db 80),
  positive first difference over time, aggregated over bands (mean; median for beat tracking),
  shifted right by lag + n_fft // (2 hop) frames and cut to the spectrogram's length.
- ``tempo``: autocorrelation tempogram (8 s Hann window, ramp padding, max-normalised), mean over
  time, log-normal prior around ``start_bpm`` (1 octave), tempi >= 320 BPM excluded.
- ``beat_track``: onsets / std, local score = same-mode convolution with a Gaussian of one beat
  period, dynamic programme with ``tightness`` 100 over predecessors 0.5-2 periods back, the last
  beat = last local maximum of the cumulative score above half the median of those maxima,
  backtracking, and the trimming of weak leading and trailing frames.
- ``onset_detect``: normalised envelope and librosa's peak picker (30 ms max, 100 ms mean, delta 0.07).

``benchmarks/bench_beat_tracker.py`` compares it with librosa run in a clean child process.
"""

from __future__ import annotations

import numpy as np

N_FFT = 2048
HOP = 512
N_MELS = 128
TIGHTNESS = 100.0
TEMPOGRAM_SECONDS = 8.0
MAX_TEMPO = 320.0
BLOCK_FRAMES = 1024  # STFT frames per block (16 MB of float64 frames)


def _tiny(x: np.ndarray) -> float:
    return float(np.finfo(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32).tiny)


def power_spectrogram(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """(N,) float32 audio -> (1 + n_fft // 2, 1 + N // hop) float32 |STFT|^2, centred with zeros."""
    from scipy.signal import get_window

    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, (n_fft // 2, n_fft // 2), mode="constant")
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]  # (T, n_fft)
    window = get_window("hann", n_fft, fftbins=True)  # float64, as librosa multiplies
    power = np.empty((1 + n_fft // 2, n_frames), dtype=np.float32)
    for s in range(0, n_frames, BLOCK_FRAMES):  # in blocks: a long song's float64 frames would take GBs
        spec = np.fft.rfft(frames[s:s + BLOCK_FRAMES] * window, axis=-1).astype(np.complex64)  # (t, F)
        power[:, s:s + BLOCK_FRAMES] = (np.abs(spec) ** 2).T
    return power


def onset_strength(y: np.ndarray, sr: int, hop: int = HOP, aggregate=np.mean) -> np.ndarray:
    """(N,) audio -> (1 + N // hop,) onset strength, as ``librosa.onset.onset_strength``."""
    from librosa.filters import mel  # pure numpy; nothing of librosa's numba is called

    power = power_spectrogram(y, N_FFT, hop)
    melspec = mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS, fmax=0.5 * sr) @ power  # (128, T) float32
    db = 10.0 * np.log10(np.maximum(1e-10, melspec))
    db = np.maximum(db, db.max() - 80.0) if db.size else db
    diff = np.maximum(0.0, db[:, 1:] - db[:, :-1])
    env = aggregate(diff, axis=0)
    lag_and_centre = 1 + N_FFT // (2 * hop)
    env = np.pad(env, (lag_and_centre, 0), mode="constant")
    return env[: power.shape[1]].astype(np.float32)


def tempo_frequencies(n_bins: int, sr: int, hop: int = HOP) -> np.ndarray:
    """BPM of each autocorrelation lag; lag 0 is infinite."""
    bpms = np.zeros(n_bins, dtype=np.float64)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sr / (hop * np.arange(1.0, n_bins))
    return bpms


def tempo(onset_env: np.ndarray, sr: int, hop: int = HOP, start_bpm: float = 120.0) -> float:
    """Global tempo (BPM), as ``librosa.feature.tempo`` with its defaults."""
    from scipy.fft import next_fast_len
    from scipy.signal import get_window

    win = int(np.floor(TEMPOGRAM_SECONDS * sr / hop))
    n = len(onset_env)
    padded = np.pad(onset_env, (win // 2, win // 2), mode="linear_ramp", end_values=(0, 0))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[:n]  # (n, win)
    windowed = frames * get_window("hann", win, fftbins=True)
    n_pad = next_fast_len(2 * win - 1, real=True)
    spectrum = np.fft.rfft(windowed, n=n_pad, axis=-1)
    autocorr = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad, axis=-1)[:, :win]
    peak = np.max(np.abs(autocorr), axis=-1, keepdims=True)
    peak[peak < _tiny(autocorr)] = 1.0
    tempogram = (autocorr / peak).mean(axis=0)  # (win,)
    bpms = tempo_frequencies(win, sr, hop)
    logprior = -0.5 * (np.log2(bpms) - np.log2(start_bpm)) ** 2
    logprior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
    return float(bpms[int(np.argmax(np.log1p(1e6 * tempogram) + logprior))])


def _local_score(onsets: np.ndarray, frames_per_beat: float) -> np.ndarray:
    """Same-mode convolution of the onsets with a Gaussian one beat period wide, in float64.

    Summed tap by tap in librosa's order so the scores match to the last bit (the dynamic
    programme below compares them); like librosa's loop it leaves out onsets[0], which is
    always zero padding in an onset envelope."""
    offsets = np.arange(-frames_per_beat, frames_per_beat + 1)
    window = np.exp(-0.5 * (offsets * 32.0 / frames_per_beat) ** 2)
    n, k_len = len(onsets), len(window)
    x = onsets.astype(np.float64)
    local = np.zeros(n, dtype=np.float64)
    i = np.arange(n)
    for k in range(k_len):  # local[i] += window[k] * x[i + K // 2 - k] where 1 <= i + K // 2 - k < n
        j = i + k_len // 2 - k
        ok = (j >= 1) & (j < n)
        local[ok] += window[k] * x[j[ok]]
    return local


def _dynamic_programme(local: np.ndarray, frames_per_beat: float, tightness: float) -> tuple[np.ndarray, np.ndarray]:
    """Best predecessor (-1 for none) and cumulative score of every frame, in float64 as
    librosa's gufunc runs once the float64 tempo has promoted the scores."""
    n = len(local)
    backlink = np.full(n, -1, dtype=np.int64)
    cumscore = np.zeros(n, dtype=np.float64)
    threshold = 0.01 * local.max()
    nearest, farthest = int(np.round(frames_per_beat / 2)), int(2 * frames_per_beat)
    # penalty of a predecessor `gap` frames back, for gap = nearest ... farthest (nearest first)
    gaps = np.arange(nearest, farthest + 1)
    penalty = np.float32(tightness) * (np.log(gaps) - np.log(frames_per_beat)) ** 2
    first_beat = True
    for i in range(n):
        hi = min(len(gaps), i - nearest + 1)  # gaps that stay at frame 0 or later
        best, where = -np.inf, -1
        if hi > 0:
            candidates = cumscore[i - gaps[:hi]] - penalty[:hi]
            j = int(np.argmax(candidates))  # first maximum = the nearest, as librosa's strict '>'
            best, where = candidates[j], i - int(gaps[j])
        cumscore[i] = local[i] + best if where >= 0 else local[i]
        if first_beat and local[i] < threshold:
            backlink[i] = -1
        else:
            backlink[i] = where
            first_beat = False
    return backlink, cumscore


def _last_beat(cumscore: np.ndarray) -> int:
    """The last local maximum of the cumulative score at or above half the maxima's median.

    A local maximum is > its left and >= its right neighbour; frame 0 never is one (librosa's
    ``util.localmax``), the last frame is when it exceeds its left neighbour."""
    peaks = np.zeros(len(cumscore), dtype=bool)
    if len(cumscore) > 1:
        peaks[1:-1] = (cumscore[1:-1] > cumscore[:-2]) & (cumscore[1:-1] >= cumscore[2:])
        peaks[-1] = cumscore[-1] > cumscore[-2]
    if not peaks.any():
        return len(cumscore) - 1
    threshold = 0.5 * np.median(cumscore[peaks])
    ok = np.flatnonzero(peaks & (cumscore >= threshold))
    return int(ok[-1]) if len(ok) else len(cumscore) - 1


def _trim(local: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Drop leading and trailing frames whose local score is under half the beats' smoothed RMS."""
    w = np.hanning(5)
    smooth = np.convolve(local[beats], w)[len(w) // 2: len(local) + len(w) // 2]
    threshold = 0.5 * np.sqrt((smooth**2).mean())
    kept = beats.copy()
    n = 0
    while n < len(local) and local[n] <= threshold:
        kept[n] = False
        n += 1
    n = len(local) - 1
    while n >= 0 and local[n] <= threshold:
        kept[n] = False
        n -= 1
    return kept


def beat_frames(onset_env: np.ndarray, bpm: float, frame_rate: float, tightness: float = TIGHTNESS) -> np.ndarray:
    """Beat frame indices in an onset envelope at a given tempo (librosa's ``__beat_tracker``)."""
    frames_per_beat = float(np.round(frame_rate * 60.0 / bpm))
    onsets = onset_env / (onset_env.std(ddof=1) + _tiny(onset_env))
    local = _local_score(onsets, frames_per_beat)
    backlink, cumscore = _dynamic_programme(local, frames_per_beat, tightness)
    beats = np.zeros(len(onset_env), dtype=bool)
    n = _last_beat(cumscore)
    while n >= 0:
        beats[n] = True
        n = backlink[n]
    return np.flatnonzero(_trim(local, beats))


def beat_track(y: np.ndarray, sr: int, hop: int = HOP, start_bpm: float = 120.0) -> tuple[float, np.ndarray]:
    """(tempo in BPM, beat times in s), as ``librosa.beat.beat_track(y=, sr=, units='time')``."""
    env = onset_strength(y, sr, hop, aggregate=np.median)
    if len(env) < 2 or not env.any():
        return 0.0, np.zeros(0)
    bpm = tempo(env, sr, hop, start_bpm)
    return bpm, beat_frames(env, bpm, sr / hop) * hop / float(sr)


def peak_pick(x: np.ndarray, pre_max: int, post_max: int, pre_avg: int, post_avg: int, delta: float,
              wait: int) -> np.ndarray:
    """Indices of peaks: the maximum of [n - pre_max, n + post_max), at least delta above the mean
    of [n - pre_avg, n + post_avg), and ``wait`` frames after the previous peak (librosa's rules)."""
    x = np.asarray(x)
    n_x = len(x)
    peaks = []
    if n_x == 0:
        return np.zeros(0, dtype=np.int64)
    if x[0] >= x[:min(post_max, n_x)].max() and x[0] >= x[:min(post_avg, n_x)].mean() + delta:
        peaks.append(0)
        n = wait + 1
    else:
        n = 1
    while n < n_x:
        if x[n] == x[max(0, n - pre_max):min(n + post_max, n_x)].max() and \
                x[n] >= x[max(0, n - pre_avg):min(n + post_avg, n_x)].mean() + delta:
            peaks.append(n)
            n += wait + 1
        else:
            n += 1
    return np.asarray(peaks, dtype=np.int64)


def onset_detect(onset_env: np.ndarray, sr: int, hop: int = HOP) -> np.ndarray:
    """Onset frame indices, as ``librosa.onset.onset_detect(onset_envelope=, sr=)``."""
    env = onset_env - onset_env.min()
    env = env / (env.max() + _tiny(env))
    if not env.any() or not np.all(np.isfinite(env)):
        return np.zeros(0, dtype=np.int64)
    steps = lambda seconds: int(np.ceil(seconds * sr // hop))  # noqa: E731  librosa's ceil of a floor
    return peak_pick(env, pre_max=steps(0.03), post_max=steps(0.0) + 1, pre_avg=steps(0.10),
                     post_avg=steps(0.10) + 1, delta=0.07, wait=steps(0.03))


# --- Reference check: librosa itself, in a child process that imports nothing else ----------

# Debian's game-music packages (tools/real-music.sh installs them): asc-music (GPL-2+, three
# mp3 tracks) and singularity-music (CC BY-SA, sixteen ogg tracks).
REAL_MUSIC_DIRS = ("/usr/share/games/asc/music", "/usr/share/games/singularity/music")

_LIBROSA_CHILD = """
import json, sys
import numpy as np
import librosa
data = np.load(sys.argv[1])
out = []
for i in range(int(data["count"])):
    y, sr, bpm = data[f"y{i}"], int(data[f"sr{i}"]), float(data[f"bpm{i}"])
    kwargs = {} if bpm <= 0 else {"start_bpm": bpm}
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time", **kwargs)
    out.append([float(np.atleast_1d(tempo)[0]), [float(b) for b in beats]])
json.dump(out, open(sys.argv[2], "w"))
"""


def librosa_reference(items: list[tuple[np.ndarray, int, float | None]]) -> list[tuple[float, np.ndarray]]:
    """(tempo, beat times) of ``librosa.beat.beat_track`` for each (audio, sr, start_bpm or None),
    computed in a fresh interpreter that imports only numpy and librosa."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        arrays = {"count": np.array(len(items))}
        for i, (y, sr, bpm) in enumerate(items):
            arrays.update({f"y{i}": np.asarray(y, np.float32), f"sr{i}": np.array(sr), f"bpm{i}": np.array(bpm or 0.0)})
        np.savez(Path(tmp) / "in.npz", **arrays)
        subprocess.run([sys.executable, "-c", _LIBROSA_CHILD, str(Path(tmp) / "in.npz"), str(Path(tmp) / "out.json")],
                       check=True)
        return [(t, np.asarray(b)) for t, b in json.loads((Path(tmp) / "out.json").read_text())]


def f_measure(estimated: np.ndarray, reference: np.ndarray, window: float = 0.07) -> float:
    """Beat F-measure: each reference beat matches at most one estimated beat within +-window s."""
    est, ref = np.sort(np.asarray(estimated, float)), np.sort(np.asarray(reference, float))
    if len(est) == 0 and len(ref) == 0:
        return 1.0
    if len(est) == 0 or len(ref) == 0:
        return 0.0
    used = np.zeros(len(est), dtype=bool)
    hits = 0
    for t in ref:
        free = np.flatnonzero(~used & (np.abs(est - t) <= window))
        if len(free):
            used[free[np.argmin(np.abs(est[free] - t))]] = True
            hits += 1
    precision, recall = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def real_music_files() -> list:
    """The Debian music files present on this machine, sorted."""
    from pathlib import Path

    return sorted(p for d in REAL_MUSIC_DIRS for p in Path(d).rglob("*") if p.suffix in (".mp3", ".ogg"))
