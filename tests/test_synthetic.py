"""The synthetic AIST++-shaped dataset: layout, naming, splits, music, motion, videos."""

import hashlib
import json
import os
import re
import time

import numpy as np
import pandas as pd
import pytest

from dabfusion.aist import CAMERAS, GENRES, TEST_MUSIC, VideoName, music_bpm
from dabfusion.beats import kinematic_beats, music_beats, nearest_distance
from dabfusion.io import load_numpy_pickle, read_wav
from dabfusion.synth.dataset import generate, plan_sequences, render_video_frames, sequence_motion

NAME_RE = re.compile(r"^g(BR|PO|LO|MH|LH|HO|WA|KR|JS|JB)_s(BM|FM)_c0[1-9]_d\d\d_m\1[0-5]_ch\d\d$")


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")


def test_same_seed_gives_identical_files(tmp_path, synth_cfg, synth_root):
    """Byte for byte, across worker counts and process histories (the fixture ran in a pool)."""
    again = tmp_path / "again"
    generate(synth_cfg, again, workers=1, progress=False)
    assert _files(again) == _files(synth_root)
    differing = [str(f) for f in _files(again) if (again / f).read_bytes() != (synth_root / f).read_bytes()]
    # truth/videos.csv holds each video's digest of the frames before encoding: if only mp4s
    # differ, the encoder (not the renderer) was not reproducible
    where = "renderer" if "truth/videos.csv" in differing else "encoder"
    assert differing == [], f"{len(differing)} files differ (the {where} is not reproducible): {differing[:5]}"


def test_another_seed_gives_other_data(tmp_path, synth_cfg, synth_root):
    other = dict(synth_cfg, seed=synth_cfg["seed"] + 1)
    generate(other, tmp_path, workers=2, progress=False)
    assert (tmp_path / "music/mBR0.wav").read_bytes() != (synth_root / "music/mBR0.wav").read_bytes()
    v = "videos/gBR_sBM_c01_d04_mBR0_ch01.mp4"
    assert (tmp_path / v).read_bytes() != (synth_root / v).read_bytes()


def test_layout_and_names(synth_root, synth_cfg):
    manifest = json.loads((synth_root / "manifest.json").read_text())
    assert manifest["source"] == "synthetic"
    videos = (synth_root / "video_list.txt").read_text().split()
    assert len(videos) == manifest["n_videos"] == len(plan_sequences(synth_cfg)) * len(synth_cfg["cameras"])
    for v in videos:
        assert NAME_RE.match(v), v
        n = VideoName.parse(v)
        assert n.dancer in GENRES[n.genre][1], f"{v}: dancer not one of the genre's AIST++ dancers"
        assert n.camera in synth_cfg["cameras"]
        assert (synth_root / "videos" / f"{v}.mp4").stat().st_size > 1000
    sequences = {VideoName.parse(v).sequence for v in videos}
    for s in sequences:
        kp = load_numpy_pickle(synth_root / "keypoints2d" / f"{s}.pkl")
        n = VideoName.parse(s)
        frames = int(round(synth_cfg["seconds"][n.situation] * synth_cfg["fps"]))
        assert kp["keypoints2d"].shape == (len(CAMERAS), frames, 17, 3)
        assert kp["det_scores"].shape == (len(CAMERAS), frames)
        assert kp["timestamps"].shape == (frames,)
    music = {p.stem for p in (synth_root / "music").glob("*.wav")}
    assert music == {VideoName.parse(v).music_id for v in videos}
    for m in music:  # every track id is on AIST++'s grid
        assert music_bpm(m) in ((110 + 5 * k) if m[1:3] == "HO" else (80 + 10 * k) for k in range(6))
    cams = json.loads((synth_root / "cameras/setting1.json").read_text())
    assert [c["name"] for c in cams] == list(CAMERAS)
    # both situations, and every genre has its test track plus a training track
    assert {VideoName.parse(v).situation for v in videos} == {"sBM", "sFM"}


def test_splits_follow_the_music(synth_root):
    train = (synth_root / "splits/crossmodal_train.txt").read_text().split()
    test = (synth_root / "splits/crossmodal_test.txt").read_text().split()
    assert train and test and not set(train) & set(test)
    assert all(VideoName.parse(s).music_id in TEST_MUSIC for s in test)
    assert not any(VideoName.parse(s).music_id in TEST_MUSIC for s in train)
    ignored = (synth_root / "ignore_list.txt").read_text().split()
    assert len(ignored) == 2 and set(ignored) <= set(train)
    for genre in ("BR", "HO", "JB", "KR"):
        assert any(s.startswith(f"g{genre}") for s in test) and any(s.startswith(f"g{genre}") for s in train)


def test_librosa_recovers_every_tempo_and_the_beats(synth_root):
    music = pd.read_csv(synth_root / "truth/music.csv")
    truth = pd.read_csv(synth_root / "truth/music_beats.csv")
    errors = []
    for m in music.itertuples():
        samples, sr = read_wav(synth_root / "music" / f"{m.music_id}.wav")
        tempo, beats = music_beats(samples, sr)
        assert abs(tempo / m.bpm - 1) < 0.03, f"{m.music_id}: librosa {tempo:.1f} BPM vs nominal {m.bpm}"
        errors.append(np.median(nearest_distance(beats, truth[truth.music_id == m.music_id].time)))
    print(f"median librosa-to-true beat error over tracks: {1000 * np.median(errors):.1f} ms")
    assert np.median(errors) < 0.05


def test_kinematic_beats_fall_on_music_beats(synth_root, synth_cfg):
    seqs = pd.read_csv(synth_root / "truth/sequences.csv")
    beats = pd.read_csv(synth_root / "truth/music_beats.csv")
    truth = pd.read_csv(synth_root / "truth/kinematic_beats.csv")
    fps = synth_cfg["fps"]
    tolerance = 1.5 / fps + 2 * synth_cfg["timing_jitter"]  # frame sampling + the dancers' jitter
    hit_rates, match_rates = [], []
    for s in seqs.itertuples():
        mb = beats[beats.music_id == s.music_id].time.to_numpy()
        kp = load_numpy_pickle(synth_root / "keypoints2d" / f"{s.sequence}.pkl")["keypoints2d"][0]
        found = kinematic_beats(kp, fps)
        assert len(found) >= 2, s.sequence
        hit_rates.append(np.mean(nearest_distance(found, mb) <= tolerance))
        gt = truth[truth.sequence == s.sequence].time.to_numpy()
        assert np.all(nearest_distance(gt, mb) <= 2 * synth_cfg["timing_jitter"] + 1e-9)
        match_rates.append(np.mean(nearest_distance(found, gt) <= 1.5 / fps))
    print(f"kinematic beats within {1000 * tolerance:.0f} ms of a music beat: "
          f"{100 * np.mean(hit_rates):.1f}% (worst clip {100 * np.min(hit_rates):.0f}%); "
          f"at the generator's key instants: {100 * np.mean(match_rates):.1f}%")
    # 2D speed has the odd extra minimum (a limb moving towards the camera), so this is a
    # rate over clips, not a rule for every minimum
    assert np.mean(hit_rates) >= 0.9 and np.min(hit_rates) >= 0.5
    assert np.mean(match_rates) >= 0.9


def test_video_decodes_to_the_frames_and_audio_written(synth_root, synth_cfg):
    import decord

    seqs = pd.read_csv(synth_root / "truth/sequences.csv")
    row = seqs.iloc[1]
    plan = next(p for p in plan_sequences(synth_cfg) if p.sequence == row.sequence)
    beats = pd.read_csv(synth_root / "truth/music_beats.csv")
    motion = sequence_motion(plan, synth_cfg, beats[beats.music_id == row.music_id].time.to_numpy())
    expected = render_video_frames(motion, "c02", synth_cfg)
    video = synth_root / "videos" / f"{VideoName.parse(row.sequence).with_camera('c02')}.mp4"
    vr = decord.VideoReader(str(video))
    assert len(vr) == len(expected) == int(round(row.seconds * synth_cfg["fps"]))
    assert vr.get_avg_fps() == pytest.approx(synth_cfg["fps"])
    decoded = vr.get_batch(list(range(len(vr)))).asnumpy()
    assert decoded.shape == expected.shape
    err = np.abs(decoded.astype(float) - expected.astype(float)).mean()
    assert err < 4.0, f"mean abs error {err:.2f} / 255 between decoded and rendered frames"
    digests = pd.read_csv(synth_root / "truth/videos.csv").set_index("video").frames_sha256
    assert digests[video.stem] == hashlib.sha256(expected.tobytes()).hexdigest()

    sr = synth_cfg["sample_rate"]
    audio = decord.AudioReader(str(video), sample_rate=sr, mono=True)[:].asnumpy()[0]
    music, _ = read_wav(synth_root / "music" / f"{row.music_id}.wav")
    n = int(row.seconds * sr)
    assert len(audio) >= n - sr // 50  # AAC may pad the end, never drop more than 20 ms
    a, m = audio[:n], music[: min(n, len(audio))]
    a = a[: len(m)]
    lags = range(-200, 201, 10)
    corr = [np.dot(a[max(0, k):len(a) + min(0, k)], m[max(0, -k):len(m) - max(0, k)]) for k in lags]
    assert list(lags)[int(np.argmax(corr))] == 0, "audio track is shifted against the music"
    assert np.corrcoef(a, m)[0, 1] > 0.9


def test_cameras_are_placed_like_aistpp(synth_root):
    """c09 is closer than c01 (the dancer looks bigger); c02 looks down from higher up."""
    seq = pd.read_csv(synth_root / "truth/sequences.csv").sequence.iloc[0]
    kp = load_numpy_pickle(synth_root / "keypoints2d" / f"{seq}.pkl")["keypoints2d"]
    height = lambda v: np.ptp(kp[v, :, :, 1], axis=1).mean()  # noqa: E731
    assert height(8) > 1.2 * height(0)  # c09 vs c01
    # c01 (front) sees the dancer's left side on the image right; c05 (back) the other way
    lx = lambda v: (kp[v, :, 5, 0] - kp[v, :, 6, 0]).mean()  # noqa: E731
    assert lx(0) > 0 and lx(4) < 0
    # c02 is above: the feet are lower in its image relative to the head than for c03
    ankles_minus_head = lambda v: (kp[v, :, 15:17, 1].mean(1) - kp[v, :, 0, 1]).mean()  # noqa: E731
    assert ankles_minus_head(1) < ankles_minus_head(2)


def test_dancers_look_different(synth_cfg):
    """Same pose, same camera: two dancers' pixels differ far more than rendering noise."""
    from dabfusion.synth.body import forward_kinematics, make_dancer
    from dabfusion.synth.choreo import neutral_pose
    from dabfusion.synth.render import body_parts, figure_points, make_camera, render_background, render_frame

    cam = make_camera("c01", 96, 64)
    bg, fxz = render_background(cam)
    pose = {k: np.array([v]) for k, v in neutral_pose().items()}
    imgs = {}
    for d_id in ("d04", "d05", "d19", "d07"):
        d = make_dancer(d_id, synth_cfg["seed"])
        imgs[d_id] = render_frame(cam, bg, fxz, figure_points(forward_kinematics(pose, d), d)[0],
                                  body_parts(d)[0], d).astype(float)
    ids = list(imgs)
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            diff = np.abs(imgs[ids[i]] - imgs[ids[j]]).sum(-1)
            assert (diff > 60).sum() > 80, f"{ids[i]} and {ids[j]} look alike"


def test_interrupted_generation_resumes(tmp_path, synth_cfg, synth_root):
    """Files of an interrupted run are kept and the missing ones rendered; result identical."""
    generate(synth_cfg, tmp_path, workers=2, progress=False)
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    victim, keeper = videos[0], videos[-1]
    victim.unlink()
    (tmp_path / "manifest.json").unlink()
    os.utime(keeper, (1, 1))  # old mtime: a rewrite would change it
    time.sleep(0.01)
    generate(synth_cfg, tmp_path, workers=2, progress=False)
    assert victim.exists() and victim.read_bytes() == (synth_root / "videos" / victim.name).read_bytes()
    assert keeper.stat().st_mtime == 1
    # a changed config starts over
    generate(dict(synth_cfg, crf=30), tmp_path, workers=2, progress=False)
    assert keeper.stat().st_mtime != 1
    assert not list(tmp_path.rglob(".*.mp4")), "temporary files left behind"
