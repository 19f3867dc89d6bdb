"""Open-Sora 1.2's rectified flow: the timestep transform's worked example, the loss, the Euler sampler."""

from __future__ import annotations

import torch

from aidbench.baselines import rflow
from aidbench.baselines.opensora import TINY, STDiT3


def test_timestep_transform_matches_open_soras_worked_example():
    # 240×426, 51 frames, 30 steps (Open-Sora 1.2's default inference). Its bf16 meta rounds the ratio to
    # 2.421875 (ours, in float64: 2.41872); with that ratio the schedule is the reference's to 0.01.
    exact_ratio = (240 * 426 / 512**2) ** 0.5 * 15**0.5
    raw = torch.tensor([(1 - i / 30) * 1000 for i in range(10)], dtype=torch.float64)
    bf16 = rflow.timestep_transform(raw, 240, 426, 51, scale=2.421875 / exact_ratio).tolist()
    reference = [1000, 985.96, 971.35, 956.13, 940.27, 923.72, 906.43, 888.36, 869.45, 849.65]
    assert all(abs(a - b) < 0.006 for a, b in zip(bf16, reference, strict=True))
    ours = rflow.sampling_timesteps(30, 240, 426, 51)
    assert all(abs(a - b) < 0.2 for a, b in zip(ours, reference, strict=False))
    # images keep their timesteps; clips of 2..16 frames collapse to t = 0 in the reference formula
    assert rflow.timestep_transform(torch.tensor(500.0), 512, 512, 1).item() == 500.0
    assert rflow.timestep_transform(torch.tensor(500.0), 512, 512, 16).item() == 0.0


def test_the_loss_is_zero_for_the_true_velocity_and_skips_reference_frames():
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 4, 3, 4, 4, generator=g), torch.randn(2, 4, 3, 4, 4, generator=g)
    t = torch.tensor([250.0, 800.0])
    x_mask = torch.tensor([[False, True, True], [True, True, True]])

    def truth(x_t, t_, mask):
        return x0 - noise

    assert rflow.training_loss(truth, x0, noise, t, x_mask).item() == 0.0

    def wrong_on_references(x_t, t_, mask):
        v = (x0 - noise).clone()
        v[0, :, 0] += 10.0
        return v

    assert rflow.training_loss(wrong_on_references, x0, noise, t, x_mask).item() == 0.0
    assert rflow.training_loss(lambda *a: torch.zeros_like(x0), x0, noise, t, x_mask).item() > 0.5


def test_euler_with_the_exact_velocity_lands_on_the_data_and_holds_references():
    g = torch.Generator().manual_seed(1)
    x0, noise = torch.randn(1, 4, 3, 4, 4, generator=g), torch.randn(1, 4, 3, 4, 4, generator=g)

    def exact(z, t, mask):  # the straight path through x0: v = (x0 − z_t) / s
        return (x0 - z) / (t / 1000).view(-1, 1, 1, 1, 1)

    steps = rflow.sampling_timesteps(10, 256, 256, 51)
    out = rflow.sample(exact, noise, steps)
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=1e-5)
    reference_frames = torch.tensor([[True, False, False]])
    held = rflow.sample(lambda z, t, m: torch.zeros_like(z), noise, steps, x0, reference_frames)
    torch.testing.assert_close(held[:, :, 0], x0[:, :, 0])
    torch.testing.assert_close(held[:, :, 1:], noise[:, :, 1:])


def test_guided_sampling_runs_on_a_tiny_stdit3():
    torch.manual_seed(0)
    model = STDiT3(TINY).eval()
    y = torch.randn(1, 1, 8, 16)
    null = model.y_embedder.y_embedding[None, None]
    mask = torch.tensor([[1] * 5 + [0] * 3])
    velocity = rflow.guided(model, y, null, mask, scale=7.0)
    out = rflow.sample(
        velocity,
        torch.randn(1, 4, 3, 4, 4),
        rflow.sampling_timesteps(3, 64, 64, 51),
        torch.zeros(1, 4, 3, 4, 4),
        torch.tensor([[True, False, False]]),
    )
    assert out.shape == (1, 4, 3, 4, 4) and torch.isfinite(out).all()
