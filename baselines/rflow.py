"""Open-Sora 1.2's rectified flow, written for aidbench: training loss and Euler sampler, with reference frames.

t ∈ [0, 1000]: x_t = (1 − t/1000)·x0 + (t/1000)·ε (t = 0 clean); the model predicts the velocity x0 − ε
(the first half of STDiT3's output channels). Timesteps are moved towards noise for larger videos:
r = √(H·W / 512²) · √(frames′), frames′ = 1 for an image else (pixel frames // 17)·5, and
t′ = 1000·r·s / (1 + (r − 1)·s) with s = t/1000. Training draws s from a logit-normal (sigmoid of N(0, 1)).
Open-Sora's frames′ is 0 for clips of 2…16 pixel frames, which maps every t to 0 (nothing to learn, nothing
to sample); `latent_frames=n` [ours, not Open-Sora] uses the clip's real latent frame count n as frames′
instead (the same value for 17·k frames), and `transform=False` [ours] leaves t unshifted.
Reference frames are clean (x_mask False): excluded from the loss, held at their latents while sampling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

NUM_TIMESTEPS = 1000.0
BASE_RESOLUTION = 512 * 512


def timestep_transform(
    t: torch.Tensor,
    height: int,
    width: int,
    num_frames: int,
    scale: float = 1.0,
    latent_frames: int | None = None,
) -> torch.Tensor:
    """Open-Sora 1.2's shift of t towards noise for larger videos; latent_frames replaces its frames′ [ours]."""
    open_sora = 1 if num_frames == 1 else num_frames // 17 * 5
    frames = open_sora if latent_frames is None else latent_frames
    ratio = (height * width / BASE_RESOLUTION) ** 0.5 * frames**0.5 * scale
    s = t / NUM_TIMESTEPS
    return NUM_TIMESTEPS * ratio * s / (1 + (ratio - 1) * s)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    s = (t / NUM_TIMESTEPS).view(-1, *([1] * (x0.ndim - 1)))
    return (1 - s) * x0 + s * noise


def training_timesteps(
    batch: int,
    generator: torch.Generator,
    height: int,
    width: int,
    num_frames: int,
    transform: bool = True,
    latent_frames: int | None = None,
):
    """Logit-normal timesteps, transformed for the video size (Open-Sora 1.2's training setting)."""
    t = torch.sigmoid(torch.randn(batch, generator=generator)) * NUM_TIMESTEPS
    return timestep_transform(t, height, width, num_frames, latent_frames=latent_frames) if transform else t


def training_loss(
    velocity: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor],
    x0: torch.Tensor,
    noise: torch.Tensor,
    t: torch.Tensor,
    x_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared velocity error over generated frames; x0 (B, C, T, H, W), x_mask (B, T) True = generated.

    velocity(x_t, t, x_mask) returns the model's velocity (B, C, T, H, W)."""
    x_t = add_noise(x0, noise, t)
    if x_mask is not None:
        x_t = torch.where(x_mask[:, None, :, None, None], x_t, x0)
    error = (velocity(x_t, t, x_mask) - (x0 - noise)) ** 2
    if x_mask is None:
        return error.mean()
    frames = x_mask[:, None, :, None, None].to(error.dtype)
    values_per_frame = x0.shape[1] * x0.shape[3] * x0.shape[4]
    per_sample = (error * frames).sum(dim=(1, 2, 3, 4)) / (frames.sum(dim=(1, 2, 3, 4)) * values_per_frame)
    return per_sample.mean()


def sampling_timesteps(
    steps: int,
    height: int,
    width: int,
    num_frames: int,
    transform: bool = True,
    latent_frames: int | None = None,
) -> list[float]:
    raw = torch.tensor([(1.0 - i / steps) * NUM_TIMESTEPS for i in range(steps)], dtype=torch.float64)
    if not transform:
        return raw.tolist()
    return timestep_transform(raw, height, width, num_frames, latent_frames=latent_frames).tolist()


@torch.no_grad()
def sample(
    velocity: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor],
    noise: torch.Tensor,
    timesteps: list[float],
    reference: torch.Tensor | None = None,
    reference_frames: torch.Tensor | None = None,
) -> torch.Tensor:
    """Euler from pure noise to t = 0. velocity(z, t, x_mask) is the (guided) model velocity.

    reference (B, C, T, H, W) holds the clean latents of the frames where reference_frames (B, T) is True;
    they stay clean throughout and are marked as conditions (x_mask False)."""
    z = noise.clone()
    x_mask = None
    if reference is not None:
        held = reference_frames[:, None, :, None, None]
        z = torch.where(held, reference, z)
        x_mask = ~reference_frames
    for i, t in enumerate(timesteps):
        t_batch = torch.full((z.shape[0],), t, dtype=z.dtype, device=z.device)
        v = velocity(z, t_batch, x_mask)
        following = timesteps[i + 1] if i + 1 < len(timesteps) else 0.0
        z = z + v * (t - following) / NUM_TIMESTEPS
        if reference is not None:
            z = torch.where(held, reference, z)
    return z


def guided(model: Callable, y: torch.Tensor, y_null: torch.Tensor, mask: torch.Tensor | None, scale: float):
    """Classifier-free guidance over captions: v = v(∅) + scale·(v(y) − v(∅)), both in one batched call.
    The null caption is STDiT3's learned `y_embedding`; it reuses the prompts' token mask, as Open-Sora does."""

    def velocity(z, t, x_mask):
        both = model(
            torch.cat([z, z]),
            torch.cat([t, t]),
            torch.cat([y, y_null]),
            None if mask is None else torch.cat([mask, mask]),
            None if x_mask is None else torch.cat([x_mask, x_mask]),
        )
        v = both[:, : z.shape[1]]
        conditional, unconditional = v.chunk(2)
        return unconditional + scale * (conditional - unconditional)

    return velocity
