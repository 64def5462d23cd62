"""Stage 2: schedule, samplers, guidance, the 3D U-Net, learning, flow cache, resuming, sampling."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from dabfusion.diffusion import samplers, target
from dabfusion.diffusion.schedule import CosineSchedule
from dabfusion.models.unet3d import UNet3D, UNet3DConfig
from dabfusion.models.warp import identity_grid

from .conftest import assert_same_training, torchrun

TINY_UNET = {"dim": 8, "dim_mults": [1, 2], "heads": 2, "head_dim": 4}


# --- schedule --------------------------------------------------------------------------------
def test_cosine_schedule_invariants():
    s = CosineSchedule(1000)
    abar = s.alphas_cumprod
    assert len(abar) == 1000 and bool((abar[1:] < abar[:-1]).all())
    assert float(abar[0]) > 0.9999 and float(abar[-1]) < 1e-4
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 250, 500, 750):  # Nichol & Dhariwal: abar_t = f(t) / f(0) (unclipped region)
        assert float(abar[t]) == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    assert float(s.betas.max()) <= 0.999


def test_q_sample_then_predict_x0_with_the_true_noise_recovers_x0():
    s = CosineSchedule(1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 3, 5, 6, 6, generator=g) * 2 - 1
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([0, 10, 500, 990])
    xt = s.q_sample(x0, t, noise)
    assert torch.allclose(s.predict_x0(xt, t, noise), x0, atol=1e-4)
    assert torch.allclose(s.predict_eps(xt, t, x0), noise, atol=1e-3)


def test_v_and_x0_predictions_convert_back_to_the_true_noise():
    s = CosineSchedule(1000)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(3, 3, 2, 4, 4, generator=g) * 2 - 1, torch.randn(3, 3, 2, 4, 4, generator=g)
    t = torch.tensor([1, 500, 999])
    xt = s.q_sample(x0, t, noise)
    v = s.training_target("v", x0, t, noise)
    assert torch.allclose(s.eps_from_output("v", xt, t, v), noise, atol=1e-4)
    assert torch.equal(s.training_target("eps", x0, t, noise), noise)
    assert torch.equal(s.eps_from_output("eps", xt, t, noise), noise)
    assert torch.equal(s.training_target("x0", x0, t, noise), x0)
    assert torch.allclose(s.eps_from_output("x0", xt, t, x0), noise, atol=1e-3)


@pytest.mark.parametrize("name,steps", [("ddpm", 0), ("ddim", 10), ("dpmpp2m", 10)])
def test_samplers_with_an_oracle_denoiser_land_on_the_data(name, steps):
    """With the exact noise prediction for one known x0, every sampler must return that x0."""
    s = CosineSchedule(1000)
    x0 = torch.linspace(-0.8, 0.8, 2 * 3 * 4 * 4).view(2, 3, 1, 4, 4)
    eps_fn = lambda x, t: s.predict_eps(x, t, x0)  # noqa: E731
    out = samplers.sample(name, eps_fn, s, x0.shape, torch.Generator().manual_seed(1), steps)
    assert torch.allclose(out, x0, atol=2e-3), float((out - x0).abs().max())
    assert samplers.model_calls(name, s, steps) == (1000 if name == "ddpm" else 10)


def test_ddim_with_eta_zero_is_deterministic():
    s = CosineSchedule(100)
    eps_fn = lambda x, t: 0.5 * x  # noqa: E731
    run = lambda seed, eta: samplers.ddim(eps_fn, s, (2, 3, 2, 4, 4), torch.Generator().manual_seed(seed), 8, eta)  # noqa: E731
    assert torch.equal(run(0, 0.0), run(0, 0.0))
    assert not torch.equal(run(0, 0.0), run(1, 0.0))
    # eta 0: the only randomness is the start noise; eta 1 draws more noise on the way
    a = samplers.ddim(eps_fn, s, (1, 3, 2, 4, 4), torch.Generator().manual_seed(0), 8, 1.0)
    b = samplers.ddim(eps_fn, s, (1, 3, 2, 4, 4), torch.Generator().manual_seed(0), 8, 0.0)
    assert not torch.allclose(a, b)


def test_one_generator_per_row_makes_videos_independent_of_the_batch():
    s = CosineSchedule(100)
    eps_fn = lambda x, t: 0.3 * x  # noqa: E731
    gens = lambda seeds: [torch.Generator().manual_seed(k) for k in seeds]  # noqa: E731
    both = samplers.dpmpp2m(eps_fn, s, (2, 3, 2, 4, 4), gens([5, 7]), 6)
    alone = samplers.dpmpp2m(eps_fn, s, (1, 3, 2, 4, 4), gens([7]), 6)
    assert torch.allclose(both[1:], alone, atol=1e-6)


def test_dynamic_thresholding_clamps_at_the_percentile():
    x = torch.zeros(2, 1000)
    x[0] = torch.linspace(-0.5, 0.5, 1000)  # within [-1, 1]: untouched (s clamps to >= 1)
    x[1] = torch.linspace(-4.0, 4.0, 1000)
    out = samplers.dynamic_threshold(x, 0.9)
    assert torch.equal(out[0], x[0])
    s = float(torch.quantile(x[1].abs(), 0.9))
    assert s == pytest.approx(3.6, abs=0.01)
    assert float(out[1].abs().max()) == pytest.approx(1.0) and float(out[1, 500]) == pytest.approx(float(x[1, 500]) / s)


def test_guidance_scale_one_is_the_conditional_prediction():
    torch.manual_seed(0)
    cfg = UNet3DConfig(latent_channels=4, cond_dim=10, **{**TINY_UNET, "dim_mults": (1, 2)})
    net = UNet3D(cfg).eval()
    for p in net.parameters():  # zero-initialised output layers would make cond == uncond trivially
        p.data.add_(0.05 * torch.randn_like(p))
    x, t = torch.randn(2, 3, 4, 8, 8), torch.tensor([3, 600])
    z0, e = torch.randn(2, 4, 8, 8), torch.randn(2, 10)
    fn = lambda xx, tt, drop: net(xx, tt, z0.repeat(xx.shape[0] // 2, 1, 1, 1),  # noqa: E731
                                  e.repeat(xx.shape[0] // 2, 1), None, drop)
    with torch.no_grad():
        cond = net(x, t, z0, e, None, torch.zeros(2, dtype=torch.bool))
        uncond = net(x, t, z0, e, None, torch.ones(2, dtype=torch.bool))
        assert torch.equal(samplers.classifier_free(fn, 1.0)(x, t), cond)
        assert not torch.allclose(cond, uncond)
        assert torch.allclose(samplers.classifier_free(fn, 3.0)(x, t), uncond + 3 * (cond - uncond), atol=1e-5)


# --- the 3D U-Net ----------------------------------------------------------------------------
@pytest.mark.parametrize("frames", [40, 80])
def test_unet_shapes(frames):
    cfg = UNet3DConfig(latent_channels=8, cond_dim=640 + 6 * frames, frame_rhythm=True, **TINY_UNET)
    net = UNet3D(cfg)
    x = torch.randn(1, 3, frames, 8, 8)
    out = net(x, torch.tensor([10]), torch.randn(1, 8, 8, 8), torch.randn(1, cfg.cond_dim), torch.randn(1, frames, 6))
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="per-frame beats"):
        net(x, torch.tensor([10]), torch.randn(1, 8, 8, 8), torch.randn(1, cfg.cond_dim))
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, 3, frames, 7, 7), torch.tensor([1]), torch.randn(1, 8, 7, 7), torch.randn(1, cfg.cond_dim),
            torch.randn(1, frames, 6))


def test_z0_stem_equals_a_conv_over_z0_concatenated_to_every_frame():
    torch.manual_seed(0)
    net = UNet3D(UNet3DConfig(latent_channels=5, cond_dim=4, **TINY_UNET))
    x, z0 = torch.randn(2, 3, 6, 8, 8), torch.randn(2, 5, 8, 8)
    ours = net.stem_x(x) + net.stem_z(z0).unsqueeze(2)
    w = torch.cat([net.stem_x.weight, net.stem_z.weight.unsqueeze(2)], dim=1)  # (d, 3 + 5, 1, 3, 3)
    lfdm = F.conv3d(torch.cat([x, z0.unsqueeze(2).expand(-1, -1, 6, -1, -1)], 1), w, net.stem_x.bias, padding=(0, 1, 1))
    assert torch.allclose(ours, lfdm, atol=1e-5)


def test_z0_every_level_starts_as_the_plain_unet_and_then_carries_z0_to_the_coarse_levels():
    cfg = UNet3DConfig(latent_channels=4, cond_dim=8, **{**TINY_UNET, "dim_mults": (1, 2, 2)})
    torch.manual_seed(0)
    plain = UNet3D(cfg).eval()
    torch.manual_seed(0)
    every = UNet3D(UNet3DConfig(**{**cfg.to_dict(), "dim_mults": (1, 2, 2), "z0_every_level": True})).eval()
    assert len(every.z0_levels) == 3  # two coarser levels and the middle
    every.load_state_dict({**every.state_dict(), **plain.state_dict()})
    for p in plain.parameters():  # a trained-looking net, so z0's way through matters
        p.data.add_(0.05 * torch.randn_like(p))
    every.load_state_dict({**every.state_dict(), **plain.state_dict()})
    x, t, z0, e = torch.randn(1, 3, 4, 8, 8), torch.tensor([50]), torch.randn(1, 4, 8, 8), torch.randn(1, 8)
    with torch.no_grad():
        assert torch.allclose(every(x, t, z0, e), plain(x, t, z0, e), atol=1e-6)  # zero-initialised
        for m in every.z0_levels:
            m.weight.add_(0.1)
        assert not torch.allclose(every(x, t, z0, e), plain(x, t, z0, e), atol=1e-3)
        with_z = every(x, t, z0, e) - every(x, t, torch.zeros_like(z0), e)
        plain_z = plain(x, t, z0, e) - plain(x, t, torch.zeros_like(z0), e)
        assert not torch.allclose(with_z, plain_z, atol=1e-3)  # z0 now has a second way in


def test_frame_rhythm_reaches_its_own_frame_most():
    """Changing frame k's beat features changes the output at frame k more than far frames."""
    torch.manual_seed(0)
    net = UNet3D(UNet3DConfig(latent_channels=4, cond_dim=8, frame_rhythm=True, **TINY_UNET)).eval()
    for p in net.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    x, z0, e = torch.randn(1, 3, 16, 8, 8), torch.randn(1, 4, 8, 8), torch.randn(1, 8)
    beats = torch.zeros(1, 16, 6)
    bumped = beats.clone()
    bumped[0, 8] = 3.0
    with torch.no_grad():
        d = (net(x, torch.tensor([50]), z0, e, bumped)
             - net(x, torch.tensor([50]), z0, e, beats)).abs().mean((0, 1, 3, 4))
    assert int(d.argmax()) in (7, 8, 9) and float(d[8]) > 3 * float(d[0])


def test_target_encoding_round_trips():
    g = torch.Generator().manual_seed(0)
    grid = identity_grid(2, 8, 8).unsqueeze(1).repeat(1, 5, 1, 1, 1) + 0.05 * torch.randn(2, 5, 8, 8, 2, generator=g)
    occ = torch.rand(2, 5, 1, 8, 8, generator=g)
    a0 = target.encode(grid, occ, 0.1)
    assert a0.shape == (2, 3, 5, 8, 8) and float(a0[:, 2].min()) >= -1 and float(a0[:, 2].max()) <= 1
    g2, o2 = target.decode(a0, 0.1)
    assert torch.allclose(g2, grid, atol=1e-6) and torch.allclose(o2, occ, atol=1e-6)


@pytest.mark.parametrize("representation", ["flows", "velocity"])
def test_target_spaces_round_trip_and_standardize_to_unit_spread(representation):
    g = torch.Generator().manual_seed(1)
    a0 = (torch.randn(6, 3, 4, 8, 8, generator=g).cumsum(dim=2) * torch.tensor([0.2, 0.05, 0.0]).view(1, 3, 1, 1, 1)
          + 0.3)
    plain = target.TargetSpace(representation)
    assert torch.allclose(plain.to_flows(plain.to_model(a0)), a0, atol=1e-5)
    space = target.TargetSpace.fit(a0, representation, standardize=True)
    assert np.array(space.std).shape == (3, 4) and np.allclose(np.array(space.std)[2], 0.01)  # constant: floored
    a = space.to_model(a0)
    assert a[:, :2].std(dim=(0, 3, 4)).sub(1).abs().max() < 0.05 and a.mean(dim=(0, 3, 4)).abs().max() < 1e-5
    assert torch.allclose(space.to_flows(a), a0, atol=1e-5)
    assert target.TargetSpace.from_dict(space.to_dict()) == space
    assert target.TargetSpace.from_dict(None) == target.TargetSpace()
    if representation == "velocity":  # frame k of the model's space is the change from frame k - 1
        assert torch.allclose(plain.to_model(a0)[:, :, 2], a0[:, :, 2] - a0[:, :, 1])
    with pytest.raises(ValueError, match="representation"):
        target.TargetSpace("positions")


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
def test_x0_from_output_inverts_the_training_target(prediction):
    sched = CosineSchedule(1000)
    g = torch.Generator().manual_seed(2)
    x0, noise = torch.randn(3, 3, 2, 4, 4, generator=g), torch.randn(3, 3, 2, 4, 4, generator=g)
    t = torch.tensor([5, 500, 990])
    x_t = sched.q_sample(x0, t, noise)
    out = sched.training_target(prediction, x0, t, noise)
    assert torch.allclose(sched.x0_from_output(prediction, x_t, t, out), x0, atol=1e-3)


def test_velocity_loss_adds_only_the_error_of_the_frame_to_frame_change():
    from dabfusion.training.diffusion import diffusion_loss

    a0 = torch.randn(2, 3, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    batch = {"a0": a0, "z0": torch.zeros(2, 1, 4, 4), "e": torch.zeros(2, 1), "beats": None}
    sched = CosineSchedule(1000)

    def net(offset):  # an x0 "model": the truth plus an offset per frame
        return lambda x, t, z0, e, beats, drop: a0 + offset

    still = torch.full((1, 1, 4, 1, 1), 0.5)  # the same error on every frame: no velocity error
    ramp = torch.arange(4.0).view(1, 1, 4, 1, 1)  # an error that grows by 1 per frame
    loss = lambda off, w: float(diffusion_loss(net(off), sched, batch, 0.0, torch.Generator().manual_seed(1),  # noqa: E731
                                               "cpu", "x0", velocity_weight=w))
    assert loss(still, 3.0) == pytest.approx(loss(still, 0.0)) == pytest.approx(0.25)
    assert loss(ramp, 3.0) - loss(ramp, 0.0) == pytest.approx(3.0)


def test_position_loss_adds_only_the_error_of_where_the_summed_changes_end_up():
    """representation velocity: an error in one frame's change moves every later frame's flow
    (the two flow channels; the occlusion channel is left to the diffusion loss)."""
    from dabfusion.training.diffusion import diffusion_loss

    g = torch.Generator().manual_seed(0)
    flows = torch.randn(2, 3, 4, 4, 4, generator=g)
    space = target.TargetSpace("velocity")
    a0 = space.to_model(flows)
    batch = {"a0": a0, "z0": torch.zeros(2, 1, 4, 4), "e": torch.zeros(2, 1), "beats": None}
    sched = CosineSchedule(1000)
    var = flows.var(dim=(0, 2, 3, 4), keepdim=True)

    def loss(offset, w):  # an x0 "model": the true changes plus an offset per frame
        net = lambda x, t, z0, e, beats, drop: a0 + offset  # noqa: E731
        return float(diffusion_loss(net, sched, batch, 0.0, torch.Generator().manual_seed(1), "cpu", "x0",
                                    position_weight=w, space=space, flow_var=var.flatten()))

    assert loss(torch.zeros(1, 1, 4, 1, 1), 2.0) == pytest.approx(0.0, abs=1e-10)
    step = torch.zeros(1, 1, 4, 1, 1)
    step[0, 0, 1] = 0.5  # one wrong change: frames 1, 2 and 3 all end up 0.5 off
    expected = float((0.25 / var[:, :2]).mean() * 3 / 4)  # 3 of 4 frames, each flow channel over its variance
    assert loss(step, 0.0) == pytest.approx(0.25 / 4)
    assert loss(step, 2.0) - loss(step, 0.0) == pytest.approx(2.0 * expected, rel=1e-4)


def test_overfit_on_one_clip_drives_the_loss_down_and_the_sample_to_the_target():
    """A real learning test: one clip's flow volume, conditioned, learned within seconds."""
    from dabfusion.training.diffusion import diffusion_loss

    torch.manual_seed(0)
    n, s = 4, 8
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    a0 = torch.stack([0.6 * torch.sin(3 * xx + k) * torch.ones_like(yy) for k in range(n)], 0)
    a0 = torch.stack([a0, 0.5 * a0.flip(-1), -0.7 * torch.ones_like(a0)], 0).unsqueeze(0)  # (1, 3, n, s, s)
    z0 = torch.stack([xx, yy]).unsqueeze(0)  # like a real z0, it carries where things are
    batch = {"a0": a0.repeat(8, 1, 1, 1, 1), "z0": z0.repeat(8, 1, 1, 1), "e": torch.ones(8, 6), "beats": None}
    net = UNet3D(UNet3DConfig(latent_channels=2, cond_dim=6, dim=16, dim_mults=(1, 2), heads=2, head_dim=8))
    sched = CosineSchedule(1000)
    fn = lambda x, t, drop: net(x, t, z0.repeat(x.shape[0], 1, 1, 1), torch.ones(x.shape[0], 6), None, drop)  # noqa: E731

    def sample_error():
        with torch.no_grad():
            out = samplers.ddim(samplers.classifier_free(fn, 1.0), sched, (2, 3, n, s, s),
                                torch.Generator().manual_seed(3), 20, threshold=samplers.dynamic_threshold)
        return float(((out - a0) ** 2).mean())

    before = sample_error()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(300):
        loss = diffusion_loss(net, sched, batch, 0.0, g, "cpu")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-30:]) < 0.3 * np.mean(losses[:30]), (np.mean(losses[:30]), np.mean(losses[-30:]))
    net.eval()
    after = sample_error()
    assert after < 0.5 * before and after < 0.5 * float((a0**2).mean()), (before, after)


# --- flow cache, training, sampling on real (tiny) data ---------------------------------------
@pytest.fixture(scope="module")
def stage_two_data(tiny_clips, tmp_path_factory):
    """A tiny stage 1 on the tiny clip index, and a music-embedding table for its windows."""
    from dabfusion.music.embedding import embedding_schema, write_vectors
    from dabfusion.music.features import with_window_ids
    from dabfusion.training.lfae import train_lfae

    proc = tmp_path_factory.mktemp("stage2_data")
    lcfg = {"seed": 0, "device": "cpu", "precision": "fp32", "gpus": 1, "image_size": 32,
            "model": {"channels": 8, "res_blocks": 1, "keypoints": 4, "motion_scale": 0.5, "hourglass": [8, 16]},
            "epochs": 1, "steps_per_epoch": 2, "batch_size": 4, "lr": 1e-3, "betas": [0.5, 0.999], "lr_milestones": [5],
            "max_frame_gap": 4, "w_perceptual": 1.0, "w_l1": 10.0, "w_equivariance": 0.0, "w_occlusion": 1.0,
            "w_flow": 0.0, "equivariance_strength": 0.05,
            "vgg_weights": None, "vgg_layers": 1, "vgg_scales": [1.0], "require_pretrained": False}
    train_lfae(lcfg, tiny_clips, proc / "lfae", progress=False)
    windows = with_window_ids(pd.read_parquet(tiny_clips)).window_id.unique()
    rng = np.random.default_rng(0)
    m = len(windows)
    write_vectors(proc / "embedding.parquet", {
        "window_id": list(windows), "clap_pretrained": [False] * m, "wav2clip_pretrained": [False] * m,
        "e_c": rng.normal(size=(m, 512)), "e_w": rng.normal(size=(m, 128)), "e_b": rng.random((m, 8 * 6))},
        embedding_schema(8))
    return {"dir": proc, "clips": tiny_clips, "lfae": proc / "lfae/model.safetensors",
            "music": tiny_clips.parent / "music.csv", "embedding": proc / "embedding.parquet", "lcfg": lcfg}


def _stage2_cfg(**over):
    cfg = {"seed": 0, "device": "cpu", "precision": "fp32", "gpus": 1, "model": dict(TINY_UNET), "timesteps": 100,
           "epochs": 3, "steps_per_epoch": 2, "batch_size": 4, "lr": 1e-3, "betas": [0.9, 0.99], "lr_milestones": [2],
           "grad_clip": 1.0, "ema_decay": 0.9, "p_uncond": 0.1, "max_train_clips": 12, "frames": 8, "beat": True,
           "frame_rhythm": False, "variant": "base", "prediction": "eps", "representation": "flows",
           "standardize": False, "velocity_loss": 0.0, "position_loss": 0.0, "snapshot_every": 0}
    cfg.update(over)
    return cfg


@pytest.fixture(scope="module")
def flow_cache(stage_two_data, tmp_path_factory):
    from dabfusion.training.flow_cache import build_flow_cache

    out = tmp_path_factory.mktemp("flows")
    build_flow_cache(stage_two_data["lfae"], stage_two_data["clips"], out, 12, 0, progress=False)
    return out


def test_flow_cache_holds_the_stage_one_flows(stage_two_data, flow_cache):
    from dabfusion.checkpoints import load_lfae
    from dabfusion.frames import load_clip
    from dabfusion.metrics.image import to_tensor
    from dabfusion.training.flow_cache import clip_flows, load_cache

    cache = load_cache(flow_cache)
    meta, index = cache["meta"], cache["index"]
    assert meta["clips"] == 12 == len(index) and cache["grids"].shape == (12, 8, 8, 8, 2)
    assert cache["occlusion"].shape == (12, 8, 8, 8) and cache["z0"].shape == (12, 32, 8, 8)
    assert index.camera.nunique() == 3  # spread over cameras
    clips = pd.read_parquet(stage_two_data["clips"]).set_index("clip_id")
    c = clips.loc[index.clip_id.iloc[3]]
    grid, occ, z0 = clip_flows(load_lfae(stage_two_data["lfae"]),
                               to_tensor(load_clip(c.frames_file, c.start_frame, 8)))
    assert np.allclose(cache["grids"][3], grid.numpy(), atol=2e-3)
    assert np.allclose(cache["z0"][3], z0.numpy(), atol=5e-3)
    assert np.allclose(cache["occlusion"][3], occ[:, 0].numpy(), atol=2e-3)
    assert 1e-3 <= meta["flow_scale"] < 2


def test_a_flow_cache_from_another_stage_one_is_refused(stage_two_data, flow_cache, tmp_path):
    from dabfusion.training.flow_cache import check_cache
    from dabfusion.training.lfae import train_lfae

    check_cache(flow_cache, stage_two_data["lfae"])  # its own stage 1: fine
    train_lfae({**stage_two_data["lcfg"], "seed": 1}, stage_two_data["clips"], tmp_path / "other", progress=False)
    with pytest.raises(ValueError, match="another stage-1 model"):
        check_cache(flow_cache, tmp_path / "other/model.safetensors")


def test_stage_two_resume_equals_uninterrupted(stage_two_data, flow_cache, tmp_path):
    from dabfusion.checkpoints import load_unet
    from dabfusion.training.diffusion import train_diffusion

    d = stage_two_data
    # with every switch beyond the paper on, and snapshots for the learning curve after epochs 1 and 2
    cfg = _stage2_cfg(frame_rhythm=True, prediction="v", standardize=True, velocity_loss=2.0, snapshot_every=1,
                      representation="velocity", position_loss=1.0, model={**TINY_UNET, "z0_every_level": True})
    train_diffusion(cfg, flow_cache, d["lfae"], d["embedding"], tmp_path / "straight", progress=False)
    train_diffusion(cfg, flow_cache, d["lfae"], d["embedding"], tmp_path / "killed", stop_after_epochs=1,
                    progress=False)
    assert not (tmp_path / "killed/model.safetensors").exists()
    train_diffusion(cfg, flow_cache, d["lfae"], d["embedding"], tmp_path / "killed", progress=False)
    for name in ("model.safetensors", "snapshots/epoch0001.safetensors", "snapshots/epoch0002.safetensors"):
        a, meta = load_unet(tmp_path / "straight" / name)
        b, _ = load_unet(tmp_path / "killed" / name)
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    first, _ = load_unet(tmp_path / "straight/snapshots/epoch0001.safetensors")
    assert not all(torch.equal(first.state_dict()[k], sa[k]) for k in sa)  # a snapshot is not the final weights
    assert sorted(p.name for p in (tmp_path / "straight/snapshots").iterdir()) == ["epoch0001.safetensors",
                                                                                   "epoch0002.safetensors"]
    assert np.array(meta["target_space"]["std"]).shape == (3, 8) and np.min(meta["target_space"]["std"]) >= 0.01
    assert meta["n_frames"] == 8 and meta["beat"] is True and a.cfg.frame_rhythm and a.cfg.cond_dim == 640 + 48
    assert a.cfg.z0_every_level and meta["target_space"]["representation"] == "velocity"
    assert meta["music_pretrained"] == {"clap": False, "wav2clip": False} and meta["prediction"] == "v"


def test_a_velocity_model_samples_in_its_space_and_renders_flows(stage_two_data, flow_cache, tmp_path):
    from dabfusion.sampling import DanceSampler
    from dabfusion.training.diffusion import train_diffusion
    from dabfusion.training.flow_cache import load_cache

    d = stage_two_data
    train_diffusion(_stage2_cfg(epochs=1, representation="velocity", standardize=True), flow_cache, d["lfae"],
                    d["embedding"], tmp_path, progress=False)
    ds = DanceSampler(tmp_path / "model.safetensors", d["lfae"])
    assert ds.space.representation == "velocity" and np.array(ds.space.mean).shape == (3, 8)
    cache = load_cache(flow_cache)
    a0 = target.encode(torch.from_numpy(cache["grids"][:2].astype(np.float32)),
                       torch.from_numpy(cache["occlusion"][:2].astype(np.float32)).unsqueeze(2),
                       cache["meta"]["flow_scale"])
    assert torch.allclose(ds.space.to_flows(ds.space.to_model(a0)), a0, atol=1e-4)
    # generate = render(to_flows(flows(...))): the same video, frame for frame
    ref = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    e, beats = torch.zeros(2, 640 + 48), torch.zeros(2, 8, 6)
    scfg = {"sampler": "ddim", "steps": 3, "eta": 0.0, "guidance": 1.0, "threshold_percentile": None}
    video = ds.generate(ref, e, beats, scfg, [1, 2])
    z0 = ds.lfae.encode(ref)[-1]
    a = ds.flows(z0, e, beats, scfg, [torch.Generator().manual_seed(s) for s in (1, 2)])
    assert np.array_equal(video, ds.render(ref, ds.space.to_flows(a)))
    assert not np.array_equal(video, ds.render(ref, a))  # rendering the model's space directly is another video


def test_generated_flows_never_read_outside_the_frame():
    from dabfusion.models.warp import identity_grid, warp

    x = torch.ones(1, 3, 8, 8)
    grid = identity_grid(1, 8, 8).clone()
    grid[:, :, 0, 0] -= 0.3  # the left column points past the edge
    assert warp(x, grid)[0, :, :, 0].max() < 0.8  # the training warp: half zero padding, a dark band
    inside = warp(x, grid, inside=True)
    assert torch.allclose(inside, torch.ones_like(inside))  # the generated flow's: the edge pixel
    assert torch.equal(warp(x, identity_grid(1, 8, 8), inside=True), warp(x, identity_grid(1, 8, 8)))


def test_anchored_chaining_continues_the_previous_window_in_a_velocity_space():
    from dabfusion.generate import chain_flows

    class Stub:  # a "sampler" working in velocity space: keeps the known frames, random elsewhere
        n_frames, device = 8, torch.device("cpu")
        space = target.TargetSpace("velocity")
        lfae = type("L", (), {"encode": staticmethod(lambda ref: [torch.zeros(1, 4, 4, 4)])})

        def flows(self, z0, e, beats, scfg, g, known=None):
            out = torch.randn(1, 3, 8, 4, 4, generator=g[0])
            if known is not None:
                out[:, :, known[1]] = known[0][:, :, known[1]]
            return out

    starts = [0, 6, 12]
    e, beats = torch.zeros(3, 1), torch.zeros(3, 8, 6)
    flows = chain_flows(Stub(), torch.zeros(1, 3, 16, 16), e, beats, {}, 0, starts, 20)
    first = Stub.space.to_flows(torch.randn(1, 3, 8, 4, 4, generator=torch.Generator().manual_seed(0)))
    assert flows.shape == (1, 3, 20, 4, 4) and torch.allclose(flows[:, :, :8], first, atol=1e-5)
    # window 2 starts at frame 6 with frames 6-7 given: it continues from where window 1 was
    second = Stub.space.to_flows(torch.randn(1, 3, 8, 4, 4, generator=torch.Generator().manual_seed(1)))
    step = second[:, :, 2] - second[:, :, 1]  # its first sampled change, after the given frames
    assert torch.allclose(flows[:, :, 8] - flows[:, :, 7], step, atol=1e-5)


def test_stage_two_without_beats_conditions_on_640_dims(stage_two_data, flow_cache, tmp_path):
    from dabfusion.checkpoints import load_unet
    from dabfusion.training.diffusion import train_diffusion

    d = stage_two_data
    train_diffusion(_stage2_cfg(epochs=1, beat=False), flow_cache, d["lfae"], d["embedding"], tmp_path, progress=False)
    model, meta = load_unet(tmp_path / "model.safetensors")
    assert model.cfg.cond_dim == 640 and meta["beat"] is False


def test_without_beats_nulls_the_beats_of_the_rows_given_and_keeps_the_style():
    from dabfusion.diffusion.conditions import without_beats

    g = torch.Generator().manual_seed(0)
    e, beats = torch.rand(2, 640 + 48, generator=g) + 0.1, torch.rand(2, 8, 6, generator=g) + 0.1
    e2, b2 = without_beats(e, beats, torch.tensor([True, False]))
    assert torch.equal(e2[:, :640], e[:, :640]) and torch.equal(e2[1], e[1]) and torch.equal(b2[1], beats[1])
    assert not e2[0, 640:].any() and not b2[0].any()
    e3, b3 = without_beats(e, None)  # every row; the globally conditioned variant has no per-frame beats
    assert b3 is None and not e3[:, 640:].any() and torch.equal(e3[:, :640], e[:, :640])
    with pytest.raises(ValueError, match="no beats to drop"):
        without_beats(e[:, :640], None)


def test_beat_dropout_nulls_beats_apart_from_the_condition_dropout_and_only_when_on():
    from dabfusion.training.diffusion import diffusion_loss

    seen = []

    def net(x, t, z0, e, beats, drop):
        seen.append((e.clone(), beats.clone(), drop.clone()))
        return x * 0.5

    batch = {"a0": torch.randn(4, 3, 8, 4, 4, generator=torch.Generator().manual_seed(0)),
             "z0": torch.zeros(4, 1, 4, 4), "e": torch.ones(4, 640 + 48), "beats": torch.ones(4, 8, 6)}
    sched = CosineSchedule(100)
    loss = lambda p: float(diffusion_loss(net, sched, batch, 0.0, torch.Generator().manual_seed(1), "cpu",  # noqa: E731
                                          p_drop_beats=p))
    off = loss(0.0)
    assert torch.equal(seen[-1][0], batch["e"]) and torch.equal(seen[-1][1], batch["beats"])
    # all rows' beats dropped, no row's condition: the style stays, e_b and the per-frame beats are zero
    loss(1.0)
    e, beats, drop = seen[-1]
    assert not drop.any() and (e[:, :640] == 1).all() and not e[:, 640:].any() and not beats.any()
    # off draws nothing: the generator leaves the step as it did before the switch existed, so the
    # next steps' clips, noise and dropout (and the weights of a model trained so) are unchanged
    def state_after(p):
        g = torch.Generator().manual_seed(1)
        diffusion_loss(net, sched, batch, 0.0, g, "cpu", p_drop_beats=p)
        return g.get_state()

    replay = torch.Generator().manual_seed(1)
    torch.randint(100, (4,), generator=replay), torch.randn((4, 3, 8, 4, 4), generator=replay)
    torch.rand(4, generator=replay)  # t, noise, condition dropout: the draws of every step
    assert torch.equal(state_after(0.0), replay.get_state()) and not torch.equal(state_after(0.5), replay.get_state())
    assert loss(0.0) == off


def test_guidance_on_the_beats_contrasts_the_music_with_the_same_music_without_its_beats(
        stage_two_data, flow_cache, tmp_path):
    from dabfusion.sampling import DanceSampler
    from dabfusion.training.diffusion import train_diffusion

    d = stage_two_data
    scfg = {"sampler": "ddim", "steps": 2, "eta": 0.0, "guidance": 3.0, "threshold_percentile": None, "guide": "beats"}
    train_diffusion(_stage2_cfg(epochs=1, frame_rhythm=True, p_drop_beats=0.5), flow_cache, d["lfae"],
                    d["embedding"], tmp_path / "bd", progress=False)
    ds = DanceSampler(tmp_path / "bd/model.safetensors", d["lfae"])
    assert ds.meta["p_drop_beats"] == 0.5 and ds.guide(scfg) == "beats"
    assert ds.guide({**scfg, "guide": "music"}) == "music"
    with pytest.raises(ValueError, match="neither music nor beats"):  # a typo in a --set is not the paper's guidance
        ds.guide({**scfg, "guide": "beat"})
    calls, unet = [], ds.unet
    ds.unet = lambda x, t, z0, e, beats, drop: calls.append((e, beats, drop)) or unet(x, t, z0, e, beats, drop)
    g = torch.Generator().manual_seed(0)
    e, beats = torch.rand(2, 640 + 48, generator=g) + 0.1, torch.rand(2, 8, 6, generator=g) + 0.1
    ds.flows(torch.zeros(2, unet.cfg.latent_channels, 8, 8), e, beats, scfg, [torch.Generator().manual_seed(1)] * 2)
    e_in, b_in, drop = calls[0]
    assert drop is None and e_in.shape[0] == 4  # no null condition: the music twice, the second without beats
    assert torch.equal(e_in[:2], e) and torch.equal(b_in[:2], beats)
    assert torch.equal(e_in[2:, :640], e[:, :640]) and not e_in[2:, 640:].any() and not b_in[2:].any()
    # a model that never saw music without its beats is refused; one without beats guides on its music
    train_diffusion(_stage2_cfg(epochs=1), flow_cache, d["lfae"], d["embedding"], tmp_path / "plain", progress=False)
    with pytest.raises(ValueError, match="p_drop_beats"):
        DanceSampler(tmp_path / "plain/model.safetensors", d["lfae"]).guide(scfg)
    train_diffusion(_stage2_cfg(epochs=1, beat=False, p_drop_beats=0.5), flow_cache, d["lfae"], d["embedding"],
                    tmp_path / "nobeat", progress=False)
    nobeat = DanceSampler(tmp_path / "nobeat/model.safetensors", d["lfae"])
    assert nobeat.meta["p_drop_beats"] == 0 and nobeat.guide(scfg) == "music"


def test_sampling_writes_videos_with_music_and_is_reproducible(stage_two_data, flow_cache, tmp_path):
    import av

    from dabfusion.sampling import sample_test_clips
    from dabfusion.training.diffusion import train_diffusion

    d = stage_two_data
    train_diffusion(_stage2_cfg(epochs=1), flow_cache, d["lfae"], d["embedding"], tmp_path / "m", progress=False)
    scfg = {"sampler": "ddim", "steps": 3, "eta": 0.0, "guidance": 1.5, "threshold_percentile": 0.9, "seed": 0,
            "max_clips": 3, "batch_size": 2, "device": "cpu"}
    man = sample_test_clips(tmp_path / "m/model.safetensors", d["lfae"], d["clips"], d["embedding"], d["music"],
                            scfg, tmp_path / "s/samples.csv", progress=False)
    assert len(man) == 3 and (man.model_calls == 6).all() and man.seed.nunique() == 3
    frames = np.load(man.generated_frames.iloc[0])
    assert frames.shape == (8, 32, 32, 3) and frames.dtype == np.uint8
    with av.open(man.generated_video.iloc[0]) as c:
        v = c.streams.video[0]
        assert c.streams.audio and v.average_rate == 15 and (v.width, v.height) == (32, 32)
        assert sum(1 for _ in c.decode(video=0)) == 8
    again = sample_test_clips(tmp_path / "m/model.safetensors", d["lfae"], d["clips"], d["embedding"], d["music"],
                              {**scfg, "batch_size": 3}, tmp_path / "s2/samples.csv", progress=False)
    assert all(np.array_equal(np.load(a), np.load(b)) for a, b in zip(man.generated_frames, again.generated_frames))


def test_bf16_autocast_path_runs_for_stage_two(stage_two_data, flow_cache, tmp_path):
    from dabfusion.training.diffusion import train_diffusion

    d = stage_two_data
    res = train_diffusion(_stage2_cfg(epochs=1, precision="bf16"), flow_cache, d["lfae"], d["embedding"], tmp_path,
                          progress=False)
    assert np.isfinite(res["final_loss"])


@pytest.mark.slow
def test_stage_two_ddp_on_cpu_with_gloo_matches_one_process(stage_two_data, flow_cache, tmp_path):
    """torchrun, two CPU processes with half the batch each: one process's loss curve and EMA weights."""
    from dabfusion.training.diffusion import train_diffusion

    d = stage_two_data
    cfg = _stage2_cfg(epochs=2)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    res = torchrun("dabfusion.training.diffusion",
                   ["--config-json", str(tmp_path / "cfg.json"), "--cache", str(flow_cache),
                    "--lfae", str(d["lfae"]), "--embedding", str(d["embedding"]),
                    "--out", str(tmp_path / "ddp")])
    assert res.returncode == 0, res.stderr[-3000:]
    train_diffusion(cfg, flow_cache, d["lfae"], d["embedding"], tmp_path / "one", progress=False)
    print("stage 2, 2 processes vs 1:", assert_same_training(tmp_path / "one", tmp_path / "ddp"))
