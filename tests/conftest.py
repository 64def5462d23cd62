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


def torchrun(module: str, args: list[str], nproc: int = 2):
    """``torchrun --standalone --nproc_per_node=nproc -m module args`` on the CPU (gloo)."""
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                           "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def assert_same_training(one: Path, ddp: Path, rtol: float = 1e-4, atol: float = 1e-5) -> dict:
    """Two runs' loss curves agree within ``rtol``, their final weights within 1e-3 (relative L2:
    Adam turns float-rounding differences of near-zero gradients into steps of up to lr)."""
    import numpy as np
    import pandas as pd
    import torch
    from safetensors.torch import load_file

    a = pd.read_csv(one / "loss.csv").drop(columns=["seconds"])
    b = pd.read_csv(ddp / "loss.csv").drop(columns=["seconds"])
    assert list(a.columns) == list(b.columns) and len(a) == len(b) >= 2
    np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=rtol, atol=atol)
    wa, wb = load_file(str(one / "model.safetensors")), load_file(str(ddp / "model.safetensors"))
    assert wa.keys() == wb.keys()
    va = torch.cat([wa[k].float().flatten() for k in sorted(wa)])
    vb = torch.cat([wb[k].float().flatten() for k in sorted(wa)])
    weights = float((va - vb).norm() / va.norm())
    assert weights < 1e-3, f"weights differ by {weights:.2e} (relative L2)"
    loss = [c for c in a.columns if c not in ("epoch", "lr")]
    rel = np.abs(b[loss].to_numpy() - a[loss].to_numpy()) / np.abs(a[loss].to_numpy()).clip(1e-12)
    return {"loss_rel": float(rel.max()), "weights_rel_l2": weights, "weights_max_abs": float((va - vb).abs().max())}
