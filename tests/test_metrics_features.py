"""Feature-based metrics: Fréchet distance / FVD (I3D) and the CLIP-vs-Wav2CLIP score (CS)."""

import logging
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dabfusion.metrics.clip_score import (
    ClipImageEncoder,
    ClipVisual,
    SelfAttention,
    clip_preprocess,
    clip_score,
    music_embedding,
)
from dabfusion.metrics.fvd import (
    I3DFeatures,
    InceptionI3d,
    WeightsError,
    frechet_distance,
    fvd,
    gaussian_stats,
    same_padding,
)

I3D_SIZE = 32  # a small resize keeps the tests fast on 2 cores; the network is size-agnostic


def closed_form(mu1, a, mu2, b):
    """Fréchet distance of Gaussians whose covariances share eigenvectors, eigenvalues a and b."""
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))


def random_rotation(d, rng):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


# ------------------------------------------------------------------ Fréchet distance


def test_frechet_diagonal_matches_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(closed_form(mu1, a, mu2, b), rel=1e-9)


def test_frechet_identical_is_zero_and_mean_shift_is_squared_norm():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 5))
    mu, sigma = gaussian_stats(x)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    d = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert frechet_distance(mu, sigma, mu + d, sigma) == pytest.approx(float(d @ d), rel=1e-8)


def test_frechet_commuting_full_covariances():
    rng = np.random.default_rng(2)
    q = random_rotation(8, rng)
    a, b = rng.uniform(0.2, 4, 8), rng.uniform(0.2, 4, 8)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T  # full, not diagonal, but commuting
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    assert abs(s1[0, 1]) > 1e-3
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(closed_form(mu1, a, mu2, b), rel=1e-8)


def test_fvd_on_samples_approaches_closed_form():
    rng = np.random.default_rng(3)
    q = random_rotation(4, rng)
    a, b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.3, 2.5, 1.5, 1.0])
    mu1, mu2 = np.zeros(4), np.array([1.0, 0.0, -1.0, 0.5])
    x = rng.multivariate_normal(mu1, q @ np.diag(a) @ q.T, size=40_000)
    y = rng.multivariate_normal(mu2, q @ np.diag(b) @ q.T, size=40_000)
    expected = closed_form(mu1, a, mu2, b)
    assert fvd(x, y) == pytest.approx(expected, rel=0.03)
    assert fvd(x[:20_000], x[20_000:]) < 0.01 * expected  # same distribution: near zero


def test_frechet_safeguards():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 20))  # fewer samples than dims: singular covariances
    y = rng.normal(size=(5, 20)) + 0.5
    value = fvd(x, y)
    assert np.isfinite(value) and value > 0
    assert fvd(x, x) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="imaginary"):  # not a covariance: sqrtm is truly complex
        frechet_distance(np.zeros(2), np.diag([-1.0, 1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(np.ones((1, 4)))


# ------------------------------------------------------------------ I3D


@pytest.fixture(scope="module")
def i3d():
    return I3DFeatures(None, seed=0, resize=I3D_SIZE)


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(5).integers(0, 256, (2, 16, 64, 64, 3), dtype=np.uint8)


def test_i3d_state_dict_layout_matches_pytorch_i3d():
    sd = InceptionI3d().state_dict()
    assert len(sd) == 57 * 6 + 2  # 57 conv+BN units (weight, 4 BN tensors, counter) + logits weight/bias
    assert sd["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert sd["Conv3d_2c_3x3.bn.running_var"].shape == (192,)
    assert sd["Mixed_3b.b2b.conv3d.weight"].shape == (32, 16, 3, 3, 3)
    assert sd["Mixed_5c.b3b.conv3d.weight"].shape == (128, 832, 1, 1, 1)
    assert sd["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1) and sd["logits.conv3d.bias"].shape == (400,)
    assert not any(k.startswith("logits.bn") for k in sd)
    # TF 'same' padding as pytorch-i3d computes it (W, H, T pairs for F.pad)
    assert same_padding((16, 64, 64), (7, 7, 7), (2, 2, 2)) == (2, 3, 2, 3, 2, 3)
    assert same_padding((15, 63, 63), (7, 7, 7), (2, 2, 2)) == (3, 3, 3, 3, 3, 3)
    assert same_padding((8, 8, 8), (3, 3, 3), (1, 1, 1)) == (1, 1, 1, 1, 1, 1)


def test_i3d_head_equals_reference_pooling_at_224px():
    torch.manual_seed(0)
    model = InceptionI3d().eval()
    x = torch.randn(2, 1024, 3, 7, 7)  # Mixed_5c output of a 224 px, 17-24 frame clip
    reference = model.logits(F.avg_pool3d(x, (2, 7, 7), stride=1)).flatten(2)
    assert torch.allclose(model.head(x), reference, atol=1e-5)


def test_i3d_preprocess_follows_tf_fvd(i3d, clips):
    x = i3d.preprocess(clips)
    assert x.shape == (2, 3, 16, I3D_SIZE, I3D_SIZE) and x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    flat = np.full((1, 8, 20, 30, 3), 255, np.uint8)  # no crop, any aspect ratio: a white clip stays +1
    assert torch.allclose(i3d.preprocess(flat), torch.ones(1, 3, 8, I3D_SIZE, I3D_SIZE))


def test_i3d_shape_and_determinism(i3d, clips):
    a = i3d(clips)
    assert a.shape == (2, 400) and a.dtype == np.float64 and np.all(np.isfinite(a))
    assert not np.allclose(a[0], a[1])
    assert i3d.pretrained is False and i3d.source == "random init (seed 0)"
    np.testing.assert_array_equal(I3DFeatures(None, seed=0, resize=I3D_SIZE)(clips), a)
    assert not np.allclose(I3DFeatures(None, seed=1, resize=I3D_SIZE)(clips), a)


def test_i3d_random_init_warns(caplog):
    with caplog.at_level(logging.WARNING):
        I3DFeatures(None, seed=2, resize=I3D_SIZE)
    assert "SEEDED RANDOM I3D" in caplog.text


def test_i3d_weights_round_trip(i3d, clips, tmp_path):
    pt, st, old = tmp_path / "i3d_pretrained_400.pt", tmp_path / "i3d.safetensors", tmp_path / "rgb_imagenet.pt"
    state = i3d.model.state_dict()
    torch.save(state, pt)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state.items()}, str(st))
    # pytorch-i3d's rgb_imagenet.pt predates BatchNorm's num_batches_tracked counters
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, old)
    for path in (pt, st, old):
        loaded = I3DFeatures(path, seed=7, resize=I3D_SIZE)  # a different seed: the file must win
        assert loaded.pretrained is True and loaded.source == str(path)
        np.testing.assert_array_equal(loaded(clips), i3d(clips))


def test_i3d_bad_files_name_the_file(i3d, tmp_path):
    state = i3d.model.state_dict()
    state["Mixed_3b.b9.conv3d.weight"] = state.pop("Mixed_3b.b0.conv3d.weight")
    renamed = tmp_path / "renamed.pt"
    torch.save(state, renamed)
    with pytest.raises(WeightsError, match="renamed.pt") as err:
        I3DFeatures(renamed)
    assert "Mixed_3b.b0.conv3d.weight" in str(err.value)
    garbage = tmp_path / "truncated.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="truncated.pt"):
        I3DFeatures(garbage)


def test_i3d_needs_eight_frames(i3d, clips):
    with pytest.raises(ValueError, match="at least 8 frames"):
        i3d(clips[:, :7])
    assert i3d(clips[:, :8]).shape == (2, 400)  # 8 frames is the minimum, and works


def moving_blobs(n, seed, t=16, size=32):
    """Smooth videos: a bright Gaussian blob drifting over a dark gradient."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    out = np.empty((n, t, size, size, 3), np.uint8)
    for i in range(n):
        p, v = rng.uniform(0.3, 0.7, 2), rng.uniform(-0.02, 0.02, 2)
        color = rng.uniform(0.6, 1.0, 3)
        for j in range(t):
            cy, cx = p + j * v
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)
            out[i, j] = np.clip(255 * (0.2 * yy[..., None] + blob[..., None] * color), 0, 255)
    return out


def test_i3d_features_discriminate(i3d):
    a, a2 = i3d(moving_blobs(8, seed=10)), i3d(moving_blobs(8, seed=11))
    noise = i3d(np.random.default_rng(12).integers(0, 256, (8, 16, 32, 32, 3), dtype=np.uint8))
    same, different = fvd(a, a2), fvd(a, noise)
    assert different > 10 * same, (same, different)


# ------------------------------------------------------------------ CLIP


@pytest.fixture(scope="module")
def clip_encoder():
    return ClipImageEncoder(None, seed=0)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(6).integers(0, 256, (3, 48, 80, 3), dtype=np.uint8)  # not square: crop path


def test_clip_attention_equals_torch_multihead():
    torch.manual_seed(0)
    ours, ref = SelfAttention(64, 4), torch.nn.MultiheadAttention(64, 4)
    ref.load_state_dict(ours.state_dict())  # same parameter names
    x = torch.randn(2, 10, 64)
    seq_first = x.transpose(0, 1)
    expected = ref(seq_first, seq_first, seq_first, need_weights=False)[0].transpose(0, 1)
    assert torch.allclose(ours(x), expected, atol=1e-5)


def test_clip_visual_keys():
    sd = ClipVisual().state_dict()
    assert sd["positional_embedding"].shape == (50, 768) and sd["proj"].shape == (768, 512)
    assert sd["conv1.weight"].shape == (768, 3, 32, 32) and "conv1.bias" not in sd
    assert sd["transformer.resblocks.11.attn.in_proj_weight"].shape == (2304, 768)
    assert sd["transformer.resblocks.0.mlp.c_fc.weight"].shape == (3072, 768)
    assert {"class_embedding", "ln_pre.weight", "ln_post.bias", "transformer.resblocks.0.attn.out_proj.bias",
            "transformer.resblocks.0.ln_2.weight", "transformer.resblocks.0.mlp.c_proj.bias"} <= set(sd)
    assert len(sd) == 4 + 2 + 2 + 12 * 12  # conv1/cls/pos/proj, ln_pre, ln_post, 12 tensors per block


def test_clip_preprocess_constant_frame():
    grey = np.full((1, 90, 160, 3), 128, np.uint8)
    x = clip_preprocess(grey)
    assert x.shape == (1, 3, 224, 224)
    expected = (128 / 255 - np.array([0.48145466, 0.4578275, 0.40821073])) / np.array([0.26862954, 0.26130258,
                                                                                     0.27577711])
    np.testing.assert_allclose(x.mean(dim=(0, 2, 3)).numpy(), expected, atol=1e-5)
    assert float(x.std(dim=(2, 3)).max()) < 1e-5


def test_clip_embeddings_unit_norm(clip_encoder, frames):
    e = clip_encoder(frames)
    assert e.shape == (3, 512) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert clip_encoder.pretrained is False and clip_encoder.source == "random init (seed 0)"
    assert not np.allclose(e[0], e[1])


def test_clip_weights_round_trip(clip_encoder, frames, tmp_path):
    state = clip_encoder.model.state_dict()
    full = {f"visual.{k}": v for k, v in state.items()}
    full.update({"token_embedding.weight": torch.zeros(4, 8), "logit_scale": torch.tensor(4.6)})  # text side
    path = tmp_path / "clip_vit_b32.pt"
    torch.save(full, path)
    loaded = ClipImageEncoder(path, seed=9)
    assert loaded.pretrained is True and loaded.source == str(path)
    np.testing.assert_allclose(loaded(frames), clip_encoder(frames), atol=1e-6)


class _Tiny(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1


def test_clip_refuses_torchscript(tmp_path):
    path = tmp_path / "ViT-B-32.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated, still what OpenAI shipped
        torch.jit.save(torch.jit.script(_Tiny()), str(path))
    with pytest.raises(WeightsError, match="TorchScript") as err:
        ClipImageEncoder(path)
    assert "ViT-B-32.pt" in str(err.value) and "state dict" in str(err.value)


def test_clip_score_values():
    rng = np.random.default_rng(7)
    m = rng.normal(size=16)
    assert clip_score(np.stack([m, 3 * m]), m) == pytest.approx(1.0)
    ortho = rng.normal(size=16)
    ortho -= (ortho @ m) / (m @ m) * m
    assert clip_score(ortho[None], m) == pytest.approx(0.0, abs=1e-12)
    assert clip_score(-m[None], 2 * m) == pytest.approx(-1.0)
    f = rng.normal(size=(3, 4))
    music = np.array([0.5, -1.0, 2.0, 0.0])
    by_hand = np.mean([sum(fi * mi for fi, mi in zip(row, music)) / (np.sqrt(sum(row**2)) * np.sqrt(sum(music**2)))
                       for row in f])
    assert clip_score(f, music) == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ValueError):
        clip_score(f, np.ones(5))


def test_music_embedding_from_22k_sine(tmp_path, clip_encoder, frames):
    from dabfusion.music.backbones import load_wav2clip

    backbone = load_wav2clip(tmp_path / "Wav2CLIP.pt", "https://example.invalid/Wav2CLIP.pt", require=False, seed=0)
    t22 = np.arange(2 * 22_050) / 22_050
    e = music_embedding(backbone, 0.5 * np.sin(2 * np.pi * 440 * t22), 22_050)
    assert e.shape == (512,) and e.dtype == np.float32 and np.all(np.isfinite(e)) and np.abs(e).max() > 0
    t16 = np.arange(2 * 16_000) / 16_000  # the same tone generated at 16 kHz: resampling must agree
    native = music_embedding(backbone, 0.5 * np.sin(2 * np.pi * 440 * t16), 16_000)
    assert clip_score(e[None], native) > 0.99
    assert -1.0 <= clip_score(clip_encoder(frames), e) <= 1.0
    with pytest.raises(ValueError, match="mono"):
        music_embedding(backbone, np.zeros((2, 100)), 22_050)
