"""Deterministic genre-styled music at a known tempo, with its ground-truth beat times.

Each genre has its own drum pattern, lead timbre, bass line and chord progression, so a
beat tracker recovers the tempo and a genre classifier has something to learn. Every
beat carries a percussive onset (kick or snare), and the off-beat hats are kept quiet, so
that the tracker locks onto the quarter-note grid rather than its double or half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..aist import music_bpm

STEPS_PER_BEAT = 4  # a pattern is one 4/4 bar of sixteenth-note steps
STEPS_PER_BAR = 16


@dataclass(frozen=True)
class GenreSound:
    kick: tuple[int, ...]  # sixteenth steps in a bar
    snare: tuple[int, ...]
    hats: tuple[int, ...]
    lead: str  # waveform of the chords: sine | saw | square | triangle | piano
    bass: str  # waveform of the bass
    bass_steps: tuple[int, ...]
    progression: tuple[int, ...]  # chord roots in semitones above the key, one per bar
    minor: bool
    drive: float  # soft-clip amount (0 = clean)
    hat_gain: float = 0.03


GENRE_SOUNDS: dict[str, GenreSound] = {
    "BR": GenreSound((0, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14), "square", "saw", (0, 3, 10), (0, 8, 3, 10),
                     True, 0.3),
    "PO": GenreSound((0, 8), (4, 12), tuple(range(0, 16, 2)), "saw", "square", (0, 8, 11), (0, 5, 7, 5), True, 0.1),
    "LO": GenreSound((0, 6, 8), (4, 12), tuple(range(0, 16, 2)), "saw", "triangle", (0, 6, 8, 14), (0, 5, 0, 7),
                     False, 0.0),
    "MH": GenreSound((0, 7, 8), (4, 12), tuple(range(0, 16, 2)), "piano", "sine", (0, 7, 8), (0, 3, 5, 3), True, 0.0),
    "LH": GenreSound((0, 8, 11), (4, 12), tuple(range(0, 16, 2)), "sine", "sine", (0, 4, 8, 12), (0, 10, 8, 7),
                     True, 0.2),
    "HO": GenreSound((0, 4, 8, 12), (4, 12), (2, 6, 10, 14), "square", "saw", (0, 4, 8, 12), (0, 5, 9, 7), False, 0.0),
    "WA": GenreSound((0, 4, 8, 12), (4, 12), tuple(range(0, 16, 2)), "saw", "saw", (0, 2, 4, 6, 8, 10, 12, 14),
                     (0, 9, 5, 7), False, 0.0),
    "KR": GenreSound((0, 4, 8, 12), (4, 12), (0, 8), "square", "square", (0, 4, 8, 12), (0, 1, 0, 6), True, 0.7),
    "JS": GenreSound((0, 8), (4, 12), (2, 6, 10, 14), "piano", "triangle", (0, 4, 8, 12), (0, 7, 9, 5), False, 0.0),
    "JB": GenreSound((0, 4, 8, 12), (), (), "piano", "sine", (0, 8), (0, 5, 7, 0), False, 0.0),
}


@dataclass
class Track:
    music_id: str
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    bpm: float
    beat_times: np.ndarray  # seconds, the quarter-note grid inside the track
    first_beat: float  # seconds


def _osc(kind: str, freq: float, t: np.ndarray) -> np.ndarray:
    phase = (freq * t) % 1.0
    if kind == "sine":
        return np.sin(2 * np.pi * phase)
    if kind == "saw":
        return 2.0 * phase - 1.0
    if kind == "square":
        return np.where(phase < 0.5, 1.0, -1.0)
    if kind == "triangle":
        return 4.0 * np.abs(phase - 0.5) - 1.0
    if kind == "piano":  # a few decaying harmonics
        return sum(np.sin(2 * np.pi * freq * h * t) * np.exp(-t * (2.0 + h)) / h for h in (1, 2, 3, 4))
    raise ValueError(f"unknown waveform {kind!r}")


def _lowpass(x: np.ndarray, alpha: float) -> np.ndarray:
    """One-pole low-pass (alpha in (0, 1]; smaller is darker), vectorised via lfilter."""
    from scipy.signal import lfilter

    return lfilter([alpha], [1.0, alpha - 1.0], x)


def _add(out: np.ndarray, start: int, sound: np.ndarray) -> None:
    end = min(len(out), start + len(sound))
    if start < len(out) and end > start:
        out[start:end] += sound[: end - start]


def synthesize_track(music_id: str, seconds: float, sample_rate: int, seed: int) -> Track:
    """Render ``seconds`` of the genre-styled track ``music_id`` (e.g. 'mHO3') at its AIST++ tempo."""
    genre = music_id[1:3]
    sound = GENRE_SOUNDS[genre]
    bpm = music_bpm(music_id)
    rng = np.random.default_rng([seed, int(music_id[3]), sum(map(ord, genre))])
    sr = sample_rate
    n = int(round(seconds * sr))
    beat = 60.0 / bpm
    step = beat / STEPS_PER_BEAT
    first_beat = float(rng.uniform(0.08, 0.3))  # music rarely starts exactly on a beat
    key_hz = 110.0 * 2 ** (rng.integers(0, 12) / 12.0)  # A2 .. G#3
    out = np.zeros(n, dtype=np.float64)

    def t_of(length_s: float) -> np.ndarray:
        return np.arange(int(length_s * sr)) / sr

    # drums, synthesized once and placed on the grid
    tk = t_of(0.3)
    kick = np.sin(2 * np.pi * (45 * tk + (120 - 45) / 30 * (1 - np.exp(-30 * tk)))) * np.exp(-tk * 9)
    ts = t_of(0.2)
    noise = rng.standard_normal(len(ts))
    snare = (0.6 * np.diff(noise, prepend=0.0) + 0.5 * np.sin(2 * np.pi * 185 * ts)) * np.exp(-ts * 22)
    th = t_of(0.05)
    hat = np.diff(rng.standard_normal(len(th)), prepend=0.0) * np.exp(-th * 90)

    n_steps = int(np.ceil((seconds - first_beat) / step)) + 1
    # Below 100 BPM the eighth-note layers play in half time (on the beat only): an
    # eighth-note pulse at a slow tempo reads as double tempo under librosa's 120 BPM prior.
    half_time = bpm < 100
    hats = tuple(p for p in sound.hats if p % STEPS_PER_BEAT == 0) if half_time else sound.hats
    bass_steps = (tuple(p for p in sound.bass_steps if p % 2 == 1 or p % STEPS_PER_BEAT == 0) if half_time
                  else sound.bass_steps)
    for s in range(n_steps):
        start = int(round((first_beat + s * step) * sr))
        pos = s % STEPS_PER_BAR
        on_beat = pos % STEPS_PER_BEAT == 0
        # every beat carries a full kick; the genre's off-beat kicks are quiet syncopation
        if on_beat or pos in sound.kick:
            _add(out, start, (0.9 if on_beat else 0.3) * kick)
        if pos in sound.snare:
            _add(out, start, 0.2 * snare)
        if pos in hats:
            _add(out, start, sound.hat_gain * hat)

    # harmony: one chord per bar, the lead re-struck on every beat so each beat has an onset
    third = 3 if sound.minor else 4
    n_beats = int(np.ceil((seconds - first_beat) / beat)) + 1
    tb = t_of(beat)
    env = np.exp(-tb * 4.0) * np.minimum(1.0, tb * 200)
    for b in range(n_beats):
        bar = b // 4
        root = key_hz * 2 ** (sound.progression[bar % len(sound.progression)] / 12.0)
        chord = sum(_osc(sound.lead, root * 2 * 2 ** (iv / 12.0), tb) for iv in (0, third, 7)) / 3.0
        _add(out, int(round((first_beat + b * beat) * sr)), 0.16 * chord * env)

    # bass on the genre's steps, following the chord root
    tn = t_of(step * 1.8)
    benv = np.exp(-tn * 6.0) * np.minimum(1.0, tn * 300)
    for s in range(n_steps):
        if s % STEPS_PER_BAR in bass_steps:
            bar = s // STEPS_PER_BAR
            root = key_hz / 2 * 2 ** (sound.progression[bar % len(sound.progression)] / 12.0)
            note = _lowpass(_osc(sound.bass, root, tn), 0.25) * benv
            _add(out, int(round((first_beat + s * step) * sr)), 0.35 * note)

    if sound.drive > 0:
        out = np.tanh(out * (1 + 3 * sound.drive)) / np.tanh(1 + 3 * sound.drive)
    out *= 0.9 / max(1e-9, np.max(np.abs(out)))
    beat_times = first_beat + beat * np.arange(n_beats)
    beat_times = beat_times[beat_times < seconds]
    return Track(music_id, out.astype(np.float32), sr, bpm, beat_times, first_beat)
