import os
from pathlib import Path

import pytest

from dabfusion.config import validate_config

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Small but covering: four genres (House's own tempo grid, Ballet Jazz's two-beat keys),
# both situations, two dancers, two train/test tracks per genre, three cameras.
TEST_SYNTH = {
    "genres": ["BR", "HO", "JB", "KR"],
    "tracks_per_genre": 2,
    "dancers_per_genre": 2,
    "cameras": ["c01", "c02", "c09"],
    "seconds": {"sBM": 4.0, "sFM": 5.0},
    "fps": 15,
    "width": 96,
    "height": 64,
    "ignored_sequences": 2,
}


@pytest.fixture(scope="session")
def synth_cfg() -> dict:
    return validate_config({"synthetic": TEST_SYNTH})["synthetic"]


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory, synth_cfg) -> Path:
    from dabfusion.synth.dataset import generate

    root = tmp_path_factory.mktemp("synthetic")
    generate(synth_cfg, root, workers=2, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_clips(synth_root, tmp_path_factory) -> Path:
    """32-px frames at 15 fps, processed music and an index of 8-frame clips (stride 8)."""
    from dabfusion.clips import build_clip_index, extract_shard, prepare_music

    proc = tmp_path_factory.mktemp("tiny_processed")
    ecfg = {"size": 32, "fps": 15, "aspect": "crop", "on_bad_video": "fail"}
    extract_shard(synth_root, proc, 0, 1, ecfg, proc / "shards/frames_0.csv")
    prepare_music(synth_root, proc, 22050, proc / "music.csv")
    build_clip_index(synth_root, [proc / "shards/frames_0.csv"], proc / "music.csv", ecfg,
                     {"length": 8, "stride": 8}, proc, proc / "clips.parquet", proc / "rejects.csv")
    return proc / "clips.parquet"
