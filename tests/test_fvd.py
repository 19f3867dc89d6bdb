"""Our I3D and FVD against cd-fvd's (the VideoGPT / Seer / TATS I3D), with input-sensitive random weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as ReferenceI3d
from cdfvd.third_party.i3d.utils import frechet_distance as reference_frechet
from cdfvd.third_party.i3d.utils import preprocess_i3d as reference_squash

from aidbench.errors import UserError
from aidbench.metrics import fvd, i3d


def _videos(n, t=10, h=64, w=80, seed=0, shift=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(n, t, h // 8, w // 8, 3))
    return np.clip(coarse.repeat(8, 2).repeat(8, 3) + shift, 0, 255).astype(np.uint8)


def test_our_i3d_loads_the_released_layout_and_matches_the_reference_logits(i3d_weights):
    ours = i3d.load(i3d_weights)
    reference = ReferenceI3d(400, in_channels=3)
    reference.load_state_dict(torch.load(i3d_weights, weights_only=True))
    reference.eval()
    x = torch.rand(2, 3, 10, 224, 224) * 2 - 1
    with torch.inference_mode():
        expected = reference(x)
        assert (ours(x) - expected).abs().max() < 1e-5
        features = fvd.I3DFeatures.from_model(ours, fvd.SEER)
        cl = torch.from_numpy(features(_videos(2, h=224, w=224)))
    assert expected.shape == (2, 400)
    assert (expected[0] - expected[1]).abs().mean() > 1e-3  # the weights are input-sensitive
    assert cl.shape == (2, 400)


def test_seer_preprocessing_is_videogpts():
    videos = _videos(2, h=48, w=72)
    ours = fvd.preprocess(videos, fvd.SEER)
    # VideoGPT: per video, /255, short side → 224 with the long side rounded up, floor-centred crop, -0.5, ×2
    expected = []
    for video in torch.from_numpy(videos):
        x = video.permute(0, 3, 1, 2).float() / 255.0
        size = (224, math.ceil(72 * 224 / 48))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        left = (x.shape[3] - 224) // 2
        expected.append((x[:, :, :, left : left + 224].permute(1, 0, 2, 3) - 0.5) * 2)
    assert (ours - torch.stack(expected)).abs().max() < 1e-6


def test_squash_preprocessing_is_cd_fvds():
    videos = _videos(2, t=18, h=48, w=72)
    assert (fvd.preprocess(videos, fvd.STYLEGANV) - reference_squash(videos[:, :16])).abs().max() < 1e-5


def test_fvd_matches_cd_fvd_where_settings_agree(i3d_weights):
    model = i3d.load(i3d_weights)
    features = fvd.I3DFeatures.from_model(model, fvd.SEER, batch_size=4)
    real = features(_videos(12, seed=1))
    fake = features(_videos(12, seed=2))
    other = features(_videos(12, seed=3, shift=90))
    # cd-fvd's torch implementation: N−1 covariance, SVD square roots (float64 here).
    expected = reference_frechet(torch.from_numpy(real), torch.from_numpy(fake)).item()
    with pytest.warns(UserWarning, match="rank-deficient"):
        ours = fvd.fvd(real, fake, fvd.SEER)
    assert ours == pytest.approx(expected, rel=1e-6)
    with pytest.warns(UserWarning):
        assert fvd.fvd(real, other, fvd.SEER) > 2 * ours > 0  # different inputs, clearly different distances
    assert fvd.kvd(real, other) > fvd.kvd(real, fake)


def test_too_few_frames_and_wrong_weights_are_clear(i3d_weights, tmp_path):
    model = i3d.load(i3d_weights)
    with pytest.raises(UserError, match="at least 9 frames"):
        model(torch.zeros(1, 3, 8, 224, 224))
    bad = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="is not the InceptionI3d\\(400\\) checkpoint"):
        i3d.load(bad)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read I3D weights"):
        i3d.load(garbage)


def test_conformance_kvd_at_seer_is_the_mmd_seers_evaluation_computes():
    """Seer's eval_video_fvd computes FVD first; its covariance step subtracts each set's mean in place (on a
    transposed view), so the embeddings that then reach polynomial_mmd are centred. Re-implemented here step
    by step (torch for the in-place centring, the polynomial kernel written out as sklearn's defaults give it:
    degree 3, gamma 1/d, coef0 1)."""
    from aidbench.metrics import kernel

    rng = np.random.default_rng(0)
    real = rng.normal(size=(12, 400)) + 3.0
    fake = 1.5 * rng.normal(size=(10, 400)) - 1.0

    fake_t, real_t = torch.tensor(fake), torch.tensor(real)
    for embeddings in (fake_t, real_t):  # cov(m, rowvar=False): m = m.t(); m -= mean over observations
        m = embeddings.flatten(start_dim=1).t()
        m -= torch.mean(m, dim=1, keepdim=True)

    def polynomial_kernel(x, y):
        return (x @ y.T / x.shape[1] + 1.0) ** 3

    x, y = fake_t.numpy(), real_t.numpy()
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    seer = (
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2 * k_xy.sum() / (m * n)
    )
    assert fvd.kvd(real, fake) == pytest.approx(seer, rel=1e-10)
    assert fvd.kvd(real, fake, centred=False) == pytest.approx(kernel.mmd2(real, fake), rel=1e-12)
    assert abs(fvd.kvd(real, fake, centred=False) - seer) > 0.1 * abs(seer)  # the two definitions differ here


def test_fvd_on_growing_prefixes_rises_where_the_prediction_departs(i3d_weights):
    from aidbench.metrics.protocols import FVD_SEER, Context
    from aidbench.metrics.videoset import VideoSet

    real = _videos(5, t=11, seed=1)
    fake = real.copy()
    fake[:, 10] = _videos(5, t=1, seed=2, shift=90)[:, 0]  # true up to frame 10, off in the 11th
    names = [f"clip{i}" for i in range(5)]
    ctx = Context(num_ref_frames=2, prefixes=True, jackknife_groups=5, models={"i3d": i3d.load(i3d_weights)})
    record = FVD_SEER.compute(VideoSet(None, names, list(real)), VideoSet(None, names, list(fake)), ctx)
    assert [(p["horizon"], p["frames"]) for p in record.curve] == [(7, 9), (8, 10), (9, 11)]
    first, second, whole = record.curve
    assert first["value"] == pytest.approx(0, abs=1e-3) and second["value"] == pytest.approx(0, abs=1e-3)
    assert whole["value"] == record.value > 1 and whole["ci_low"] < whole["value"] < whole["ci_high"]
