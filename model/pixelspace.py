"""The identity autoencoder of `model.latent_space: pixels` [smoke]: the UNet denoises frames in [-1, 1].

It stands where SVD's `AutoencoderKLTemporalDecoder` stands and answers the same calls (`encode(x)
.latent_dist.mode()`, `decode(z, num_frames).sample`, `config.scaling_factor`, one `block_out_channels`
entry so the pipeline's spatial scale factor is 1), so training, sampling and vae-recon run unchanged.
Encoding then decoding returns the frames exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin


@dataclass
class _Posterior:
    value: torch.Tensor

    def mode(self) -> torch.Tensor:
        return self.value

    def sample(self, generator=None) -> torch.Tensor:
        return self.value


@dataclass
class _Encoded:
    latent_dist: _Posterior


@dataclass
class _Decoded:
    sample: torch.Tensor


class PixelSpace(ModelMixin, ConfigMixin):
    """Identity 'VAE': latents are the RGB frames themselves (3 channels, full resolution)."""

    @register_to_config
    def __init__(self, latent_channels: int = 3, scaling_factor: float = 1.0, block_out_channels=(3,)):
        super().__init__()
        # ModelMixin wants a parameter to report a device and dtype; it is never used.
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def encode(self, x: torch.Tensor) -> _Encoded:
        return _Encoded(_Posterior(x))

    def decode(self, z: torch.Tensor, num_frames: int | None = None) -> _Decoded:
        return _Decoded(z)

    def forward(self, x: torch.Tensor, num_frames: int | None = None) -> _Decoded:
        return self.decode(self.encode(x).latent_dist.mode(), num_frames)
