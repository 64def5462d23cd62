"""The music encoder: audio loading, rhythm features, backbones and weights, adapters, cache."""

import pickle

import numpy as np
import pyarrow as pa
import pytest
import torch

from dabfusion.io import DataError, write_wav
from dabfusion.music.adapters import TrainSettings, genre_accuracy, retrieval_accuracy, train_movement, train_style
from dabfusion.music.audio import load_music
from dabfusion.music.backbones import MissingWeights, embed, load_clap, load_wav2clip
from dabfusion.music.embedding import (
    embedding_dim,
    music_embedding,
    read_vectors,
    vector_field,
    window_id,
    write_vectors,
)
from dabfusion.music.motion import MOTION_DIM, motion_descriptor
from dabfusion.music.rhythm import RHYTHM_DIM, TrackRhythm, clip_rhythm, track_rhythm
from dabfusion.synth.music import synthesize_track


# --- audio -----------------------------------------------------------------------------------
def test_bad_audio_gives_clear_errors(tmp_path):
    sr = 22050
    write_wav(tmp_path / "silent.wav", np.zeros(sr * 3, np.float32), sr)
    with pytest.raises(DataError, match="silent.wav.*silent"):
        load_music(tmp_path / "silent.wav")
    write_wav(tmp_path / "short.wav", 0.5 * np.sin(np.arange(int(0.2 * sr)) / 3.0).astype(np.float32), sr)
    with pytest.raises(DataError, match=r"short.wav: only 0.20 s"):
        load_music(tmp_path / "short.wav")
    (tmp_path / "notes.txt").write_text("this is not audio")
    with pytest.raises(DataError, match="notes.txt"):
        load_music(tmp_path / "notes.txt")
    (tmp_path / "fake.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(DataError, match="fake.wav"):
        load_music(tmp_path / "fake.wav")
    with pytest.raises(DataError, match="no such music file"):
        load_music(tmp_path / "missing.mp3")


def test_stereo_and_other_rates_become_mono_at_the_asked_rate(tmp_path):
    import soundfile as sf

    sr = 44100
    t = np.arange(sr * 2) / sr
    left, right = 0.6 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], 1).astype(np.float32), sr)
    mono, got_sr = load_music(tmp_path / "stereo.wav")
    assert got_sr == sr and mono.ndim == 1 and np.allclose(mono, (left + right) / 2, atol=1e-3)
    res, rsr = load_music(tmp_path / "stereo.wav", sample_rate=16000)
    assert rsr == 16000 and abs(len(res) - 32000) <= 1
    # mp4 (AAC) goes through the other decoder and lands at the same place
    from dabfusion.io import write_video

    write_video(tmp_path / "v.mp4", np.zeros((30, 32, 32, 3), np.uint8), 15, audio=mono[: sr * 2], sample_rate=sr)
    from_video, vsr = load_music(tmp_path / "v.mp4", sample_rate=16000)
    assert vsr == 16000 and abs(len(from_video) - 32000) < 2000


# --- rhythm ----------------------------------------------------------------------------------
def test_a_beat_at_time_t_lands_in_frame_round_t_fps():
    beats = np.array([0.10, 0.62, 1.14, 1.66, 2.18, 2.70])
    tr = TrackRhythm(tempo=115.4, beats=beats, downbeats=beats[::4], onset_env=np.ones(100),
                     onset_rate=43.07, onset_scale=1.0)
    fps, start, n = 15.0, 0.5, 30
    feats = clip_rhythm(tr, start, n, fps)
    assert feats.shape == (n, RHYTHM_DIM)
    inside = beats[(beats >= start) & (beats < start + n / fps)]
    peaks = np.flatnonzero(feats[:, 0] > 0.5)
    assert sorted(peaks) == sorted(int(round((b - start) * fps)) for b in inside)
    # phase is 0 (cos 1) on beats and half-way (cos -1) between them
    k = int(round((1.14 - start) * fps))
    assert feats[k, 4] > 0.9
    mid = int(round(((1.14 + 1.66) / 2 - start) * fps))
    assert feats[mid, 4] < -0.9
    assert np.allclose(feats[:, 5], 115.4 / 200)


def test_librosa_rhythm_of_a_synthetic_track():
    track = synthesize_track("mKR3", 8.0, 22050, seed=3)
    tr = track_rhythm(track.samples, 22050)
    assert abs(tr.tempo / track.bpm - 1) < 0.03
    feats = clip_rhythm(tr, 0.0, 120, 15.0)
    beat_frames = np.flatnonzero(feats[:, 0] > 0.5)
    true_frames = np.round(track.beat_times[track.beat_times < 8.0] * 15).astype(int)
    d = np.abs(beat_frames[:, None] - true_frames[None, :]).min(1)
    assert np.median(d) <= 1, "librosa beats land within a frame of the true beats"
    assert 0 <= feats[:, 2].min() and feats[:, 2].max() <= 1


# --- backbones -------------------------------------------------------------------------------
def test_random_init_fallback_is_deterministic_and_flagged(tmp_path, caplog):
    a = load_wav2clip(tmp_path / "Wav2CLIP.pt", "https://example.invalid/w.pt", require=False, seed=1)
    b = load_wav2clip(tmp_path / "Wav2CLIP.pt", "https://example.invalid/w.pt", require=False, seed=1)
    c = load_wav2clip(tmp_path / "Wav2CLIP.pt", "https://example.invalid/w.pt", require=False, seed=2)
    assert not a.pretrained and a.source == "random init (seed 1)"
    assert "SEEDED RANDOM INIT" in caplog.text
    x = [np.sin(np.arange(16000) / 7.0).astype(np.float32)]
    ea, eb, ec = embed(a, x), embed(b, x), embed(c, x)
    assert ea.shape == (1, 512) and np.array_equal(ea, eb) and not np.allclose(ea, ec)


def test_a_windows_music_features_do_not_depend_on_its_batchmates(tmp_path):
    from dabfusion.config import validate_config
    from dabfusion.music.features import load_backbones, song_windows

    track = synthesize_track("mPO1", 4.0, 22050, seed=1)
    mcfg = {**validate_config({})["music"], "weights_dir": str(tmp_path)}  # seeded random inits
    backbones = load_backbones(mcfg)
    clap_alone, alone, _ = song_windows(track.samples, track.sample_rate, [0.0], 16, 15.0, mcfg, backbones)
    clap_batch, batch, _ = song_windows(track.samples, track.sample_rate, [0.0, 16 / 15, 2.0], 16, 15.0, mcfg,
                                        backbones)
    # upstream Wav2CLIP standardises over its input batch: batched with others, this window moved by 21 %
    assert np.allclose(batch[0], alone[0], rtol=0, atol=1e-4 * np.abs(alone[0]).max())
    assert np.allclose(clap_batch[0], clap_alone[0], rtol=0, atol=1e-4 * np.abs(clap_alone[0]).max())


def test_wav2clip_batches_give_what_upstream_gives_each_window_alone(tmp_path):
    """Our forward standardises per window; upstream's, per batch: alone, the two must agree."""
    w2c = load_wav2clip(tmp_path / "w.pt", "https://example.invalid/w.pt", require=False, seed=0)
    rng = np.random.default_rng(0)
    windows = [rng.normal(size=17066).astype(np.float32) * gain for gain in (0.1, 1.0, 3.0)]
    windows.insert(1, rng.normal(size=9000).astype(np.float32))  # another length in the same batch
    upstream = w2c.model.extractor.encoder
    with torch.no_grad():
        alone = np.concatenate([w2c.model.transform(upstream(torch.from_numpy(w[None]))).numpy() for w in windows])
    batched = embed(w2c, windows, batch_size=16)
    assert batched.shape == (4, 512)
    assert np.allclose(batched, alone, rtol=0, atol=1e-5 * np.abs(alone).max())
    # the gains differ by 30x: per-batch standardisation would have moved the quiet window
    with torch.no_grad():
        together = w2c.model.transform(upstream(torch.from_numpy(np.stack([windows[0], windows[3]])))).numpy()
    assert not np.allclose(together[0], alone[0], rtol=0, atol=1e-2 * np.abs(alone).max())


def test_clap_audio_branch_builds_offline_and_embeds(tmp_path):
    import warnings

    with warnings.catch_warnings():  # upstream's meshgrid warning reaches no user (`dabfusion generate` printed it)
        warnings.filterwarnings("error", message="torch.meshgrid")
        clap = load_clap(tmp_path / "clap.pt", "https://example.invalid/c.pt", require=False, seed=0)
    again = load_clap(tmp_path / "clap.pt", "https://example.invalid/c.pt", require=False, seed=0)
    x = [np.sin(np.arange(48000) / 9.0).astype(np.float32),
         np.random.default_rng(0).normal(size=30000).astype(np.float32)]
    e, e2 = embed(clap, x), embed(again, x)
    assert e.shape == (2, 512) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert np.allclose(e, e2) and not np.allclose(e[0], e[1])


def test_clap_context_segments_cover_the_window_and_are_shared():
    from dabfusion.music.features import clap_context

    assert clap_context(3.0, 4.0, 60.0, None, 5.0) == (3.0, 4.0)  # the paper: the window itself
    assert clap_context(3.0, 4.0, 9.0, 10.0, 5.0) == (0.0, 9.0)  # a short track: all of it
    segments = set()
    for start in np.arange(0.0, 24.0, 0.5):  # every window of a 25 s track
        s, e = clap_context(start, start + 1.0, 25.0, 10.0, 5.0)
        assert e - s == 10.0 and 0.0 <= s and e <= 25.0
        assert s <= start and start + 1.0 <= e  # the window's own music is inside its segment
        segments.add(s)
    assert segments == {0.0, 5.0, 10.0, 15.0}  # 48 windows, 4 CLAP inputs


def test_required_weights_missing_is_a_clear_stop(tmp_path):
    with pytest.raises(MissingWeights) as err:
        load_clap(tmp_path / "630k-audioset-best.pt", "https://host/630k-audioset-best.pt", require=True, seed=0)
    msg = str(err.value)
    assert "630k-audioset-best.pt" in msg and "https://host/630k-audioset-best.pt" in msg and "snakemake" in msg


def test_checkpoints_load_without_running_code(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    bad = tmp_path / "Wav2CLIP.pt"
    bad.write_bytes(pickle.dumps({"audio_encoder.x": Evil()}))
    with pytest.raises(MissingWeights, match="cannot be loaded safely"):
        load_wav2clip(bad, "u", require=False, seed=0)


def test_a_real_wav2clip_state_dict_loads(tmp_path):
    """A checkpoint in Wav2CLIP's layout (audio_encoder.*, audio_transform.*) is used, and flagged pretrained."""
    donor = load_wav2clip(tmp_path / "none.pt", "u", require=False, seed=5)
    state = {f"audio_encoder.{k}": v for k, v in donor.model.extractor.encoder.state_dict().items()}
    state |= {f"audio_transform.{k}": v for k, v in donor.model.transform.state_dict().items()}
    torch.save(state, tmp_path / "Wav2CLIP.pt")
    loaded = load_wav2clip(tmp_path / "Wav2CLIP.pt", "u", require=True, seed=0)
    x = [np.cos(np.arange(16000) / 5.0).astype(np.float32)]
    assert loaded.pretrained and np.allclose(embed(loaded, x), embed(donor, x), atol=1e-5)


# --- adapters --------------------------------------------------------------------------------
def test_style_adapter_learns_and_generalises():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 64)) * 2
    y = rng.integers(0, 4, 400)
    x = (centers[y] + rng.normal(size=(400, 64))).astype(np.float32)
    model = train_style(x[:300], y[:300], 4, TrainSettings(epochs=20))
    assert genre_accuracy(model, x[300:], y[300:]) > 0.9


def test_movement_adapter_retrieves_above_chance():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(600, 8))
    audio = np.tanh(latent @ rng.normal(size=(8, 64))) + 0.1 * rng.normal(size=(600, 64))
    motion = latent @ rng.normal(size=(8, MOTION_DIM)) + 0.1 * rng.normal(size=(600, MOTION_DIM))
    model = train_movement(audio[:500].astype(np.float32), motion[:500].astype(np.float32), TrainSettings(epochs=30))
    top1, top5 = retrieval_accuracy(model, audio[500:], motion[500:])
    assert top1 > 0.3 and top5 >= top1
    # control: pairs broken by shuffling are retrieved at about chance (1/32)
    shuffled = motion[500:][np.random.default_rng(2).permutation(100)]
    assert retrieval_accuracy(model, audio[500:], shuffled)[0] < 0.15


def test_motion_descriptor_sees_where_and_when_things_move():
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    frames[8:, :8, :8] = 255  # top-left corner lights up at frame 8
    d = motion_descriptor(frames)
    assert d.shape == (MOTION_DIM,)
    assert np.argmax(d[:16]) in (7, 8)  # the change happens half-way
    assert d[16] == pytest.approx(1.0, abs=1e-3)  # all of it in the top-left cell


# --- embedding and cache ---------------------------------------------------------------------
def test_music_embedding_dimensions():
    e = music_embedding(np.zeros((3, 512)), np.ones((3, 128)), np.full((3, 40, RHYTHM_DIM), 2.0))
    assert e.shape == (3, embedding_dim(40)) == (3, 880)
    assert e[0, 600] == 1.0 and e[0, 700] == 2.0
    assert music_embedding(np.zeros((1, 512)), np.ones((1, 128)), np.zeros((1, 40, 6)),
                           use_beat=False).shape == (1, 640)
    assert window_id("mBR0", 16, 40, 30.0) == "mBR0_f00016_n40_fps30"


def test_parquet_vectors_round_trip_with_their_schema(tmp_path):
    schema = pa.schema([pa.field("window_id", pa.string(), nullable=False),
                        pa.field("clap_pretrained", pa.bool_(), nullable=False), vector_field("clap", 4)],
                       metadata={b"n_frames": b"16"})
    vec = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_vectors(tmp_path / "w.parquet", {"window_id": ["a", "b", "c"], "clap_pretrained": [False] * 3, "clap": vec},
                  schema)
    back, got = read_vectors(tmp_path / "w.parquet")
    assert got.field("clap").type == pa.list_(pa.float32(), 4) and got.metadata[b"n_frames"] == b"16"
    assert np.array_equal(back["clap"], vec) and list(back["window_id"]) == ["a", "b", "c"]
    assert not back["clap_pretrained"].any()
    with pytest.raises((ValueError, pa.ArrowInvalid)):
        write_vectors(tmp_path / "bad.parquet", {"window_id": ["a"], "clap_pretrained": [True],
                                                 "clap": np.zeros((1, 5), np.float32)}, schema)
    assert not (tmp_path / "bad.parquet").exists()
