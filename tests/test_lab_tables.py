"""The stage-2 lab's tables land in the markdown block they are named for, and nowhere else."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "stage2_lab_table.py"


def lab_run(folder: Path, motion: float) -> Path:
    folder.mkdir(parents=True)
    figures = {"mm_align": 0.7, "mm_align_shifted": 0.01, "speed_on_off_beat": 0.5, "motion_vs_gt": motion,
               "unseen_motion_vs_gt": 0.6, "flow_on_off_beat": 0.6, "flow_speed": 0.02}
    (folder / "lab.json").write_text(json.dumps({"setting": ["sampling.steps=20"], **figures}))
    return folder


def test_a_named_block_leaves_the_earlier_tables_as_they_were(tmp_path):
    runs = [lab_run(tmp_path / f"s9_{k}", motion) for k, motion in (("a", 0.8), ("b", 1.0))]
    doc = tmp_path / "doc.md"
    old = ("<!-- stage-2 lab: begin -->\nold lab\n<!-- stage-2 lab: end -->\n"
           "<!-- stage-2 seeds: begin -->\nold seeds\n<!-- stage-2 seeds: end -->\n")
    new = ("<!-- stage-2 lab s9: begin -->\n<!-- stage-2 lab s9: end -->\ntext between\n"
           "<!-- stage-2 seeds s9: begin -->\n<!-- stage-2 seeds s9: end -->\n")
    doc.write_text(old + new)
    subprocess.run([sys.executable, str(SCRIPT), *map(str, runs), "--write", str(doc), "--block", "s9",
                    "--group", f"twenty steps={runs[0]},{runs[1]}"], check=True, capture_output=True, cwd=ROOT)
    text = doc.read_text()
    assert text.startswith(old)
    lab = text.split("<!-- stage-2 lab s9: begin -->")[1].split("<!-- stage-2 lab s9: end -->")[0]
    assert "| s9_a | sampling.steps=20 |" in lab and "| s9_b |" in lab
    seeds = text.split("<!-- stage-2 seeds s9: begin -->")[1].split("<!-- stage-2 seeds s9: end -->")[0]
    assert "| twenty steps | s9_a, s9_b | 0.700 (0.700-0.700) | 0.010 (0.010-0.010) | 0.900 (0.800-1.000) |" in seeds
    assert "text between" in text


def test_a_missing_block_is_one_line_naming_the_file(tmp_path):
    run = lab_run(tmp_path / "s9_a", 0.8)
    doc = tmp_path / "doc.md"
    doc.write_text("no markers here\n")
    res = subprocess.run([sys.executable, str(SCRIPT), str(run), "--write", str(doc), "--block", "s9"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode != 0
    begin, end = "<!-- stage-2 lab s9: begin -->", "<!-- stage-2 lab s9: end -->"
    assert res.stderr.strip() == f"{doc}: no '{begin}' ... '{end}' block to replace"
    assert doc.read_text() == "no markers here\n"


def test_figure6_sampling_table_and_bundle_settings(tmp_path):
    """figure6_sampling.py: its table names each run's noise seed and settings with the mean and
    range of its videos, in its own block; a bundle copy takes sampling keys and refuses others."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("figure6_sampling", ROOT / "benchmarks" / "figure6_sampling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "unet.safetensors").write_bytes(b"bundle's")
    (bundle / "lfae.safetensors").write_bytes(b"lfae")
    (bundle / "generator.json").write_text(json.dumps({"sampling": {"steps": 50, "guidance": 3.0}}))
    other = tmp_path / "model.safetensors"
    other.write_bytes(b"other")
    out = module.linked_bundle(bundle, tmp_path / "out" / "generator", ["steps=100"], other)
    assert json.loads((out / "generator.json").read_text())["sampling"] == {"steps": 100, "guidance": 3.0}
    assert (out / "unet.safetensors").read_bytes() == b"other" and (out / "lfae.safetensors").read_bytes() == b"lfae"
    assert json.loads((bundle / "generator.json").read_text())["sampling"]["steps"] == 50  # the bundle is untouched
    with pytest.raises(SystemExit, match="'stpes' is not a sampling key"):
        module.linked_bundle(bundle, tmp_path / "bad", ["stpes=100"], None)

    run = tmp_path / "s10_draw100"
    run.mkdir()
    (run / "settings.json").write_text(json.dumps({"bundle": "b", "seed": 100, "set": ["guidance=4.0"], "unet": None}))
    (run / "figure6.csv").write_text("dancer,motion_vs_training\nd06,0.2\nd12,0.6\n")
    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- figure6 sampling: begin -->\nold\n<!-- figure6 sampling: end -->\nafter\n")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "figure6_sampling.py"), "table", str(run),
                    "--write", str(doc)], check=True, capture_output=True, cwd=ROOT)
    text = doc.read_text()
    assert "old" not in text and text.startswith("before\n") and text.endswith("after\n")
    row = next(line for line in text.splitlines() if "s10_draw100" in line)
    assert "100" in row and "guidance=4.0" in row and "0.400 (0.200-0.600)" in row

    both = ("<!-- figure6 sampling: begin -->\nfirst\n<!-- figure6 sampling: end -->\n"
            "<!-- figure6 sampling s11: begin -->\nsecond\n<!-- figure6 sampling s11: end -->\n")
    doc.write_text(both)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "figure6_sampling.py"), "table", str(run),
                    "--write", str(doc), "--block", "s11"], check=True, capture_output=True, cwd=ROOT)
    text = doc.read_text()
    assert "first" in text and "second" not in text  # only the named block is replaced
    assert text.index("s10_draw100") > text.index("<!-- figure6 sampling s11: begin -->")


def test_truth_column_is_each_runs_flow_speed_over_the_recon_runs(tmp_path):
    """--truth: the generated flows' speed over the test clips' own stage-1 flows, per run and per group."""
    fast, slow = lab_run(tmp_path / "fast", 1.0), lab_run(tmp_path / "slow", 0.7)
    data = json.loads((slow / "lab.json").read_text())
    (slow / "lab.json").write_text(json.dumps({**data, "flow_speed": 0.01}))
    recon = tmp_path / "recon"
    recon.mkdir()
    (recon / "lab.json").write_text(json.dumps({"setting": "recon", "flow_speed": 0.01, "motion_vs_gt": 0.75}))
    res = subprocess.run([sys.executable, str(SCRIPT), str(fast), str(slow), "--truth", str(recon),
                          "--group", f"both={fast},{slow}"], check=True, capture_output=True, text=True, cwd=ROOT)
    lines = res.stdout.splitlines()
    assert lines[0].endswith("| flow_speed | flow_speed_vs_truth |")
    assert next(line for line in lines if line.startswith("| fast |")).endswith("| 0.02 | 2 |")
    assert next(line for line in lines if line.startswith("| slow |")).endswith("| 0.01 | 1 |")
    assert next(line for line in lines if line.startswith("| both |")).endswith("| 1.500 (1.000-2.000) |")
    plain = subprocess.run([sys.executable, str(SCRIPT), str(fast)], check=True, capture_output=True, text=True,
                           cwd=ROOT).stdout
    assert "flow_speed_vs_truth" not in plain


def test_a_calibrated_run_names_its_guidance(tmp_path):
    run = lab_run(tmp_path / "cal_seed1", 0.9)
    r = json.loads((run / "lab.json").read_text())
    r["calibration"] = {"guidance": 3.7412, "scales": [1.0, 2.0, 3.0, 4.0], "motion_ratio": [0.6, 0.7, 0.9, 1.04]}
    (run / "lab.json").write_text(json.dumps(r))
    res = subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "| cal_seed1 | sampling.steps=20; guidance 3.74, calibrated on training clips |" in res.stdout
