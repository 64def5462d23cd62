#!/usr/bin/env bash
# Run by Snakemake once after creating envs/music.yaml's environment: laion-clap without its
# numpy<2 pin (its import-time dependencies are in the yaml).
set -euo pipefail
python -m pip install --no-deps laion-clap==1.1.7
