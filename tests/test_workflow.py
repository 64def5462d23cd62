"""The Snakemake workflow: dry runs, lint, config validation at DAG build, a real smoke run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run(args, cwd=ROOT, timeout=1200):  # a smoke run takes minutes, more on a loaded machine
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


def test_cluster_block_sets_each_rules_slurm_resources(tmp_path):
    """config cluster: partition, account, GPU model and per-rule size reach the jobs' resources;
    GPU rules ask for their GPUs on the GPU partition; a misspelt rule name is an error."""
    cluster = ('cluster={"partition": "cpu", "gpu_partition": "gpu", "account": "lab", "gpu_model": "a100", '
               '"rules": {"train_lfae": {"runtime": 600}}}')
    res = run([f"{tmp_path}/results/models/lfae/model.safetensors", "-n", "--cores", "2", "--forceall",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results", cluster,
               'lfae={"device": "cuda", "gpus": 4}'])
    assert res.returncode == 0, res.stderr
    jobs = {}
    for block in res.stdout.split("\nrule ")[1:]:
        name = block.split(":")[0]
        jobs[name] = next((line for line in block.splitlines() if "resources:" in line), "")
    lfae = jobs["train_lfae"]
    for want in ("slurm_partition=gpu", "slurm_account=lab", "gpu=4", "gpu_model=a100", "runtime=600",
                 "mem_mb=4000"):  # the rule's runtime given, its memory back to the default
        assert want in lfae, (want, lfae)
    frames = jobs["extract_frames"]
    assert "slurm_partition=cpu" in frames and "gpu=0" in frames and "gpu_model" not in frames
    assert "mem_mb=4000" in frames and "runtime=30" in frames
    res = run(["-n", "--cores", "1", "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results",
               'cluster={"rules": {"train_lfea": {"runtime": 5}}}'])
    assert res.returncode != 0 and "cluster.rules: no rule named train_lfea" in res.stdout + res.stderr


def test_table2_builds_only_what_it_needs(tmp_path):
    """results/table2.csv: the base variant and its scores; no ablation variant, no baseline."""
    res = run([f"{tmp_path}/results/table2.csv", "-n", "--cores", "1", "--quiet", "rules",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert jobs["train_diffusion"] == 1 and jobs["sample_videos"] == 1 and jobs["score_videos"] == 1
    assert jobs["make_table"] == 1 and "baseline_videos" not in jobs


def test_default_target_ends_in_all_six_tables(tmp_path):
    res = run(["-n", "--cores", "1", "--quiet", "rules",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    out = res.stdout + res.stderr
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}
    # gt, base, long, nobeat, globalbeat, static, retrieval
    assert jobs["make_table"] == 6 and jobs["score_videos"] == 7 and jobs["baseline_videos"] == 2
    assert jobs["runtime_table"] == 1 and jobs["comparison_videos"] == 1 and jobs["stage1_ceiling"] == 1
    assert "calibrate_guidance" not in jobs  # off in the default: one guidance for every model


def test_bench_preset_trains_longer_and_draws_the_learning_curve(tmp_path):
    res = run(["-n", "--cores", "1", "--quiet", "rules", "--configfile", "presets/bench.yaml",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert jobs["learning_curve"] == 1 and jobs["train_diffusion"] == 6  # base three times: its seed spread
    assert jobs["seed_table"] == 1 and jobs["summary"] == 1
    assert jobs["calibrate_guidance"] == 6  # every model its own guidance (finding 18)


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
    for variant, frames in (("base", 16), ("long", 32), ("nobeat", 16), ("globalbeat", 16)):
        samples = pd.read_csv(out / f"samples/{variant}/samples.csv")
        assert len(samples) == 4 and (samples.n_frames == frames).all() and samples.camera.nunique() == 2
        assert all(Path(p).stat().st_size > 0 for p in samples.generated_video)
        assert (out / f"benchmarks/train_diffusion_{variant}.tsv").exists()
    # the tables: every one, with its sidecar saying what was random
    t1 = pd.read_csv(out / "table1.csv")
    assert list(t1.method) == ["base", "static", "retrieval"] and t1.fvd.notna().all()
    assert t1.synthetic_data.all() and t1.random_init.str.contains("i3d").all()
    t2 = pd.read_csv(out / "table2.csv")
    assert list(t2.camera) == ["C01", "C09", "all"] and list(t2.videos) == [2, 2, 4]
    t3 = pd.read_csv(out / "table3.csv")
    assert t3.model.iloc[0] == "Ground Truth"
    assert t3[["cs", "mm_align", "mm_align_shifted", "av_align"]].notna().all().all()
    assert set(pd.read_csv(out / "table4.csv").dance_style) <= {"Break", "House", "Ballet Jazz"}
    assert list(pd.read_csv(out / "table5.csv").frames) == [16, 32]
    t6 = pd.read_csv(out / "table6.csv")
    assert list(t6.beat) == ["no", "yes", "yes"] and t6.mm_align_minus_nobeat.iloc[0] == 0.0
    assert (t6.ci95_low <= t6.mm_align_minus_nobeat).all() and (t6.mm_align_minus_nobeat <= t6.ci95_high).all()
    # the learning curve: a snapshot after epoch 1 and the final model, each sampled and scored
    curve = pd.read_csv(out / "report/learning_curve.csv")
    assert list(curve.epoch) == [1, 2] and list(curve.steps) == [2, 4] and (curve.clips == 4).all()
    assert curve[["mm_align", "mm_align_shifted", "motion_vs_gt", "fvd"]].notna().all().all()
    assert (out / "report/learning_curve.png").stat().st_size > 1000
    for k in range(1, 7):
        meta = json.loads((out / f"table{k}.json").read_text())
        assert meta["pretrained"]["i3d_pretrained"] is False and meta["source"] == "synthetic"
        assert "NOT comparable" in (out / f"table{k}.md").read_text()
        assert (out / f"table{k}.png").stat().st_size > 1000
    assert len(list((out / "report/side_by_side").glob("*.mp4"))) == 4
    runtimes = pd.read_csv(out / "runtimes.csv")
    assert {"score_videos_gt", "train_diffusion_base", "synthesize_dataset"} <= set(runtimes.job)
    # a repeat with another seed: its own model and noise, and the spread in seeds.csv
    seeds = pd.read_csv(out / "seeds.csv")
    runs = seeds[seeds.setting == "base"].set_index("method")
    assert list(runs.index) == ["base", "base_seed1", "mean", "min", "max"] and list(runs.seed.iloc[:2]) == [0, 1]
    assert runs.loc["base", "mm_align"] == pytest.approx(t3.set_index("method").loc["base", "mm_align"])
    assert not pd.read_csv(out / "samples/base/samples.csv").seed.isin(
        pd.read_csv(out / "samples/base_seed1/samples.csv").seed).any()
    # Figure 6 made again with the repeat's stage 2: its unseen dancers' motion beside the base's
    repeat = pd.read_csv(out / "figure6/seeds/base_seed1/figure6.csv")
    assert len(repeat) == 3 and all(Path(v).stat().st_size > 0 for v in repeat.video)
    assert runs.loc["base_seed1", "figure6_motion"] == pytest.approx(repeat.motion_vs_training.mean())
    # the summary: figures read from the tables, with the chance control
    summary = (out / "summary.md").read_text()
    base = t3.set_index("method").loc["base"]
    assert f"{base.mm_align:.3f}" in summary and f"{base.mm_align_shifted:.3f}" in summary
    # every figure of the summary and of the README's block is one of the run's results files
    from dabfusion.summary import unmatched_figures

    # stage 1's ceiling: the same test clips re-animated with their own flows, in the summary
    ceiling = pd.read_csv(out / "report/stage1_ceiling.csv").iloc[0]
    assert ceiling.clips == len(pd.read_csv(out / "samples/base/samples.csv")) and ceiling.motion_vs_gt > 0
    assert f"motion {ceiling.motion_vs_gt:.3f} of the ground truth's" in summary
    # each model samples at the guidance calibrated on its training clips: the videos, the bundle, the summary
    from dabfusion.calibration import pick_scale
    from dabfusion.io import file_sha256

    calibrated = sorted((out / "models/diffusion").glob("*/guidance.json"))
    assert {p.parent.name for p in calibrated} == {"base", "base_seed1", "long", "nobeat", "globalbeat"}
    for p in calibrated:
        g = json.loads(p.read_text())
        assert g["guidance"] == pick_scale(g["scales"], g["motion_ratio"], g["target_motion"])
        assert g["model_sha256"] == file_sha256(out / f"models/diffusion/{p.parent.name}/model.safetensors")
        samples = pd.read_csv(out / f"samples/{p.parent.name}/samples.csv")
        assert (samples.guidance == g["guidance"]).all()
        # guided on the beats alone (sampling.guide: beats); the model without beats on its music
        assert (samples.guide == ("music" if p.parent.name == "nobeat" else "beats")).all()
    exported = json.loads((out / "generator/generator.json").read_text())["sampling"]["guidance"]
    assert exported == json.loads((out / "models/diffusion/base/guidance.json").read_text())["guidance"]
    assert "Guidance calibrated per model" in summary and "- nobeat: " in summary
    files = [*out.glob("*.csv"), out / "figure6/figure6.csv", out / "report/learning_curve.csv",
             out / "lfae/reconstruction.csv", out / "report/stage1_ceiling.csv", *calibrated]
    readme = subprocess.run([sys.executable, str(ROOT / "tools/readme-figures.py"), str(out)], check=True,
                            capture_output=True, text=True).stdout
    assert "Wall time of the benchmarked jobs" in summary and "Benchmarked jobs spanned" in readme
    assert unmatched_figures(summary, files) == [] and unmatched_figures(readme, files) == []
    # `make docs` copies it whole (headings one level down), never a figure of its own
    page = tmp_path / "results.md"
    subprocess.run([sys.executable, str(ROOT / "tools/docs-results.py"), str(out), "--out", str(page)], check=True,
                   capture_output=True)
    copied = page.read_text()
    body = [line for line in summary.splitlines() if line and not line.startswith("#")]
    assert all(line in copied for line in body) and "## Summary of the run" in copied
    assert "chance control" in summary and "seeds, mean" in summary
    assert (tmp_path / "img/figure6.png").read_bytes() == (out / "figure6/figure6.png").read_bytes()
    # nothing to do on a second run
    again = run(["-n", "--cores", "2", "--configfile", "presets/smoke.yaml",
                 "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    # the self-contained report: tables, figures and videos
    report = Path(tmp_path) / "report.zip"
    res = run(["--cores", "1", "--configfile", "presets/smoke.yaml", "--report", str(report),
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    assert res.returncode == 0, res.stderr[-3000:]
    import zipfile

    names = zipfile.ZipFile(report).namelist()
    assert any(n.endswith("table1.png") for n in names) and any(n.endswith(".mp4") for n in names)
    # Figure 6: an unseen dancer (not in the smoke data's training dancers) to each test track
    fig6 = pd.read_csv(f"{tmp_path}/results/figure6/figure6.csv")
    assert list(fig6.dancer.unique()) == ["d06"] and sorted(fig6.track) == ["mBR0", "mHO5", "mJB5"]
    assert (fig6.frames == 30).all() and all(Path(v).stat().st_size > 0 for v in fig6.video)
    bundle = json.loads((Path(tmp_path) / "results/generator/generator.json").read_text())
    assert bundle["training_motion"] > 0 and (fig6.motion_vs_training >= 0).all()
    # each video against the training dancers of its own camera
    yardstick = fig6.camera.map(bundle["training_motion_by_camera"])
    assert (yardstick > 0).all()
    assert np.allclose(fig6.motion_vs_training * yardstick, fig6.motion_vs_all_cameras * bundle["training_motion"])
    assert any(n.endswith("figure6.png") for n in names)
    # your own dancer: the generator bundle of these checkpoints, then `dabfusion generate`
    res = run([f"{tmp_path}/results/generator", "--cores", "2", "--configfile", "presets/smoke.yaml",
               "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"])
    assert res.returncode == 0, res.stderr[-3000:]
    from dabfusion.io import write_wav
    from dabfusion.synth.music import synthesize_track

    song = synthesize_track("mHO5", 3.0, 44100, seed=7)
    write_wav(tmp_path / "song.wav", song.samples, 44100)
    person = ROOT / "tests/data/photos/full_body_stadium.jpg"  # a real photo (tests/data/photos/SOURCES.md)
    cli = [sys.executable, "-m", "dabfusion.cli", "generate", "--image", str(person),
           "--music", str(tmp_path / "song.wav"), "--checkpoint", str(tmp_path / "results/generator"),
           "--out", str(tmp_path / "dance.mp4")]
    res = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    import av

    with av.open(str(tmp_path / "dance.mp4")) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert (video.width, video.height) == (256, 256) and round(float(video.average_rate)) == 15  # --size 256
        assert frames == 45 and len(container.streams.audio) == 1  # 3 s at 15 fps, with the music
    assert "pose by MediaPipe pose" in res.stderr


@pytest.mark.slow
def test_same_commit_same_tables_after_a_kill_during_stage_2(tmp_path):
    """Two runs of the smoke Table 1 in two folders give byte-identical tables, and so does a run
    killed with SIGKILL during stage-2 training and resumed (`--unlock`, then `--rerun-incomplete`)."""
    import os
    import signal
    import time

    def args(folder):  # three stage-2 epochs, so a kill can land between two checkpoints
        return [f"{folder}/results/table1.csv", "--cores", "2", "--configfile", "presets/smoke.yaml",
                "--config", f"data_dir={folder}/data", f"results_dir={folder}/results",
                "diffusion={epochs: 3, steps_per_epoch: 6}"]

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    res = run(args(clean), timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    proc = subprocess.Popen(SNAKEMAKE + args(killed), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    ckpt, model = killed / "results/models/diffusion/base/checkpoint.pt", \
        killed / "results/models/diffusion/base/model.safetensors"
    deadline = time.monotonic() + 1200
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every job it started
    proc.wait()
    assert ckpt.exists() and not model.exists(), "the kill did not land during stage-2 training"
    assert run(["--unlock", *args(killed)]).returncode == 0
    res = run(["--rerun-incomplete", *args(killed)], timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming stage 2" in (killed / "results/logs/train_diffusion_base.log").read_text()
    tables = sorted(p.name for p in (clean / "results").glob("table1.*") if p.suffix in (".csv", ".md", ".json"))
    assert "table1.csv" in tables
    for name in tables:
        assert (killed / "results" / name).read_bytes() == (clean / "results" / name).read_bytes(), name
