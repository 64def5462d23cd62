# Shared helpers: config validation, paths, targets. No rules here.
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from dabfusion.config import validate_config  # noqa: E402

# Validate when the DAG is built: an unknown or misspelt key fails here, naming the key.
config.update(validate_config(config))

DATA = config["data_dir"]
RESULTS = config["results_dir"]
PROCESSED = f"{DATA}/processed"


wildcard_constraints:
    sequence=r"g[A-Z]{2}_s[A-Z]{2}_cAll_d\d{2}_m[A-Z]{2}\d_ch\d{2}",


def raw_manifest():
    """The file whose presence means the raw AIST++ layout under data_dir is complete."""
    return f"{DATA}/manifest.json"


def default_targets():
    targets = [f"{PROCESSED}/clips.parquet"]
    if config["source"] == "synthetic":  # checks against the generator's ground truth
        targets += [
            f"{RESULTS}/dataset/stills.png",
            f"{RESULTS}/dataset/beats.png",
            f"{RESULTS}/dataset/checks.csv",
        ]
    return targets
