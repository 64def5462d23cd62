"""Snakemake wrapper for every AIST++ download rule (the rule's name picks the step)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion import aistpp  # noqa: E402

sm = snakemake  # noqa: F821
acfg = sm.params.aistpp
root = Path(sm.config["data_dir"])
step = sm.rule
if step != "aistpp_manifest":
    aistpp.require_terms(acfg)
if step == "download_annotations":
    aistpp.fetch_annotations(acfg, root, Path(sm.output.report))
elif step == "download_video_list":
    aistpp.build_video_list(acfg, root)
elif step == "download_videos":
    aistpp.fetch_videos(acfg, root, Path(sm.output.report))
elif step == "download_music":
    aistpp.fetch_music(acfg, root, Path(sm.output.report))
elif step == "aistpp_manifest":
    aistpp.write_manifest(acfg, root)
else:
    raise ValueError(f"unknown step {step}")
