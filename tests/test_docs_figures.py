"""Figures in the docs come from results files: the run's summary and the README's block are
checked number by number against the tables they were written from (a smoke run's, in
tests/data/smoke_tables; the smoke test checks a fresh run's the same way)."""

import importlib.util
import shutil
from pathlib import Path

from dabfusion.summary import unmatched_figures, write_summary

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "smoke_tables" / "results"


def results_files(results: Path) -> list[Path]:
    return sorted(results.glob("*.csv"))


def readme_block(results: Path) -> str:
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "tools" / "readme-figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.block(results)


def test_summary_figures_are_in_the_results_files(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "results")
    results = tmp_path / "results"
    text = write_summary(results, results_files(results), results / "summary.md", "abc1234", {"sampling": 0},
                         "synthetic")
    assert "## Video quality" in text and "## Beat information" in text and "## Repeats with other seeds" in text
    assert unmatched_figures(text, results_files(results)) == []


def test_readme_figures_are_in_the_results_files():
    block = readme_block(FIXTURE)
    assert "FVD DabFusion" in block and "chance control" in block
    assert unmatched_figures(block, results_files(FIXTURE)) == []


def test_a_typed_or_stale_figure_is_caught(tmp_path):
    block = readme_block(FIXTURE)
    fvd = f"{__import__('pandas').read_csv(FIXTURE / 'table1.csv').fvd.iloc[0]:.3f}"
    assert fvd in block
    assert unmatched_figures(block.replace(fvd, "0.478"), results_files(FIXTURE)) == ["0.478"]
    # a figure from another run's table is not in this run's files
    other = tmp_path / "table1.csv"
    t1 = __import__("pandas").read_csv(FIXTURE / "table1.csv")
    t1.assign(fvd=t1.fvd + 0.5).to_csv(other, index=False)
    assert unmatched_figures(block, [other]) != []
