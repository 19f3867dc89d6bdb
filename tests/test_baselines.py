"""The runnable baselines on tiny components: svd-zeroshot and vae-recon through `aidbench sample`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aidbench.data.video import read_video

TINY = ["--preset", "smoke", "--set", "data.max_clips=4", "--set", "data.resolution=16",
        "--set", "data.num_frames=4", "--set", "sample.num_inference_steps=2"]


@pytest.mark.parametrize("system", ["svd-zeroshot", "vae-recon"])
def test_zero_shot_systems_sample_without_a_checkpoint(cli, tmp_path, system):
    result = cli("sample", "--model", system, *TINY, "--run-id", system)
    assert result.code == 0, result.err
    samples = tmp_path / "results/runs/sample" / system / "samples"
    clips = sorted(samples.iterdir())
    assert len(clips) == 4
    meta = json.loads((clips[0] / "meta.json").read_text())
    assert meta["system"] == system
    video = read_video(clips[0])
    assert video.shape == (4, 16, 16, 3) and video.dtype == np.uint8


def test_a_trained_system_needs_its_checkpoint(cli):
    result = cli("sample", "--model", "aid", *TINY)
    assert result.code == 2 and "'aid' is trained: give --checkpoint" in result.err
