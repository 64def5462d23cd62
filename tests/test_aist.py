import pytest

from dabfusion.aist import GENRES, TEST_MUSIC, VideoName, music_bpm, split_of_music


def test_name_round_trip_and_sequence():
    n = VideoName.parse("gMH_sBM_c08_d23_mMH1_ch05")
    assert (n.genre, n.situation, n.camera, n.dancer, n.music_id, n.choreo) == (
        "MH", "sBM", "c08", "d23", "mMH1", "ch05")
    assert str(n) == "gMH_sBM_c08_d23_mMH1_ch05"
    assert n.sequence == "gMH_sBM_cAll_d23_mMH1_ch05"


@pytest.mark.parametrize("bad", ["gMH_sBM_c8_d23_mMH1_ch05", "gMH_sBM_c08_d23_mMH1", "hello.mp4"])
def test_bad_names_are_rejected(bad):
    with pytest.raises(ValueError, match="not an AIST"):
        VideoName.parse(bad)


def test_tempo_grid():
    assert [music_bpm(f"mBR{k}") for k in range(6)] == [80, 90, 100, 110, 120, 130]
    assert [music_bpm(f"mHO{k}") for k in range(6)] == [110, 115, 120, 125, 130, 135]
    with pytest.raises(ValueError):
        music_bpm("mXX0")


def test_test_music_is_one_per_genre():
    assert sorted(m[1:3] for m in TEST_MUSIC) == sorted(GENRES)
    assert split_of_music("mBR0") == "test" and split_of_music("mBR1") == "train"
