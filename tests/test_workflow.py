"""The Snakemake workflow: dry runs, lint, config validation at DAG build, a real smoke run."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run(args, cwd=ROOT, timeout=600):
    return subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_default_target_dry_runs(tmp_path):
    res = run(["-n", "--cores", "1", "--quiet", "rules",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for rule in ("synthesize_dataset", "dataset_report", "extract_frames", "prepare_music", "clip_index",
                 "music_features", "motion_features", "train_adapters", "music_embedding", "train_lfae",
                 "flow_cache", "train_diffusion", "sample_videos"):
        assert rule in out, rule
    assert "fetch_weights" not in out  # the default runs on seeded random inits


def test_aistpp_preset_fetches_weights_first(tmp_path):
    res = run(["-n", "--cores", "1", "--quiet", "rules", "--configfile", "presets/aistpp.yaml",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results",
               f"music={{weights_dir: {tmp_path}/weights, require_pretrained: true}}"])
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "fetch_weights" in out and "download_videos" in out


def test_lint_is_clean():
    res = run(["--lint"])
    assert res.returncode == 0, res.stdout + res.stderr


def test_config_typo_fails_when_the_dag_is_built():
    res = run(["-n", "--cores", "1", "--config", "sorce=synthetic"])
    assert res.returncode != 0
    assert "'sorce'" in res.stderr + res.stdout


@pytest.mark.slow
def test_smoke_run_end_to_end(tmp_path):
    """The smoke preset, run for real into a temporary folder."""
    res = run([
        "--cores", "2", "--configfile", "presets/smoke.yaml",
        "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results",
    ])
    assert res.returncode == 0, res.stderr[-3000:]
    out = Path(tmp_path) / "results"
    for name in ("dataset/stills.png", "dataset/beats.png", "dataset/checks.csv",
                 "logs/synthesize_dataset.log", "benchmarks/synthesize_dataset.tsv", "logs/clip_index_n16.log"):
        assert (out / name).stat().st_size > 0, name
    clips = pd.read_parquet(Path(tmp_path) / "data/processed/clips_n16.parquet")
    assert len(clips) > 0 and set(clips.split) == {"train", "test"}
    evaluation = pd.read_csv(out / "music/adapter_eval.csv")
    assert set(evaluation.adapter) == {"style", "movement"} and not evaluation.backbone_pretrained.any()
    assert evaluation.note.str.contains("random init").all()
    from dabfusion.music.embedding import read_vectors

    emb, schema = read_vectors(Path(tmp_path) / "data/features/music_embedding_n16.parquet")
    assert emb["e_c"].shape[1] == 512 and emb["e_w"].shape[1] == 128 and emb["e_b"].shape[1] == 16 * 6
    checks = pd.read_csv(out / "dataset/checks.csv")
    tracks = checks[checks.kind == "track"]
    assert len(tracks) == 6 and (tracks.tempo_rel_error.abs() < 0.03).all()
    assert "rendering" in (out / "logs/synthesize_dataset.log").read_text()
    # stage 2: every variant trained and sampled; the long variant on twice the frames
    for variant, frames in (("base", 16), ("long", 32), ("nobeat", 16), ("framebeat", 16)):
        samples = pd.read_csv(out / f"samples/{variant}/samples.csv")
        assert len(samples) == 4 and (samples.n_frames == frames).all() and samples.camera.nunique() == 2
        assert all(Path(p).stat().st_size > 0 for p in samples.generated_video)
        assert (out / f"benchmarks/train_diffusion_{variant}.tsv").exists()
    # nothing to do on a second run
    again = run(["-n", "--cores", "2", "--configfile", "presets/smoke.yaml",
                 "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
