"""The stage-2 lab's tables land in the markdown block they are named for, and nowhere else."""

import json
import subprocess
import sys
from pathlib import Path

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
