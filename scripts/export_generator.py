"""Snakemake wrapper: the generator bundle that `dabfusion generate --checkpoint` reads."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
import _setup  # noqa: E402

_setup.start(snakemake)  # noqa: F821
from dabfusion.calibration import with_calibrated_guidance  # noqa: E402
from dabfusion.generate import export_bundle  # noqa: E402

sm = snakemake  # noqa: F821
scfg = with_calibrated_guidance(dict(sm.params.sampling), sm.input.get("guidance"), sm.input.unet)
export_bundle(Path(sm.output.bundle), {k: Path(sm.input[k]) for k in ("lfae", "unet", "style", "movement")},
              Path(sm.input.clips), float(sm.params.fps), int(sm.params.size), int(sm.params.n_frames),
              dict(sm.params.music), scfg)
