"""Frame extraction, bad videos, and the clip index."""

import shutil

import numpy as np
import pandas as pd
import pytest

from dabfusion.aist import VideoName
from dabfusion.clips import build_clip_index, extract_shard, prepare_music
from dabfusion.frames import ExtractSpec, extract_video, load_clip, resample_indices
from dabfusion.io import DataError, write_video


def _decode_all(video):
    import decord

    vr = decord.VideoReader(str(video))
    return vr.get_batch(list(range(len(vr)))).asnumpy()


def test_resample_picks_the_frame_shown_at_each_instant():
    src_fps = 59.94  # AIST++ videos deviate a little from 60 fps
    starts = np.arange(600) / src_fps
    idx = resample_indices(starts, 30.0, duration=600 / src_fps)
    assert len(idx) == int(np.floor(600 / src_fps * 30))
    t = np.arange(len(idx)) / 30.0
    assert np.all(starts[idx] <= t + 1e-6)
    assert np.all((idx + 1 >= len(starts)) | (starts[np.minimum(idx + 1, 599)] > t))


def test_extraction_at_source_size_is_exact_and_resamples_fps(synth_root, tmp_path):
    video = sorted((synth_root / "videos").glob("*_c01_*.mp4"))[0]
    src = _decode_all(video)  # 15 fps, 64 x 96
    out = tmp_path / "f.npy"
    info = extract_video(video, out, ExtractSpec(size=64, fps=10, aspect="crop"))
    frames = np.load(out)
    assert info["n_frames"] == len(frames) == int(np.floor(len(src) / 15 * 10 + 1e-6))
    x0 = (96 - 64) // 2
    for k in (0, 7, len(frames) - 1):  # frame shown at k/10 s is source frame floor(k * 1.5)
        assert np.array_equal(frames[k], src[int(np.floor(k * 1.5 + 1e-9)), :, x0:x0 + 64])


def test_downscaled_frames_match_the_decoded_pixels(synth_root, tmp_path):
    from PIL import Image

    video = sorted((synth_root / "videos").glob("*_c09_*.mp4"))[0]
    src = _decode_all(video)
    out = tmp_path / "f.npy"
    extract_video(video, out, ExtractSpec(size=32, fps=15, aspect="crop"))
    frames = np.load(out)
    assert frames.shape == (len(src), 32, 32, 3)
    ref = lambda k: np.asarray(Image.fromarray(src[k][:, 16:80]).resize((32, 32), Image.BILINEAR), float)  # noqa: E731
    same = np.abs(frames[20] - ref(20)).mean()
    other = np.abs(frames[20] - ref(len(src) - 1)).mean()
    assert same < 6 and same < other / 2, (same, other)


def test_pad_mode_letterboxes(synth_root, tmp_path):
    video = sorted((synth_root / "videos").glob("*.mp4"))[0]
    out = tmp_path / "f.npy"
    extract_video(video, out, ExtractSpec(size=48, fps=15, aspect="pad"))
    frames = np.load(out)
    assert frames.shape[1:] == (48, 48, 3)
    assert frames[:, :7].max() == 0 and frames[:, -7:].max() == 0  # 96x64 -> 48x32 in a 48x48 box
    assert frames[:, 24].mean() > 40


@pytest.fixture
def bad_videos(synth_root, tmp_path):
    good = sorted((synth_root / "videos").glob("*.mp4"))[0]
    raw = tmp_path / "raw"
    (raw / "videos").mkdir(parents=True)
    names = {"truncated": "gBR_sBM_c01_d04_mBR0_ch07", "garbage": "gBR_sBM_c01_d04_mBR0_ch08",
             "silent": "gBR_sBM_c01_d04_mBR0_ch09", "good": VideoName.parse(good.stem).__str__()}
    blob = good.read_bytes()
    (raw / "videos" / f"{names['truncated']}.mp4").write_bytes(blob[: len(blob) // 3])
    (raw / "videos" / f"{names['garbage']}.mp4").write_bytes(b"\x00\x01 not a video" * 100)
    write_video(raw / "videos" / f"{names['silent']}.mp4", np.zeros((10, 32, 32, 3), np.uint8), 15)
    shutil.copy(good, raw / "videos" / f"{names['good']}.mp4")
    (raw / "video_list.txt").write_text("".join(f"{n}\n" for n in names.values()))
    return raw, names


@pytest.mark.parametrize("kind, message", [("truncated", "corrupt or truncated"), ("garbage", "cannot be decoded"),
                                           ("silent", "no readable audio")])
def test_bad_video_is_a_clear_error_naming_the_file(bad_videos, tmp_path, kind, message):
    raw, names = bad_videos
    video = raw / "videos" / f"{names[kind]}.mp4"
    out = tmp_path / "out.npy"
    with pytest.raises(DataError, match=message) as err:
        extract_video(video, out, ExtractSpec(32, 15, "crop"))
    assert names[kind] in str(err.value)
    assert not out.exists() and list(tmp_path.glob(".out*")) == []


def test_bad_videos_fail_the_shard_or_become_rejects(bad_videos, tmp_path):
    raw, names = bad_videos
    ecfg = {"size": 32, "fps": 15, "aspect": "crop", "on_bad_video": "fail"}
    with pytest.raises(DataError, match="on_bad_video: skip"):
        extract_shard(raw, tmp_path / "p", 0, 1, ecfg, tmp_path / "p/shards/frames_0.csv")
    assert not (tmp_path / "p/shards/frames_0.csv").exists()
    shard = extract_shard(raw, tmp_path / "p", 0, 1, dict(ecfg, on_bad_video="skip"),
                          tmp_path / "p/shards/frames_0.csv")
    status = dict(zip(shard.video, shard.status))
    assert status[names["good"]] == "ok"
    assert [status[names[k]] for k in ("truncated", "garbage", "silent")] == ["rejected"] * 3
    reasons = dict(zip(shard.video, shard.reason))
    assert "no readable audio" in reasons[names["silent"]]


@pytest.fixture(scope="module")
def indexed(synth_root, tmp_path_factory):
    """The test dataset extracted at its own fps (15) and cut into 10-frame clips, stride 5."""
    proc = tmp_path_factory.mktemp("processed")
    ecfg = {"size": 32, "fps": 15, "aspect": "crop", "on_bad_video": "fail"}
    ccfg = {"length": 10, "stride": 5}
    shards = [extract_shard(synth_root, proc, i, 2, ecfg, proc / f"shards/frames_{i}.csv") for i in range(2)]
    prepare_music(synth_root, proc, 22050, proc / "music.csv")
    clips = build_clip_index(synth_root, [proc / f"shards/frames_{i}.csv" for i in range(2)], proc / "music.csv",
                             ecfg, ccfg, proc, proc / "clips.parquet", proc / "rejects.csv")
    return proc, pd.concat(shards), clips


def test_clip_index_rows_line_up_with_frames_and_music(indexed, synth_root):
    proc, shards, clips = indexed
    assert clips.equals(pd.read_parquet(proc / "clips.parquet"))
    seqs = pd.read_csv(synth_root / "truth/sequences.csv").set_index("sequence")
    for video, group in clips.groupby("video"):
        n = np.load(group.frames_file.iloc[0], mmap_mode="r").shape[0]
        assert n == seqs.loc[VideoName.parse(video).sequence, "n_frames"]
        assert list(group.start_frame) == list(range(0, n - 10 + 1, 5))
    assert np.allclose(clips.music_start, clips.start_frame / 15.0)
    assert np.allclose(clips.music_end - clips.music_start, 10 / 15.0)
    assert set(clips.split) == {"train", "test"}
    assert (clips.split == "test").eq(clips.music_id.isin(["mBR0", "mHO5", "mJB5", "mKR2"])).all()


def test_ignored_sequences_are_rejected_with_the_reason(indexed, synth_root):
    proc, _, clips = indexed
    ignored = set((synth_root / "ignore_list.txt").read_text().split())
    assert ignored and not ignored & set(clips.sequence)
    rejects = pd.read_csv(proc / "rejects.csv")
    assert {VideoName.parse(v).sequence for v in rejects.video} == ignored
    assert (rejects.reason == "sequence is in ignore_list.txt").all()


def test_a_beat_lands_on_the_same_instant_in_frames_and_music(indexed, synth_root):
    """The dancer is still at a kinematic beat: in each clip's stored frames, pixel change is
    smallest at the frame of the ground-truth beat that falls inside the clip's music window."""
    _, _, clips = indexed
    kin = pd.read_csv(synth_root / "truth/kinematic_beats.csv")
    checked, hits = 0, 0
    for c in clips[clips.camera == "c09"].itertuples():
        beats = kin[kin.sequence == c.sequence].time.to_numpy()
        inside = beats[(beats > c.music_start + 3 / 15) & (beats < c.music_end - 3 / 15)]
        if len(inside) != 1:
            continue
        frames = load_clip(c.frames_file, c.start_frame, c.n_frames).astype(float)
        change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # change[i]: frame i -> i+1
        speed = np.concatenate([[np.inf], (change[:-1] + change[1:]) / 2, [np.inf]])  # around frame i
        beat_frame = (inside[0] - c.music_start) * 15
        checked += 1
        hits += abs(int(np.argmin(speed)) - beat_frame) <= 1.0
    print(f"beat frame = stillest frame in {hits}/{checked} clips")
    assert checked >= 10 and hits / checked >= 0.8


def test_load_clip_bounds(indexed):
    _, _, clips = indexed
    c = clips.iloc[0]
    assert load_clip(c.frames_file, 0, 4).shape == (4, 32, 32, 3)
    with pytest.raises(IndexError, match="outside"):
        load_clip(c.frames_file, 10_000, 4)


def test_music_checks(tmp_path):
    from dabfusion.io import write_wav

    raw = tmp_path / "raw"
    write_wav(raw / "music/mBR0.wav", np.zeros(22050 * 3, np.float32), 22050)
    with pytest.raises(DataError, match="mBR0.wav.*silent"):
        prepare_music(raw, tmp_path / "p", 22050, tmp_path / "p/music.csv")
    write_wav(raw / "music/mBR0.wav", 0.5 * np.sin(np.arange(4410) / 5.0).astype(np.float32), 22050)
    with pytest.raises(DataError, match="mBR0.wav.*0.20 s"):
        prepare_music(raw, tmp_path / "p", 22050, tmp_path / "p/music.csv")
    write_wav(raw / "music/mBR0.wav", 0.5 * np.sin(np.arange(44100 * 2) / 5.0).astype(np.float32), 44100)
    table = prepare_music(raw, tmp_path / "p", 22050, tmp_path / "p/music.csv")
    assert table.source_sample_rate.iloc[0] == 44100
    assert np.load(tmp_path / "p/music/mBR0.npy").shape == (44100,)
