"""AIDPipeline on tiny random components: SVD mode equals diffusers' SVD pipeline; AID mode runs end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aidbench.config import AdapterConfig, MConditionConfig
from aidbench.model.aid import AIDDenoiser, build_unet, dqformer_config
from aidbench.model.pipeline import AIDPipeline, SamplingSettings, extend
from aidbench.model.text import TextEncoder, tiny_clip

FRAMES, SIZE = 4, 16


@pytest.fixture(scope="module")
def svd():
    from aidbench.model.components import tiny_svd

    return tiny_svd(0)


def _reference(k=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(k, SIZE, SIZE, 3), dtype=np.uint8)


def test_svd_mode_reproduces_diffusers_stable_video_diffusion(svd):
    from PIL import Image

    reference = _reference()
    expected = svd(
        Image.fromarray(reference[0]),
        height=SIZE,
        width=SIZE,
        num_frames=FRAMES,
        num_inference_steps=3,
        min_guidance_scale=1.0,
        max_guidance_scale=3.0,
        decode_chunk_size=FRAMES,
        output_type="np",
        generator=torch.Generator().manual_seed(7),
    ).frames[0]
    pipeline = AIDPipeline(svd, AIDDenoiser(svd.unet, AdapterConfig(), None))
    settings = SamplingSettings(num_inference_steps=3, decode_chunk_size=FRAMES)
    ours = pipeline(
        reference,
        FRAMES,
        settings=settings,
        generator=torch.Generator().manual_seed(7),
        svd_guidance=(1.0, 3.0),
    )
    assert ours.shape == expected.shape == (FRAMES, SIZE, SIZE, 3)
    assert np.abs(ours - expected).max() <= 1e-6
    other = pipeline(
        reference,
        FRAMES,
        settings=settings,
        generator=torch.Generator().manual_seed(8),
        svd_guidance=(1.0, 3.0),
    )
    assert np.abs(other - expected).max() > 1e-3  # the seed matters: the comparison can fail


def test_aid_mode_with_dual_guidance_runs_and_is_seeded(svd):
    torch.manual_seed(1)
    dq = dqformer_config(MConditionConfig(), "tiny", 32, FRAMES)
    denoiser = AIDDenoiser(build_unet("tiny"), AdapterConfig(), dq).eval()
    svd_copy = type(svd)(svd.vae, svd.image_encoder, denoiser.unet, svd.scheduler, svd.feature_extractor)
    pipeline = AIDPipeline(svd_copy, denoiser, TextEncoder(tiny_clip()))
    settings = SamplingSettings(num_inference_steps=2, decode_chunk_size=FRAMES)
    states = ["A jar sits on a table.", "A hand lifts it.", "It moves.", "It rests on a surface."]

    def run(instruction, seed=3):
        return pipeline(
            _reference(2), FRAMES, instruction, states, settings, torch.Generator().manual_seed(seed)
        )

    first = run("Putting jar on a surface")
    assert first.shape == (FRAMES, SIZE, SIZE, 3) and first.min() >= 0 and first.max() <= 1
    assert np.array_equal(first, run("Putting jar on a surface"))
    assert not np.array_equal(first, run("Removing jar from a surface"))  # the instruction reaches the frames
    mcondition = pipeline.mcondition(torch.randn(1, 1, 32), "x", states, FRAMES)
    assert mcondition.shape == (3, FRAMES, 77 + 4, 32)


def test_long_videos_continue_from_the_last_two_frames(svd):
    dq = dqformer_config(MConditionConfig(), "tiny", 32, FRAMES)
    denoiser = AIDDenoiser(build_unet("tiny"), AdapterConfig(), dq).eval()
    svd_copy = type(svd)(svd.vae, svd.image_encoder, denoiser.unet, svd.scheduler, svd.feature_extractor)
    pipeline = AIDPipeline(svd_copy, denoiser, TextEncoder(tiny_clip()))
    video = extend(
        pipeline,
        _reference(1),
        ["Open the box", "Close the box", "Push the box"],
        FRAMES,
        SamplingSettings(num_inference_steps=1, decode_chunk_size=FRAMES),
        torch.Generator().manual_seed(0),
    )
    assert video.shape == (FRAMES + 2 * (FRAMES - 2), SIZE, SIZE, 3) and video.dtype == np.uint8
