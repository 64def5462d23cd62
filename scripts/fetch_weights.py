"""Snakemake wrapper: download one pretrained checkpoint (needs internet; URLs from config)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.download import DownloadError, Fetch, Policy, fetch  # noqa: E402

sm = snakemake  # noqa: F821
d = sm.params.download
dest = Path(sm.output[0])
res = fetch(Fetch(sm.params.source["url"], dest, sm.params.source["size"]),
            Policy(retries=d["retries"], backoff=d["backoff_seconds"], timeout=d["timeout_seconds"]))
if not res.ok:
    raise DownloadError(sm.params.source["url"],
                        f"{res.error}\n  could not fetch {dest}. On a machine with internet run "
                        f"'snakemake --cores 1 {dest}', or copy the checkpoint to {dest} by hand.")
