"""Stage 1: warping, model shapes, learning, resumable training, DDP on the CPU."""


import numpy as np
import pandas as pd
import pytest
import torch

from dabfusion.checkpoints import load_lfae
from dabfusion.metrics.image import psnr, ssim
from dabfusion.models.lfae import LatentFlowAE, LFAEConfig
from dabfusion.models.losses import flow_loss, teacher_flow
from dabfusion.models.warp import displacement_from_grid, grid_from_displacement, identity_grid, resize_grid, warp
from dabfusion.training.lfae import train_lfae

from .conftest import assert_same_training, torchrun

TINY = {"channels": 8, "res_blocks": 1, "keypoints": 4, "motion_scale": 0.5, "hourglass": [8, 16], "jacobians": True}


# --- warping ---------------------------------------------------------------------------------
def test_identity_flow_returns_z():
    z = torch.randn(2, 5, 16, 16)
    assert torch.allclose(warp(z, identity_grid(2, 16, 16)), z, atol=1e-5)


def test_translation_flow_moves_a_pattern_by_the_right_pixels():
    z = torch.zeros(1, 1, 32, 32)
    z[0, 0, 10, 12] = 1.0
    disp = torch.zeros(1, 32, 32, 2)
    disp[..., 0], disp[..., 1] = -3.0, 2.0  # every output pixel reads 3 px left of and 2 px below itself
    out = warp(z, grid_from_displacement(disp))
    y, x = np.unravel_index(int(out[0, 0].argmax()), (32, 32))
    assert (y, x) == (10 - 2, 12 + 3) and float(out.max()) == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(displacement_from_grid(grid_from_displacement(disp)), disp, atol=1e-4)


def test_occlusion_zero_zeroes_and_one_keeps():
    z = torch.randn(2, 3, 8, 8)
    g = identity_grid(2, 8, 8)
    assert warp(z, g, torch.zeros(2, 1, 8, 8)).abs().max() == 0
    assert torch.allclose(warp(z, g, torch.ones(2, 1, 8, 8)), z, atol=1e-5)


def test_a_coarse_flow_warps_a_finer_feature_map():
    """Flows live at the latent resolution; skip levels use the same flow, resized."""
    disp = torch.zeros(1, 8, 8, 2)
    disp[..., 0] = -1.0  # one latent pixel = 4 image pixels at 4x the resolution
    img = torch.zeros(1, 1, 32, 32)
    img[0, 0, :, 8] = 1.0
    out = warp(img, grid_from_displacement(disp))
    assert int(out[0, 0, 16].argmax()) == 12


def test_a_coarse_identity_grid_keeps_every_pixel_even_at_the_borders():
    """Resizing resamples the displacement, so the border pixels still read from themselves."""
    img = torch.rand(1, 3, 64, 64)
    for mode in ("bilinear", "bicubic"):
        assert torch.allclose(warp(img, identity_grid(1, 16, 16), mode=mode), img, atol=1e-5)
    disp = torch.zeros(1, 16, 16, 2)
    disp[..., 0] = 1.0  # one latent pixel right = 4 image pixels
    fine = displacement_from_grid(resize_grid(grid_from_displacement(disp), 64, 64))
    assert torch.allclose(fine[..., 0], torch.full((1, 64, 64), 4.0), atol=1e-4)


def test_bicubic_warping_keeps_a_shifted_image_sharp():
    """Half a pixel of motion: bilinear sampling averages neighbours (a blur), bicubic much less."""
    torch.manual_seed(0)
    img = torch.rand(1, 1, 32, 32)
    disp = torch.zeros(1, 32, 32, 2)
    disp[..., 0] = 0.5
    g = grid_from_displacement(disp)
    detail = lambda x: float((x[..., 2:-2, 3:-2] - x[..., 2:-2, 2:-3]).abs().mean())  # noqa: E731
    assert detail(warp(img, g, mode="bicubic")) > 1.2 * detail(warp(img, g, mode="bilinear"))


def test_the_gated_decoder_keeps_the_warped_reference_where_it_is_visible():
    cfg = LFAEConfig(image_size=32, **{**TINY, "hourglass": tuple(TINY["hourglass"])})
    model = LatentFlowAE(cfg)
    torch.nn.init.normal_(model.decoder.out.weight)  # a decoder that paints something
    x = torch.rand(1, 3, 32, 32)
    grid = identity_grid(1, 8, 8)
    occ = torch.ones(1, 1, 8, 8)
    occ[..., :, :4] = 0.0  # left half hidden
    out = model.animate(x, grid, occ)
    assert torch.allclose(out[..., :, 20:], x[..., :, 20:], atol=1e-5)  # visible: exactly the reference
    assert (out[..., :, :12] - x[..., :, :12]).abs().mean() > 0.05  # hidden: the decoder's inpainting


# --- model -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 128])
def test_shapes(size):
    cfg = LFAEConfig(image_size=size, **{**TINY, "hourglass": tuple(TINY["hourglass"])})
    model = LatentFlowAE(cfg)
    x = torch.rand(2, 3, size, size)
    res = model(x, x.flip(-1))
    s = size // 4
    assert res["out"].shape == (2, 3, size, size)
    assert res["grid"].shape == (2, s, s, 2) and res["occlusion"].shape == (2, 1, s, s)
    assert model.encode(x)[-1].shape == (2, cfg.latent_channels, s, s)
    assert 0 <= float(res["out"].min()) and float(res["out"].max()) <= 1
    assert 0 <= float(res["occlusion"].min()) and float(res["occlusion"].max()) <= 1


def test_untrained_model_starts_as_the_reference_frame():
    """Identity motion and visible occlusion at init: the first output is close to the reference."""
    model = LatentFlowAE(LFAEConfig(image_size=64, **{**TINY, "hourglass": tuple(TINY["hourglass"])}))
    x = torch.rand(2, 3, 64, 64)
    out = model(x, x)["out"]
    assert (out - x).abs().mean() < 0.05


# --- training --------------------------------------------------------------------------------
def _train_cfg(**over):
    cfg = {"seed": 0, "device": "cpu", "precision": "fp32", "gpus": 1, "model": dict(TINY), "image_size": 32,
           "epochs": 3, "steps_per_epoch": 3, "batch_size": 4, "lr": 5e-4, "betas": [0.5, 0.999],
           "lr_milestones": [2], "max_frame_gap": 10, "w_perceptual": 1.0, "w_l1": 10.0, "w_equivariance": 1.0,
           "w_occlusion": 1.0, "w_flow": 0.0,
           "equivariance_strength": 0.05, "vgg_weights": None, "vgg_layers": 1, "vgg_scales": [1.0],
           "require_pretrained": False}
    cfg.update(over)
    return cfg


def test_overfit_on_a_few_pairs_drives_the_loss_down(tiny_clips, tmp_path):
    """A real learning test: one fixed set of pairs, many steps, loss far below its start."""
    clips = pd.read_parquet(tiny_clips)
    few = clips[clips.split == "train"].drop_duplicates("video").head(2)
    few_file = tmp_path / "few.parquet"
    few.to_parquet(few_file)
    cfg = _train_cfg(epochs=12, steps_per_epoch=10, lr=2e-3, lr_milestones=[100], max_frame_gap=2,
                     w_equivariance=0.0)
    train_lfae(cfg, few_file, tmp_path / "m", progress=False)
    hist = pd.read_csv(tmp_path / "m/loss.csv")
    assert hist.loss.iloc[-1] < 0.5 * hist.loss.iloc[0], hist.loss.tolist()


def test_the_flow_teacher_finds_a_known_shift_and_its_loss_is_zero_there():
    """A blob moved 3 px right: the teacher's backward flow reads 3 px to the left, the loss of
    the grid that says so is ~0, and the identity grid's is about the shift on the moving cells."""
    img = np.zeros((64, 64, 3), np.uint8)
    yy, xx = np.mgrid[0:64, 0:64]
    img[((yy - 32) ** 2 + (xx - 28) ** 2) < 100] = 200
    moved = np.roll(img, 3, axis=1)
    flow = teacher_flow(img, moved, 16)  # dri -> ref
    centre = flow[6:10, 6:10]
    assert np.allclose(centre[..., 0], -3, atol=0.6) and np.allclose(centre[..., 1], 0, atol=0.6), centre
    teacher = torch.from_numpy(flow)[None]
    grid = grid_from_displacement(teacher / 4.0)  # latent cells are 4 px of the 64-px frame
    assert float(flow_loss(grid, teacher, 64)) < 1e-5
    assert float(flow_loss(identity_grid(1, 16, 16), teacher, 64)) > 0.1


def test_training_with_the_flow_teacher_logs_its_loss(tiny_clips, tmp_path):
    train_lfae(_train_cfg(w_flow=0.1, epochs=1, lr_milestones=[5]), tiny_clips, tmp_path / "m", progress=False)
    hist = pd.read_csv(tmp_path / "m/loss.csv")
    assert hist.flow.iloc[0] > 0


def test_resume_equals_uninterrupted(tiny_clips, tmp_path):
    cfg = _train_cfg()
    train_lfae(cfg, tiny_clips, tmp_path / "straight", progress=False)
    train_lfae(cfg, tiny_clips, tmp_path / "killed", stop_after_epochs=1, progress=False)  # "killed" after epoch 1
    assert not (tmp_path / "killed/model.safetensors").exists() and (tmp_path / "killed/checkpoint.pt").exists()
    train_lfae(cfg, tiny_clips, tmp_path / "killed", progress=False)  # restarted: resumes at epoch 2
    a = load_lfae(tmp_path / "straight/model.safetensors").state_dict()
    b = load_lfae(tmp_path / "killed/model.safetensors").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "straight/loss.csv").drop(columns="seconds"),
                                  pd.read_csv(tmp_path / "killed/loss.csv").drop(columns="seconds"))


def test_checkpoint_rebuilds_its_model_alone(tiny_clips, tmp_path):
    train_lfae(_train_cfg(epochs=1, steps_per_epoch=1), tiny_clips, tmp_path, progress=False)
    model = load_lfae(tmp_path / "model.safetensors")
    assert model.cfg.image_size == 32 and model.cfg.keypoints == 4
    x = torch.rand(1, 3, 32, 32)
    assert model(x, x)["out"].shape == (1, 3, 32, 32)


@pytest.mark.slow
def test_ddp_on_cpu_with_gloo_matches_one_process(tiny_clips, tmp_path):
    """torchrun, two CPU processes with half the batch each: the loss curve and weights of one
    process with the whole batch; rank 0 alone writes the model."""
    import json

    cfg = _train_cfg(epochs=2, steps_per_epoch=2)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    res = torchrun("dabfusion.training.lfae", ["--config-json", str(tmp_path / "cfg.json"), "--clips", str(tiny_clips),
                                               "--out", str(tmp_path / "ddp")])
    assert res.returncode == 0, res.stderr[-3000:]
    train_lfae(cfg, tiny_clips, tmp_path / "one", progress=False)
    print("stage 1, 2 processes vs 1:", assert_same_training(tmp_path / "one", tmp_path / "ddp"))
    with pytest.raises(ValueError, match="batch_size 3 does not divide among 2 processes"):
        from dabfusion.training.runtime import Runtime

        Runtime(torch.device("cpu"), "fp32", rank=0, world=2).shard(3)


# --- metrics used by the evaluation -----------------------------------------------------------
def test_psnr_and_ssim_match_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 40, 48))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    ta, tb = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    for i in range(2):
        ref_p = peak_signal_noise_ratio(a[i], b[i].astype(np.float32).astype(np.float64), data_range=1.0)
        assert float(psnr(ta, tb)[i]) == pytest.approx(ref_p, abs=1e-3)
        ref_s = structural_similarity(a[i].transpose(1, 2, 0),
                                      b[i].astype(np.float32).astype(np.float64).transpose(1, 2, 0),
                                      gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
                                      channel_axis=-1)
        assert float(ssim(ta, tb)[i]) == pytest.approx(ref_s, abs=1e-4)
    assert float(psnr(ta, ta)[0]) == 100.0


def test_bf16_autocast_path_runs(tiny_clips, tmp_path):
    """The GPU preset trains under bf16 autocast; the same code path runs on the CPU."""
    train_lfae(_train_cfg(epochs=1, steps_per_epoch=2, precision="bf16"), tiny_clips, tmp_path, progress=False)
    hist = pd.read_csv(tmp_path / "loss.csv")
    assert np.isfinite(hist.loss).all()


def test_a_checkpoint_of_other_settings_is_not_resumed(tiny_clips, tmp_path):
    train_lfae(_train_cfg(epochs=2), tiny_clips, tmp_path, stop_after_epochs=1, progress=False)
    train_lfae(_train_cfg(epochs=2, lr=1e-3), tiny_clips, tmp_path, progress=False)  # changed: starts over
    assert (tmp_path / "checkpoint.pt.stale").exists()
    assert pd.read_csv(tmp_path / "loss.csv").epoch.tolist() == [1, 2]


def test_stage1_ceiling_scores_the_test_clips_reanimated_by_their_own_flows(tiny_clips, tmp_path):
    """An untrained stage 1 (identity motion) re-animates every test clip as its first frame held:
    its ceiling has almost none of the ground truth's motion, scored on the sampling rule's clips."""
    from dabfusion.learning_curve import stage1_ceiling
    from dabfusion.training.runtime import save_weights

    cfg = LFAEConfig(image_size=32, **{**TINY, "hourglass": tuple(TINY["hourglass"])})
    torch.manual_seed(0)
    lfae_file = tmp_path / "lfae.safetensors"
    save_weights(lfae_file, LatentFlowAE(cfg), cfg.to_dict())
    clips = pd.read_parquet(tiny_clips)
    test = clips[clips.split == "test"]
    beats = tmp_path / "beats.parquet"
    pd.DataFrame({"music_id": sorted(clips.music_id.unique()),
                  "beats": [np.arange(0.0, 30.0, 0.5)] * clips.music_id.nunique()}).to_parquet(beats)
    out = tmp_path / "report" / "stage1_ceiling.csv"
    table = stage1_ceiling(lfae_file, tiny_clips, beats, {"max_clips": 3, "seed": 0}, out)
    row = pd.read_csv(out).iloc[0]
    assert len(table) == 1 and row["method"] == "stage-1 reconstruction"
    assert row.clips == min(3, len(test))
    assert 0 <= row.motion_vs_gt < 0.2
    assert 0 <= row.mm_align <= 1 and 0 <= row.mm_align_shifted <= 1
    # the ratio is over real motion: the same clips as their own videos score 1
    from dabfusion.clips import select_clips
    from dabfusion.frames import load_clip
    from dabfusion.learning_curve import beat_motion_scores
    from dabfusion.music.features import with_window_ids

    chosen = select_clips(with_window_ids(test), 3, 0)
    gt = [load_clip(c.frames_file, c.start_frame, c.n_frames) for c in chosen.itertuples()]
    by_music = pd.read_parquet(beats).set_index("music_id")["beats"]
    assert beat_motion_scores(gt, chosen, lambda m: by_music[m])["motion_vs_gt"] == pytest.approx(1.0)
