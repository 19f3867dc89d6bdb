from __future__ import annotations

import pytest
import torch

from aidbench.model import edm


def test_svd_scheduler_uses_the_same_preconditioning():
    scheduler = edm.scheduler()
    scheduler.set_timesteps(30)
    assert len(scheduler.timesteps) == 30
    sigmas = scheduler.sigmas[:-1]
    assert float(sigmas[0]) == pytest.approx(700.0, rel=1e-4) and float(sigmas[-1]) == pytest.approx(
        0.002, rel=1e-3
    )
    c_skip, c_out, c_in, c_noise = edm.preconditioning(sigmas)
    torch.testing.assert_close(scheduler.timesteps, c_noise, rtol=1e-5, atol=1e-5)
    sample, output = torch.randn(2, 3), torch.randn(2, 3)
    for i in (0, 10, 29):
        scheduler._step_index = None  # scale_model_input looks up σ from the timestep
        t = scheduler.timesteps[i]
        torch.testing.assert_close(scheduler.scale_model_input(sample, t), c_in[i] * sample)
        scheduler._step_index = i
        step = scheduler.step(output, t, sample)
        torch.testing.assert_close(step.pred_original_sample, c_skip[i] * sample + c_out[i] * output)


def test_the_loss_is_zero_for_the_ideal_model_and_ignores_reference_frames():
    torch.manual_seed(0)
    latents, noise = torch.randn(2, 5, 4, 3, 3), torch.randn(2, 5, 4, 3, 3)
    condition = edm.reference_conditioning(latents[:, :2], 5)
    sigma = torch.tensor([0.3, 4.0])
    loss = edm.EDMLoss()

    def ideal(unet_input, c_noise):
        c_skip, c_out, c_in, _ = (c.view(-1, 1, 1, 1, 1) for c in edm.preconditioning(sigma))
        noisy = unet_input[:, :, :4] / c_in
        return (latents - c_skip * noisy) / c_out

    assert loss(ideal, latents, condition, 2, sigma, noise) == pytest.approx(0.0, abs=1e-8)

    def wrong_on_references(unet_input, c_noise):
        out = ideal(unet_input, c_noise).clone()
        out[:, :2] += 5.0
        return out

    assert loss(wrong_on_references, latents, condition, 2, sigma, noise) == pytest.approx(0.0, abs=1e-8)
    assert loss(lambda x, c: torch.zeros_like(latents), latents, condition, 2, sigma, noise) > 0.1


def test_reference_conditioning_keeps_known_frames_in_place():
    reference = torch.arange(3.0).view(1, 3, 1, 1, 1).expand(1, 3, 4, 2, 2)
    condition = edm.reference_conditioning(reference, 6)
    assert condition[0, :, 0, 0, 0].tolist() == [0, 1, 2, 2, 2, 2]
    single = edm.reference_conditioning(reference[:, :1], 4)
    assert single[0, :, 0, 0, 0].tolist() == [0, 0, 0, 0]  # SVD: the first frame repeated
    with pytest.raises(ValueError, match="leave nothing to predict"):
        edm.reference_conditioning(reference, 3)


def test_noise_levels_follow_svds_log_normal():
    sigma = edm.EDMLoss().sample_sigma(20000, torch.Generator().manual_seed(0))
    assert sigma.log().mean() == pytest.approx(0.7, abs=0.05) and sigma.log().std() == pytest.approx(
        1.6, abs=0.05
    )
