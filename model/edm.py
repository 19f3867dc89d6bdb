"""SVD's EDM formulation (v-prediction): preconditioning, noise levels, the training loss, the conditioning.

D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ)) with c_skip = 1/(σ²+1), c_out = −σ/√(σ²+1),
c_in = 1/√(σ²+1), c_noise = ¼·ln σ — the same conventions as diffusers' EulerDiscreteScheduler configured
for SVD (so sampling uses that scheduler unchanged). Training draws ln σ ~ N(0.7, 1.6) and weighs the
squared error by (σ²+1)/σ², on the predicted (non-reference) frames only [ours, as Seer].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# diffusers' EulerDiscreteScheduler settings of stabilityai/stable-video-diffusion-img2vid
SVD_SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="v_prediction",
    interpolation_type="linear",
    use_karras_sigmas=True,
    sigma_min=0.002,
    sigma_max=700.0,
    timestep_spacing="leading",
    timestep_type="continuous",
    steps_offset=1,
)


def scheduler():
    from diffusers import EulerDiscreteScheduler

    # Its tables stay on the CPU (set_timesteps converts them with numpy), even when the models around it
    # are built under `torch.device("cuda")`.
    with torch.device("cpu"):
        return EulerDiscreteScheduler(**SVD_SCHEDULER)


def preconditioning(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(c_skip, c_out, c_in, c_noise) for noise levels σ (any shape)."""
    scale = sigma**2 + 1
    return 1 / scale, -sigma / scale.sqrt(), 1 / scale.sqrt(), 0.25 * sigma.log()


def reference_conditioning(reference: torch.Tensor, num_frames: int) -> torch.Tensor:
    """The 4 conditioning channels of every frame from K reference latents (B, K, 4, h, w).

    Frame f gets reference min(f, K − 1): the known frames in place, the last known frame for every frame
    to predict. With K = 1 this is SVD's conditioning (the first frame repeated); it keeps the UNet's
    8 input channels, so SVD's first convolution stays valid [ours: the paper's mask is not specified].
    """
    k = reference.shape[1]
    if k > num_frames - 1:
        raise ValueError(f"{k} reference frames leave nothing to predict in a {num_frames}-frame clip")
    index = torch.clamp(torch.arange(num_frames, device=reference.device), max=k - 1)
    return reference[:, index]


def motion_mask(latents: torch.Tensor, threshold: float = 1e-3) -> torch.Tensor:
    """(B, 1, 1, h, w): 1 where any frame of the clip differs from its first frame (what the motion touches)."""
    change = (latents - latents[:, :1]).abs().amax(dim=(1, 2), keepdim=True)
    return (change > threshold).to(latents.dtype)


@dataclass(frozen=True)
class EDMLoss:
    log_sigma_mean: float = 0.7
    log_sigma_std: float = 1.6
    # [smoke] weight of the positions the motion touches (`motion_mask`); 1.0: the plain loss
    motion_weight: float = 1.0

    @classmethod
    def from_config(cls, train) -> EDMLoss:
        """The loss a TrainConfig asks for (noise levels, motion weighting)."""
        return cls(train.log_sigma_mean, train.log_sigma_std, train.motion_loss_weight)

    def sample_sigma(
        self, batch: int, generator: torch.Generator | None = None, device="cpu"
    ) -> torch.Tensor:
        normal = torch.randn(batch, generator=generator, device=device)
        return (self.log_sigma_mean + self.log_sigma_std * normal).exp()

    def __call__(
        self,
        model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        latents: torch.Tensor,
        condition: torch.Tensor,
        num_reference: int,
        sigma: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        """Weighted denoising error of the predicted frames.

        model(unet_input (B, T, 8, h, w), c_noise (B,)) → F (B, T, 4, h, w); latents, noise (B, T, 4, h, w);
        condition (B, T, 4, h, w) from `reference_conditioning`; sigma (B,).
        """
        c_skip, c_out, c_in, c_noise = (c.view(-1, 1, 1, 1, 1) for c in preconditioning(sigma))
        noisy = latents + sigma.view(-1, 1, 1, 1, 1) * noise
        output = model(torch.cat([c_in * noisy, condition], dim=2), c_noise.flatten())
        denoised = c_skip * noisy + c_out * output
        weight = (sigma**2 + 1) / sigma**2
        squared = (denoised - latents) ** 2
        if self.motion_weight != 1.0:
            squared = squared * (1 + (self.motion_weight - 1) * motion_mask(latents))
        error = squared[:, num_reference:].mean(dim=(1, 2, 3, 4))
        return (weight * error).mean()
