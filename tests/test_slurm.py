"""The smoke pipeline submitted through profiles/slurm to a real one-node SLURM cluster
(tools/slurm-cluster.sh: slurmctld, slurmd and munged on this machine) gives the table of a
local run, and every job went through SLURM."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from .conftest import ROOT

TARGET = "table2.csv"  # per camera: 16 jobs, from the synthetic dataset to the table


@pytest.fixture(scope="module")
def slurm_cluster():
    if shutil.which("sbatch") is None and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.skip("SLURM is not installed and cannot be (not root, or no apt-get): this machine cannot run "
                    "a SLURM cluster; CI runs as root and installs slurm-wlm and munge")
    was_up = subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True).returncode == 0
    res = subprocess.run(["bash", str(ROOT / "tools/slurm-cluster.sh"), "start"], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"could not start the test cluster:\n{res.stdout}\n{res.stderr}"
    yield res.stdout.strip()
    if not was_up:  # leave the machine as it was
        subprocess.run(["bash", str(ROOT / "tools/slurm-cluster.sh"), "stop"], capture_output=True, timeout=60)


def snakemake(args: list[str], out: Path, timeout: int = 1800):
    cmd = [sys.executable, "-m", "snakemake", f"{out}/results/{TARGET}", "--configfile", "presets/smoke.yaml",
           "--config", f"data_dir={out}/data", f"results_dir={out}/results",
           *args]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-4000:]
    return time.perf_counter() - t0, res


def finished_slurm_jobs() -> int:
    """SLURM jobs that ended with exit status 0, from slurmctld's log (tools/slurm-cluster.sh)."""
    log = Path("/var/log/slurm/slurmctld.log")
    return len(re.findall(r"_job_complete: JobId=\d+ WEXITSTATUS 0", log.read_text())) if log.exists() else 0


@pytest.mark.slow
def test_smoke_table_through_slurm_equals_a_local_run(slurm_cluster, tmp_path):
    before = finished_slurm_jobs()
    # no accounting database on the test cluster: sacct exists but knows no jobs, so ask squeue
    slurm_s, res = snakemake(["--profile", "profiles/slurm", "--slurm-status-command", "squeue",
                              "--slurm-init-seconds-before-status-checks", "2",
                              "--slurm-logdir", str(tmp_path / "slurm_logs"), "--jobs", "4"], tmp_path / "slurm")
    jobs = int(re.search(r"(\d+) of \1 steps \(100%\) done", res.stderr).group(1))
    # every job was a SLURM job: it ended in slurmctld's log and left a SLURM log
    assert finished_slurm_jobs() - before >= jobs
    assert len(list((tmp_path / "slurm_logs").rglob("*.log"))) >= jobs
    assert "sbatch" in res.stderr or "SLURM" in res.stderr
    local_s, _ = snakemake(["--cores", "2"], tmp_path / "local")
    slurm_table = pd.read_csv(tmp_path / "slurm/results" / TARGET)
    local_table = pd.read_csv(tmp_path / "local/results" / TARGET)
    pd.testing.assert_frame_equal(slurm_table, local_table, check_exact=False, rtol=1e-6)
    print(f"smoke {TARGET}: {jobs} jobs, through SLURM {slurm_s:.0f} s, local --cores 2 {local_s:.0f} s")
