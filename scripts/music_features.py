"""Snakemake wrapper: CLAP, Wav2CLIP and rhythm features of every clip's music window."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
import torch  # noqa: E402

from dabfusion.music.features import compute_music_features  # noqa: E402

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
compute_music_features(Path(sm.input.clips), Path(sm.input.music), sm.params.music,
                       Path(sm.output.windows), Path(sm.output.tracks))
