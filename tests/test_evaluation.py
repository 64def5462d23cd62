"""Evaluation: per-video scoring, the tables built from it, baselines, and `dabfusion evaluate`."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dabfusion.config import validate_config
from dabfusion.io import DataError, write_video


def _fake_scores(folder: Path, method: str, rng, n=8, frames=16, shift=0.0):
    """A per_video.csv + i3d.npz + .json as score_method writes them, with known values."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = pd.DataFrame({
        "method": method, "clip_id": [f"clip{i}" for i in range(n)],
        "camera": ["c01", "c02"] * (n // 2), "genre": ["BR", "BR", "HO", "HO"] * (n // 4), "music_id": "mBR0",
        "fps": 15.0, "frames": frames, "psnr": rng.uniform(20, 30, n), "ssim": rng.uniform(0.5, 0.9, n),
        "lpips": rng.uniform(0.1, 0.3, n), "cs": rng.uniform(-0.1, 0.2, n), "kinematic_beats": 2,
        "mm_align": rng.uniform(0, 1, n), "mm_align_shifted": rng.uniform(0, 1, n), "av_align": rng.uniform(0, 0.5, n),
        "motion": rng.uniform(5, 20, n),
    })
    if method == "gt":
        rows[["psnr", "ssim", "lpips"]] = np.nan
    rows.to_csv(folder / "per_video.csv", index=False)
    gt = rng.normal(size=(n, 5))
    gen = gt if method == "gt" else gt + shift + 0.1 * rng.normal(size=(n, 5))
    np.savez(folder / "i3d.npz", generated=gen, ground_truth=gt, clip_id=rows.clip_id.to_numpy(dtype=str))
    meta = {"method": method, "videos": n, "frames": frames, "fps": 15.0, "fvd_resize": 112, "sigma_seconds": 0.05,
            "cs_frames": 4, "lpips_alexnet_pretrained": False, "i3d_pretrained": False, "clip_pretrained": False,
            "wav2clip_pretrained": False}
    (folder / "per_video.json").write_text(json.dumps(meta))
    samples = folder / "samples.csv"
    pd.DataFrame({"clip_id": rows.clip_id, "seed": np.arange(n), "sampler": "dpmpp2m", "steps": 25}).to_csv(
        samples, index=False)
    return folder / "per_video.csv", samples, rows, gt, gen


@pytest.fixture
def scored(tmp_path):
    rng = np.random.default_rng(0)
    return {m: _fake_scores(tmp_path / m, m, rng, shift=s)
            for m, s in (("gt", 0.0), ("base", 0.5), ("static", 2.0), ("retrieval", 1.0))}


def test_table1_rows_and_fvd_against_an_independent_computation(scored, tmp_path):
    from dabfusion.metrics.fvd import fvd
    from dabfusion.tables import write_table

    methods = ["base", "static", "retrieval"]
    table = write_table(1, {m: scored[m][0] for m in methods}, {m: scored[m][1] for m in methods},
                        tmp_path / "table1.csv", "synthetic", {"music_clap_pretrained": False})
    assert list(table.method) == methods
    for m in methods:
        _, _, rows, gt, gen = scored[m]
        r = table.set_index("method").loc[m]
        assert r.fvd == pytest.approx(fvd(gt, gen))
        assert r.psnr == pytest.approx(rows.psnr.mean()) and r.lpips == pytest.approx(rows.lpips.mean())
    # a bigger feature shift is a bigger FVD
    f = table.set_index("method").fvd
    assert f["base"] < f["retrieval"] < f["static"]
    meta = json.loads((tmp_path / "table1.json").read_text())
    assert meta["pretrained"]["i3d_pretrained"] is False and meta["videos"] == 8
    assert any("SYNTHETIC" in w for w in meta["warnings"]) and any("RANDOM INIT" in w for w in meta["warnings"])
    md = (tmp_path / "table1.md").read_text()
    assert "NOT comparable" in md and "fvd ↓" in md and "psnr ↑" in md
    assert (tmp_path / "table1.png").stat().st_size > 1000
    assert table.synthetic_data.all() and table.random_init.str.contains("i3d").all()


def test_table2_per_camera_and_all(scored, tmp_path):
    from dabfusion.metrics.fvd import fvd
    from dabfusion.tables import write_table

    table = write_table(2, {"base": scored["base"][0]}, {"base": scored["base"][1]}, tmp_path / "t2.csv",
                        "synthetic", {})
    assert list(table.camera) == ["C01", "C02", "all"]
    _, _, rows, gt, gen = scored["base"]
    c01 = (rows.camera == "c01").to_numpy()
    r = table.set_index("camera")
    assert r.loc["C01", "fvd"] == pytest.approx(fvd(gt[c01], gen[c01]))
    assert r.loc["C02", "ssim"] == pytest.approx(rows.ssim[~c01].mean())
    assert r.loc["all", "videos"] == 8 and r.loc["C01", "videos"] == 4


def test_tables_3_and_4_alignment_with_ground_truth(scored, tmp_path):
    from dabfusion.tables import write_table

    t3 = write_table(3, {m: scored[m][0] for m in ("gt", "base")}, {m: scored[m][1] for m in ("gt", "base")},
                     tmp_path / "t3.csv", "synthetic", {})
    assert list(t3.model) == ["Ground Truth", "DabFusion"]
    assert t3.set_index("method").loc["gt", "mm_align"] == pytest.approx(scored["gt"][2].mm_align.mean())
    # the chance control sits beside 2D-MM Align, and the markdown says what it is
    assert t3.set_index("method").loc["base", "mm_align_shifted"] == pytest.approx(
        scored["base"][2].mm_align_shifted.mean())
    assert "mm_align_shifted (chance control)" in (tmp_path / "t3.md").read_text()
    t4 = write_table(4, {m: scored[m][0] for m in ("gt", "base")}, {m: scored[m][1] for m in ("gt", "base")},
                     tmp_path / "t4.csv", "synthetic", {})
    assert set(t4.dance_style) == {"Break", "House"} and len(t4) == 4
    rows = scored["base"][2]
    got = t4[(t4.dance_style == "House") & (t4.method == "base")].av_align.item()
    assert got == pytest.approx(rows[rows.genre == "HO"].av_align.mean())


def test_table6_beat_effect_is_paired_over_clips_with_a_bootstrap_interval(tmp_path):
    from dabfusion.tables import paired_difference, write_table

    rng = np.random.default_rng(3)
    files = {m: _fake_scores(tmp_path / m, m, rng, n=40) for m in ("nobeat", "base", "framebeat")}
    # base is nobeat + 0.2 on every clip (rows in another order: pairing is by clip id), framebeat nobeat + noise
    nobeat = pd.read_csv(files["nobeat"][0])
    base = nobeat.assign(method="base", mm_align=nobeat.mm_align + 0.2).iloc[::-1]
    base.to_csv(files["base"][0], index=False)
    t6 = write_table(6, {m: f[0] for m, f in files.items()}, {m: f[1] for m, f in files.items()},
                     tmp_path / "t6.csv", "synthetic", {}).set_index("method")
    assert t6.loc["base", "mm_align_minus_nobeat"] == pytest.approx(0.2)
    assert t6.loc["base", "ci95_low"] == pytest.approx(0.2) and t6.loc["base", "ci95_high"] == pytest.approx(0.2)
    assert t6.loc["nobeat", "mm_align_minus_nobeat"] == 0.0
    fb = t6.loc["framebeat"]
    assert fb.ci95_low < fb.mm_align_minus_nobeat < fb.ci95_high and fb.ci95_low < 0 < fb.ci95_high
    diff, low, high = paired_difference(pd.read_csv(files["framebeat"][0]), nobeat, "mm_align")
    assert diff == pytest.approx(fb.mm_align_minus_nobeat) and (low, high) == pytest.approx((fb.ci95_low, fb.ci95_high))


def test_seed_table_spread_of_repeats_against_deterministic_baselines(tmp_path):
    from dabfusion.metrics.fvd import fvd
    from dabfusion.tables import seed_table

    rng = np.random.default_rng(4)
    files = {m: _fake_scores(tmp_path / m, m, rng, shift=s) for m, s in
             (("gt", 0.0), ("base", 0.3), ("base_seed1", 0.6), ("base_seed2", 0.9), ("retrieval", 1.0))}
    gt_rows = files["gt"][2]
    # one repeat moves half as much as the ground truth on every clip (rows in another order)
    half = files["base_seed1"][2].assign(motion=gt_rows.motion / 2).iloc[::-1]
    half.to_csv(files["base_seed1"][0], index=False)
    t = seed_table({"base": {"base": 0, "base_seed1": 1, "base_seed2": 2}}, {m: f[0] for m, f in files.items()},
                   tmp_path / "seeds.csv", "synthetic")
    runs = t[t.setting == "base"].set_index("method")
    assert list(runs.index) == ["base", "base_seed1", "base_seed2", "mean", "min", "max"]
    assert list(runs.seed.iloc[:3]) == [0, 1, 2]
    assert runs.loc["base_seed1", "motion_vs_gt"] == pytest.approx(0.5)
    fvds = [fvd(files[m][3], files[m][4]) for m in ("base", "base_seed1", "base_seed2")]
    assert runs.loc["base_seed2", "fvd"] == pytest.approx(fvds[2])
    assert runs.loc["mean", "fvd"] == pytest.approx(np.mean(fvds))
    assert runs.loc["max", "fvd"] == pytest.approx(max(fvds))
    assert runs.loc["min", "mm_align"] <= runs.loc["mean", "mm_align"] <= runs.loc["max", "mm_align"]
    others = t[t.setting != "base"].set_index("method")
    assert set(others.index) == {"gt", "retrieval"} and others.loc["gt", "motion_vs_gt"] == pytest.approx(1.0)
    assert "chance control" in (tmp_path / "seeds.md").read_text()
    assert "figure6_motion" not in t  # no Figure 6 given: no column


def test_seed_table_carries_figure6_of_each_repeat(tmp_path):
    from dabfusion.summary import _seeds
    from dabfusion.tables import seed_table

    rng = np.random.default_rng(5)
    files = {m: _fake_scores(tmp_path / m, m, rng, shift=s)
             for m, s in (("gt", 0.0), ("base", 0.3), ("base_seed1", 0.6))}
    figure6 = {}
    for v, motion in (("base", [0.4, 0.8]), ("base_seed1", [0.2, 0.3])):
        figure6[v] = tmp_path / f"figure6_{v}.csv"
        pd.DataFrame({"dancer": ["d06", "d12"], "motion_vs_training": motion,
                      "motion_vs_all_cameras": np.array(motion) * 0.8}).to_csv(figure6[v], index=False)
    t = seed_table({"base": {"base": 0, "base_seed1": 1}}, {m: f[0] for m, f in files.items()},
                   tmp_path / "seeds.csv", "synthetic", figure6=figure6)
    runs = t.set_index("method")
    assert runs.loc["base", "figure6_motion"] == pytest.approx(0.6)
    assert runs.loc["base_seed1", "figure6_motion"] == pytest.approx(0.25)
    assert (runs.loc["mean", "figure6_motion"], runs.loc["min", "figure6_motion"]) == pytest.approx((0.425, 0.25))
    assert pd.isna(runs.loc["gt", "figure6_motion"])
    # the yardstick of every camera's training dancers beside the video's own camera's
    assert runs.loc["base", "figure6_motion_all_cameras"] == pytest.approx(0.48)
    # the run's summary shows the spread over seeds, read from seeds.csv
    seeds = "\n".join(_seeds(tmp_path))
    assert "figure6_motion 0.425 [0.250, 0.600]" in seeds
    assert "figure6_motion_all_cameras 0.340 [0.200, 0.480]" in seeds
    assert "samples its videos with noise k, one draw each" in seeds  # what the spread is of


def test_one_video_gives_an_empty_fvd_not_nan(tmp_path):
    from dabfusion.tables import Scores

    per_video, *_ = _fake_scores(tmp_path / "one", "base", np.random.default_rng(1), n=4)
    s = Scores(per_video)
    mask = np.array([True, False, False, False])
    assert s.fvd(mask) is None and s.row(mask)["fvd"] is None


def test_unknown_table_is_refused(scored):
    from dabfusion.tables import build_rows

    with pytest.raises(ValueError, match="tables are 1-6"):
        build_rows(7, {}, {})


def test_identical_video_scores_perfect_quality_and_static_scores_worse(synth_root):
    """score_video on a real synthetic clip: itself is perfect, the first frame repeated is not."""
    import decord

    from dabfusion.beats import music_beats
    from dabfusion.evaluate import load_scorers, score_video
    from dabfusion.io import read_wav

    ecfg = validate_config({"evaluation": {"fvd_resize": 64, "cs_frames": 2}})
    sc = load_scorers(ecfg["evaluation"], ecfg["music"])
    assert not any(sc.flags.values())  # no weights here: every extractor is a flagged random init
    video = sorted((synth_root / "videos").glob("gBR_*_c01_*.mp4"))[0]
    frames = decord.VideoReader(str(video))[:].asnumpy()[:30]
    music, sr = read_wav(synth_root / "music" / f"{video.stem.split('_')[4]}.wav")
    audio = music[: int(30 / 15 * sr)]
    beats = music_beats(music, sr)[1]
    same = score_video(sc, frames, 15.0, audio, sr, beats, reference=frames)
    assert same["psnr"] == 100.0 and same["ssim"] == pytest.approx(1.0) and same["lpips"] == pytest.approx(0, abs=1e-6)
    static = score_video(sc, np.repeat(frames[:1], len(frames), 0), 15.0, audio, sr, beats, reference=frames)
    assert static["psnr"] < 60 and static["ssim"] < 1.0 and static["lpips"] > 0
    assert -1 <= same["cs"] <= 1 and 0 <= same["mm_align"] <= 1 and 0 <= same["av_align"] <= 1
    assert static["kinematic_beats"] == 0 and static["mm_align"] == 0.0  # no motion, no kinematic beats


def _pair(folder: Path, name: str, frames: np.ndarray, audio: np.ndarray, sr: int):
    write_video(folder / f"{name}.mp4", frames, 15, audio=audio, sample_rate=sr)


def test_evaluate_command_scores_folders_of_videos(tmp_path, capsys):
    """`dabfusion evaluate` on another system's videos: per-video CSV and a summary with FVD."""
    from dabfusion.cli import main

    rng = np.random.default_rng(0)
    sr = 22050
    t = np.arange(2 * sr) / sr
    audio = (np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0.9)).astype(np.float32)
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    for i in range(3):
        video = np.zeros((30, 64, 64, 3), np.uint8)
        for k in range(30):  # a square moving back and forth
            x = 10 + int(20 * abs(np.sin(k / 5 + i)))
            video[k, 20:40, x:x + 12] = 200
        _pair(ref, f"v{i}", video, audio, sr)
        _pair(gen, f"v{i}", np.clip(video.astype(int) + rng.integers(0, 30, video.shape), 0, 255).astype(np.uint8),
              audio, sr)
    out = tmp_path / "scores.csv"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("evaluation: {fvd_resize: 64, cs_frames: 2}\n")
    assert main(["evaluate", "--config", str(cfg), "--generated", str(gen), "--reference", str(ref),
                 "--out", str(out)]) == 0
    table = pd.read_csv(out)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert len(table) == 3 and set(table.video) == {"v0", "v1", "v2"}
    assert 15 < summary["psnr"] < 60 and summary["fvd"] is not None and summary["fvd"] >= 0
    assert summary["i3d_pretrained"] is False
    # a generated video without its reference is a clear error naming the file
    _pair(gen, "lonely", np.zeros((30, 64, 64, 3), np.uint8), audio, sr)
    assert main(["evaluate", "--config", str(cfg), "--generated", str(gen), "--reference", str(ref),
                 "--out", str(out)]) == 1
    assert "lonely.mp4" in capsys.readouterr().err


def test_external_videos_must_cover_every_test_clip(tmp_path):
    from dabfusion.evaluate import external_manifest

    ref = tmp_path / "samples.csv"
    pd.DataFrame({"clip_id": ["a", "b"]}).to_csv(ref, index=False)
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext/a.mp4").write_bytes(b"x")
    with pytest.raises(DataError, match="1 of 2 test clips have no video"):
        external_manifest(ref, tmp_path / "ext", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_runtime_table_sums_jobs_and_measures_the_wall_they_spanned(tmp_path):
    import os

    from dabfusion.report import runtime_table

    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for name, seconds, end in (("a", 10.0, 1000.0), ("b", 30.0, 1025.0), ("c", 5.0, 1012.0)):
        f = tmp_path / f"{name}.tsv"
        f.write_text(header + f"{seconds}\t0:00:{int(seconds):02d}\t100\t0\t0\t0\t0\t0\t50\t{seconds / 2}\n")
        os.utime(f, (end, end))
    stale = tmp_path / "stale.tsv"  # left by another run: not among the job's inputs, not read
    stale.write_text(header + "500\t0:08:20\t100\t0\t0\t0\t0\t0\t50\t1\n")
    table = runtime_table([tmp_path / f"{n}.tsv" for n in "abc"], tmp_path / "runtimes.csv").set_index("job")
    assert "stale" not in table.index
    assert list(table.index[:3]) == ["b", "a", "c"]  # slowest first
    assert table.loc["TOTAL (sum of jobs)", "seconds"] == pytest.approx(45.0)
    # a ran 990-1000, b 995-1025, c 1007-1012: the jobs spanned 990-1025
    assert table.loc["WALL (first benchmarked job start to last end)", "seconds"] == pytest.approx(35.0)
    assert table.loc["TOTAL (sum of jobs)", "cpu_seconds"] == pytest.approx(22.5)
