import pickle

import numpy as np
import pytest

from dabfusion.io import (
    DataError,
    atomic_path,
    dump_numpy_pickle,
    load_numpy_pickle,
    read_wav,
    replace_marked_block,
    write_video,
)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_unpickler_refuses_code(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"keypoints2d": _Evil()}))
    with pytest.raises(DataError, match="bad.pkl"):
        load_numpy_pickle(bad)


def test_unpickler_reads_numpy_dicts_from_both_numpy_generations(tmp_path):
    data = {"keypoints2d": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "timestamps": np.arange(3), "n": 3}
    new = tmp_path / "new.pkl"
    dump_numpy_pickle(new, data)
    back = load_numpy_pickle(new)
    assert np.array_equal(back["keypoints2d"], data["keypoints2d"]) and back["n"] == 3
    # AIST++'s pickles were written by numpy 1.x, which names numpy.core instead of numpy._core
    # (protocol 2 spells globals as newline-terminated text, so the name can be swapped)
    old = tmp_path / "old.pkl"
    blob = pickle.dumps(data, protocol=2)
    assert b"numpy._core" in blob
    old.write_bytes(blob.replace(b"numpy._core", b"numpy.core"))
    assert np.array_equal(load_numpy_pickle(old)["timestamps"], data["timestamps"])


def test_truncated_pickle_is_a_clear_error(tmp_path):
    p = tmp_path / "cut.pkl"
    dump_numpy_pickle(p, {"a": np.zeros(1000)})
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(DataError, match="cut.pkl"):
        load_numpy_pickle(p)


def test_corrupt_wav_names_the_file(tmp_path):
    p = tmp_path / "mBR0.wav"
    p.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(DataError, match="mBR0.wav"):
        read_wav(p)


def test_write_video_rejects_odd_sizes_and_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="height by 4, got 32x31"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 31, 32, 3), np.uint8), 10)
    with pytest.raises(ValueError, match="width divisible by 2"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 32, 33, 3), np.uint8), 10)
    assert list(tmp_path.iterdir()) == []


def test_rgb_to_yuv420p_matches_the_bt601_formula():
    """Against the textbook float formula (limited range), chroma from 2 x 2 block means."""
    from dabfusion.io import rgb_to_yuv420p

    rgb = np.random.default_rng(0).integers(0, 256, (8, 6, 3)).astype(np.uint8)
    yuv = rgb_to_yuv420p(rgb).astype(float)
    r, g, b = (rgb[..., i].astype(float) / 255 for i in range(3))
    y = 16 + 219 * (0.299 * r + 0.587 * g + 0.114 * b)
    cb = 128 + 224 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    cr = 128 + 224 * (0.5 * r - 0.418688 * g - 0.081312 * b)
    mean2 = lambda c: c.reshape(4, 2, 3, 2).mean(axis=(1, 3)).reshape(-1)  # noqa: E731
    assert np.abs(yuv[:8] - y).max() <= 1.0
    assert np.abs(yuv[8:10].reshape(-1) - mean2(cb)).max() <= 1.0
    assert np.abs(yuv[10:12].reshape(-1) - mean2(cr)).max() <= 1.0
    # a 2 x 2 block of one colour keeps that colour's chroma exactly
    flat = np.zeros((4, 4, 3), np.uint8)
    flat[:2, :2] = (200, 30, 90)
    u, v = rgb_to_yuv420p(flat)[4:].astype(int)  # each (2 x 2) chroma plane as one row of 4
    assert u[0] == round(128 + 224 * (-0.168736 * 200 - 0.331264 * 30 + 0.5 * 90) / 255)
    assert v[0] == round(128 + 224 * (0.5 * 200 - 0.418688 * 30 - 0.081312 * 90) / 255)
    assert list(u[1:]) == list(v[1:]) == [128, 128, 128]  # black blocks have no chroma


def test_video_tags_round_trip(tmp_path):
    from dabfusion.io import read_video_metadata

    write_video(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), 10, metadata={"dabfusion_x": "abc"})
    assert read_video_metadata(tmp_path / "v.mp4")["dabfusion_x"] == "abc"


def test_same_frames_and_music_give_the_same_mp4_bytes(tmp_path):
    """x264 with mbtree gave other bytes now and then for these frames (192x108, 12 macroblocks
    wide); the writer's settings must make every encode identical, audio included."""
    import hashlib

    yy, xx = np.mgrid[:108, :192]
    frames = np.stack([np.stack([128 + 100 * np.sin((xx + 3 * t) / 9 + yy / 13), 128 + 90 * np.cos((yy - 2 * t) / 7),
                                 64 + 60 * np.sin(xx * yy / 500 + t / 5)], -1) for t in range(45)]).astype(np.uint8)
    audio = (0.3 * np.sin(np.arange(22050 * 3) * 2 * np.pi * 220 / 22050)).astype(np.float32)
    digests = set()
    for i in range(8):
        write_video(tmp_path / f"v{i}.mp4", frames, 15, audio=audio, sample_rate=22050, crf=23)
        digests.add(hashlib.sha256((tmp_path / f"v{i}.mp4").read_bytes()).hexdigest())
    assert len(digests) == 1, f"{len(digests)} different files from the same frames"


def test_safetensors_bytes_do_not_depend_on_the_process(tmp_path):
    """safetensors orders its metadata by a per-process hash; ours is sorted, so a checkpoint's
    SHA-256 (the provenance every later stage checks) is the same in every run."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    script = ("import sys, torch; from dabfusion.checkpoints import write_safetensors_atomic; "
              "write_safetensors_atomic(sys.argv[1], {'b': torch.arange(6.).reshape(2, 3), 'a': torch.ones(4)}, "
              "{k: 'v' * i for i, k in enumerate('config epochs lfae kind beat seed'.split())})")
    files = [tmp_path / f"w{i}.safetensors" for i in range(4)]
    for f in files:
        subprocess.run([sys.executable, "-c", script, str(f)], check=True)
    assert len({f.read_bytes() for f in files}) == 1
    state = load_file(str(files[0]))
    assert state["b"].tolist() == [[0, 1, 2], [3, 4, 5]] and state["a"].tolist() == [1, 1, 1, 1]


def test_replace_marked_block_rewrites_only_between_the_markers_and_names_a_file_without_them(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- b -->\nold table\n<!-- e -->\noutro\n")
    replace_marked_block(doc, "<!-- b -->", "<!-- e -->", "| new |")
    assert doc.read_text() == "intro\n<!-- b -->\n| new |\n<!-- e -->\noutro\n"
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match="doc.md"):
        replace_marked_block(doc, "<!-- b -->", "<!-- e -->", "| new |")
    assert doc.read_text() == "no markers\n"
