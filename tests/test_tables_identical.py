"""The tables from one set of scores are the same files before and after a change of the table code.

tests/data/smoke_tables holds a smoke run's scores and the tables commit f9d3d02 wrote from
them (before the table specs moved to ``dabfusion.plan``; its SOURCE.md says how it was made).
Every table is rebuilt here from those scores, with the current code and the run's paths from
the plan, and compared file by file.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from dabfusion.plan import TABLES, Methods, Paths, table_name
from dabfusion.tables import conditioning_flags, seed_table, write_table

FIXTURE = Path(__file__).parent / "data" / "smoke_tables"
# the smoke preset's methods: its variants (base_seed1 repeats base) and no external videos
SMOKE = Methods(variants=("base", "long", "nobeat", "globalbeat", "base_seed1"))


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tables")
    shutil.copytree(FIXTURE / "results" / "eval", root / "results" / "eval")
    shutil.copytree(FIXTURE / "results" / "samples", root / "results" / "samples")
    paths = Paths(data=str(FIXTURE), results=str(root / "results"))
    flags = conditioning_flags(Path(paths.music_embedding(16)))
    for k in SMOKE.tables():
        methods = SMOKE.for_table(TABLES[k])
        write_table(k, {m: Path(paths.scores(m)) for m in methods}, {m: Path(paths.samples(m)) for m in methods},
                    Path(paths.table(k)), "synthetic", flags)
    seeds = ("gt", "static", "retrieval", "base", "base_seed1")
    seed_table({"base": {"base": 0, "base_seed1": 1}}, {m: Path(paths.scores(m)) for m in seeds},
               Path(paths.result("seeds.csv")), "synthetic")
    return root / "results"


def test_the_smoke_run_has_every_table():
    assert SMOKE.tables() == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("name", [table_name(k, ext) for k in TABLES for ext in ("md", "json")] + ["seeds.md"])
def test_table_file_identical(rebuilt, name):
    before = (FIXTURE / "results" / name).read_text()
    after = (rebuilt / name).read_text()
    assert after == before, f"{name} differs from the fixture written from the same scores (its SOURCE.md)"


@pytest.mark.parametrize("name", [table_name(k) for k in TABLES] + ["seeds.csv"])
def test_table_csv_identical(rebuilt, name):
    """Same columns, rows and labels; numbers equal to 1e-6 (FVD's matrix square root differs in
    the 9th digit between BLAS thread counts; the markdown's 4 digits are compared exactly above)."""
    before, after = pd.read_csv(FIXTURE / "results" / name), pd.read_csv(rebuilt / name)
    assert list(after.columns) == list(before.columns)
    pd.testing.assert_frame_equal(after, before, check_exact=False, rtol=1e-6)
