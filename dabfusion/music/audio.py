"""Loading music for the encoder: any audio file, checked, mono, at the rate asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import DataError, decode_audio, read_wav

MIN_SECONDS = 1.0
MIN_RMS = 1e-3  # below this a track is silence


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    import librosa

    if orig_sr == target_sr:
        return samples.astype(np.float32)
    return librosa.resample(samples.astype(np.float32), orig_sr=orig_sr, target_sr=target_sr).astype(np.float32)


def check_music(samples: np.ndarray, sr: int, name: str | Path) -> None:
    """Raise DataError naming ``name`` if the audio cannot drive a dance (too short, silent)."""
    seconds = len(samples) / sr
    if seconds < MIN_SECONDS:
        raise DataError(f"{name}: only {seconds:.2f} s of audio; a dance needs at least {MIN_SECONDS:g} s of music")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if not np.isfinite(rms) or rms < MIN_RMS:
        raise DataError(f"{name}: the music is silent (RMS {rms:.1e}); use a file with audible music")


def load_music(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 samples of any audio or video file, checked, resampled if asked.

    WAV goes through soundfile; anything else (mp3, m4a, mp4, ...) through PyAV. Stereo is
    averaged to mono. Errors name the file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such music file")
    if path.suffix.lower() == ".wav":
        samples, sr = read_wav(path)
    else:
        samples, sr = decode_audio(path)
    check_music(samples, sr, path)
    if sample_rate is not None and sr != sample_rate:
        samples, sr = resample(samples, sr, sample_rate), sample_rate
    return samples.astype(np.float32), sr
