"""LPIPS from torchvision's published AlexNet file: its loading, agreement with torchmetrics' copy of the
network, the per-horizon curve and the diversity of K samples."""

from __future__ import annotations

import numpy as np
import pytest

from aidbench.errors import UserError
from aidbench.metrics.lpips import LPIPS
from aidbench.metrics.protocols import DIVERSITY_LPIPS, LPIPS_PER_FRAME, Context
from aidbench.metrics.videoset import VideoSet

# torchvision's file name for the ImageNet AlexNet (the first 8 hex digits of its sha256 in the name).
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


@pytest.fixture(scope="module")
def alexnet(tmp_path_factory):
    """A random AlexNet saved as torchvision publishes it: the whole model's state dict, `features.N.*` and
    `classifier.N.*` keys."""
    import torch
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / ALEXNET_FILE
    torch.save(torchvision.models.alexnet().state_dict(), path)
    return path


def _frames(seed: int, n: int = 3, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_the_backbone_comes_from_the_published_file_and_the_linear_layers_from_the_package(alexnet):
    import torch

    scorer = LPIPS(alexnet)
    state = torch.load(alexnet, weights_only=True)
    loaded = scorer.model.net.state_dict()
    assert torch.equal(loaded["slice1.0.weight"], state["features.0.weight"])
    assert torch.equal(loaded["slice5.10.bias"], state["features.10.bias"])
    # the package's calibrated linear layers are non-negative weights, not a fresh random init
    assert all((lin.model[-1].weight >= 0).all() for lin in scorer.model.lins)
    assert scorer.weights_sha256 is not None and len(scorer.weights_sha256) == 64


def test_lpips_agrees_with_torchmetrics_copy_of_the_network(alexnet):
    import torch
    from torchmetrics.functional.image.lpips import _LPIPS

    from aidbench.metrics.lpips import load_backbone

    ours = LPIPS(alexnet)
    theirs = _LPIPS(pretrained=True, net="alex", pnet_rand=True).eval()
    load_backbone(theirs, alexnet)
    a, b = _frames(1, size=64), _frames(2, size=64)  # at the network's size: no upsampling on our side

    def unit(x):
        return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255

    with torch.no_grad():
        expected = theirs(unit(a), unit(b), normalize=True).flatten().numpy()
    np.testing.assert_allclose(ours.distance(a, b), expected, rtol=1e-5, atol=1e-6)
    assert np.all(ours.distance(a, a) == 0)


def test_a_file_that_is_not_alexnet_is_one_sentence(tmp_path):
    import torch

    wrong = tmp_path / ALEXNET_FILE
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(UserError, match="not torchvision's AlexNet: it lacks features.0.weight"):
        LPIPS(wrong)
    with pytest.raises(UserError, match="does not exist"):
        LPIPS(tmp_path / "absent.pth")


def test_the_lpips_curve_is_zero_for_ground_truth_and_grows_with_the_noise(alexnet):
    rng = np.random.default_rng(0)
    names = [f"clip{i}" for i in range(4)]
    real = [_frames(10 + i, n=4, size=16) for i in range(4)]  # 16 px: upsampled for the network
    ramp = (40 * np.arange(4))[:, None, None, None]
    noisy = [np.clip(v + rng.normal(0, 1, v.shape) * ramp, 0, 255).astype(np.uint8) for v in real]
    ctx = Context(num_ref_frames=1, bootstrap_samples=50, models={"alexnet": LPIPS(alexnet)})
    truth = LPIPS_PER_FRAME.compute(VideoSet(None, names, real), VideoSet(None, names, real), ctx)
    assert [p["value"] for p in truth.curve] == [0.0, 0.0, 0.0] and truth.value == 0
    record = LPIPS_PER_FRAME.compute(VideoSet(None, names, real), VideoSet(None, names, noisy), ctx)
    values = [p["value"] for p in record.curve]
    assert values == sorted(values) and values[0] > 0
    assert record.weights_sha256 == {"alexnet": ctx.models["alexnet"].weights_sha256}
    assert "upsampled" in record.card["resize"]


def test_lpips_diversity_is_zero_for_identical_samples_and_positive_for_different_ones(alexnet):
    names = ["clip0", "clip1"]
    first = [_frames(20), _frames(21)]
    ctx = Context(num_ref_frames=1, bootstrap_samples=50, models={"alexnet": LPIPS(alexnet)})
    same = VideoSet(None, names, first, more=[VideoSet(None, names, first)])
    assert DIVERSITY_LPIPS.compute(same, same, ctx).value == 0
    other = VideoSet(None, names, first, more=[VideoSet(None, names, [_frames(22), _frames(23)])])
    record = DIVERSITY_LPIPS.compute(same, other, ctx)
    assert record.value > 0 and record.protocol["distance"] == "LPIPS (AlexNet, v0.1)"
