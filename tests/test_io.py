import pickle

import numpy as np
import pytest

from dabfusion.io import DataError, atomic_path, dump_numpy_pickle, load_numpy_pickle, read_wav, write_video


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
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 31, 32, 3), np.uint8), 10)
    assert list(tmp_path.iterdir()) == []
