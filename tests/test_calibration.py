"""The guidance scale chosen per model on training clips (dabfusion/calibration.py)."""

import json

import pandas as pd
import pytest

from dabfusion.calibration import calibration_clips, pick_scale, with_calibrated_guidance, write_calibration
from dabfusion.io import DataError, file_sha256


def test_pick_scale_interpolates_between_the_scales_around_the_target():
    # finding 18's seed 0 on the bench: 0.639, 0.731, 0.884, 1.041 at 1-4 -> between 3 and 4
    g = pick_scale([1.0, 2.0, 3.0, 4.0], [0.639, 0.731, 0.884, 1.041], 1.0)
    assert g == pytest.approx(3.0 + (1.0 - 0.884) / (1.041 - 0.884))
    assert pick_scale([1.0, 2.0], [0.5, 1.0], 1.0) == 2.0  # reached exactly


def test_pick_scale_keeps_to_the_measured_range():
    assert pick_scale([1.0, 2.0, 3.0], [1.2, 1.4, 1.6], 1.0) == 1.0  # already moves enough unguided
    assert pick_scale([1.0, 2.0, 3.0], [0.3, 0.4, 0.5], 1.0) == 3.0  # never reaches it: the largest tried
    with pytest.raises(ValueError):
        pick_scale([1.0, 2.0], [0.5], 1.0)


def test_calibration_never_uses_a_test_clip():
    clips = pd.DataFrame({"clip_id": [f"c{i}" for i in range(12)], "split": ["train", "test"] * 6,
                          "camera": ["c01", "c02", "c03"] * 4, "genre": ["BR"] * 12,
                          "music_id": ["m"] * 12, "start_frame": list(range(12)), "n_frames": [16] * 12,
                          "fps": [15.0] * 12})
    picked = calibration_clips(clips, 4, 0)
    assert len(picked) == 4 and set(picked.clip_id) <= set(clips.clip_id[clips.split == "train"])


def test_calibrated_guidance_belongs_to_its_model_and_to_what_it_guides_on(tmp_path):
    import torch

    from dabfusion.checkpoints import write_safetensors_atomic

    model, other = tmp_path / "model.safetensors", tmp_path / "other.safetensors"
    meta = {"beat": "true", "p_drop_beats": "0.2"}  # JSON values, as training writes them
    write_safetensors_atomic(model, {"w": torch.zeros(2)}, meta)
    write_safetensors_atomic(other, {"w": torch.ones(2)}, meta)
    out = tmp_path / "guidance.json"
    write_calibration(out, model, {"guidance": 3.7, "scales": [1.0], "motion_ratio": [1.1]})
    scfg = {"guidance": 3.0, "steps": 50}
    assert with_calibrated_guidance(scfg, out, model) == {"guidance": 3.7, "steps": 50}
    assert with_calibrated_guidance(scfg, None, model) is scfg  # calibration off: the config's scale
    with pytest.raises(DataError, match="another model"):
        with_calibrated_guidance(scfg, out, other)
    assert json.loads(out.read_text())["model_sha256"] == file_sha256(model)
    # a scale found guiding on the beats is not one for the whole music, nor the other way round
    write_calibration(out, model, {"guidance": 6.5, "guide": "beats", "scales": [1.0], "motion_ratio": [1.1]})
    assert with_calibrated_guidance({**scfg, "guide": "beats"}, out, model)["guidance"] == 6.5
    with pytest.raises(DataError, match="guiding on the beats, this sampling guides on the music"):
        with_calibrated_guidance(scfg, out, model)


def test_the_summary_shows_each_calibration_from_its_file(tmp_path):
    from dabfusion.summary import _guidance, unmatched_figures

    files = []
    for variant, ratios, guide in (("base", [0.639, 0.731, 0.884, 1.041], "beats"),
                                   ("nobeat", [0.41, 0.52, 0.58], "music")):
        f = tmp_path / f"models/diffusion/{variant}/guidance.json"
        f.parent.mkdir(parents=True)
        scales = [1.0, 2.0, 3.0, 4.0][:len(ratios)]
        f.write_text(json.dumps({"guidance": pick_scale(scales, ratios, 1.0), "target_motion": 1.0, "scales": scales,
                                 "motion_ratio": ratios, "clips": 24, "guide": guide}))
        files.append(f)
    text = "\n".join(_guidance(tmp_path, [str(f.relative_to(tmp_path)) for f in files]))
    base, nobeat = text.split("- nobeat")
    assert "- base: 3.74 on the beats (" in base and "1.041 at 4" in base and "no scale tried reaches it" not in base
    assert nobeat.startswith(": 3.00 on the music (") and "no scale tried reaches it" in nobeat
    assert unmatched_figures(text, files) == []
    assert unmatched_figures(text.replace("3.74", "3.75"), files) == ["3.75"]  # a figure no file holds
