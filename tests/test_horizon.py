"""Per-horizon curves: PSNR and SSIM of each predicted frame."""

from __future__ import annotations

import numpy as np
import pytest

from aidbench.errors import UserError
from aidbench.metrics.protocols import PSNR_PER_FRAME, SSIM_PER_FRAME, Context
from aidbench.metrics.videoset import VideoSet

CLIPS, FRAMES = 6, 5


def _sets():
    rng = np.random.default_rng(0)
    names = [f"clip{i}" for i in range(CLIPS)]
    real = [rng.integers(0, 256, (FRAMES, 16, 16, 3), dtype=np.uint8) for _ in names]
    noise = [
        np.clip(v + rng.normal(0, 1, v.shape) * (4 * np.arange(FRAMES))[:, None, None, None], 0, 255)
        for v in real
    ]
    fakes = {
        "ground truth": real,
        "noise growing with the horizon": [n.astype(np.uint8) for n in noise],
        "first frame copied": [np.repeat(v[:1], FRAMES, axis=0) for v in real],
    }
    return VideoSet(None, names, real), {k: VideoSet(None, names, v) for k, v in fakes.items()}


@pytest.mark.parametrize("metric, perfect", [(PSNR_PER_FRAME, 100.0), (SSIM_PER_FRAME, 1.0)])
def test_ground_truth_is_the_best_at_every_horizon(metric, perfect):
    real, fakes = _sets()
    ctx = Context(num_ref_frames=1, bootstrap_samples=100)
    curves = {name: metric.compute(real, fake, ctx).curve for name, fake in fakes.items()}
    assert [p["horizon"] for p in curves["ground truth"]] == [1, 2, 3, 4]  # the predicted frames only
    for h in range(FRAMES - 1):
        truth = curves["ground truth"][h]["value"]
        assert truth == pytest.approx(perfect)
        assert all(truth > c[h]["value"] for name, c in curves.items() if name != "ground truth"), h
    noisy = [p["value"] for p in curves["noise growing with the horizon"]]
    assert noisy == sorted(noisy, reverse=True)  # the prediction falls apart frame by frame
    record = metric.compute(real, fakes["noise growing with the horizon"], ctx)
    assert record.value == pytest.approx(np.mean(noisy)) and record.ci_low <= record.value <= record.ci_high


def test_each_generated_clip_needs_its_real_clip_at_the_same_size():
    real, fakes = _sets()
    other = VideoSet(None, ["elsewhere"], fakes["ground truth"].videos[:1])
    with pytest.raises(UserError, match="no real clip for elsewhere"):
        PSNR_PER_FRAME.compute(real, other, Context())
    smaller = VideoSet(None, ["clip0"], [real.videos[0][:, :8]])
    with pytest.raises(UserError, match="must have the same frames and size"):
        PSNR_PER_FRAME.compute(real, smaller, Context())
