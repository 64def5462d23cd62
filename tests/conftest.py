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
