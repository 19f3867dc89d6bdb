"""VideoFusion for the efficiency tables: diffusers' UNet3DConditionModel at ModelScope text-to-video's
configuration (its defaults: blocks 320/640/1280/1280, 2 layers each, cross-attention width 1024, heads of
64 channels), the Stable Diffusion VAE and an OpenCLIP ViT-H/14 text tower as diffusers/transformers
classes, random weights, trained whole with the DDPM noise-prediction loss. Only for `aidbench bench`:
VideoFusion's numbers in the paper's quality tables are the paper's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from aidbench.config import Config
from aidbench.data.clips import to_model

# Stable Diffusion 2.x VAE (diffusers' AutoencoderKL, vae/config.json)
SD_VAE = dict(
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    scaling_factor=0.18215,
)
# OpenCLIP ViT-H/14 text tower as transformers' CLIPTextModel cut at its penultimate layer (23 of 24, as
# SD 2.x and ModelScope load it)
TEXT = dict(
    hidden_size=1024,
    intermediate_size=4096,
    num_hidden_layers=23,
    num_attention_heads=16,
    projection_dim=1024,
    hidden_act="gelu",
)
TINY_UNET = dict(
    block_out_channels=(32, 64),
    down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=8,
)
TINY_VAE = dict(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2, latent_channels=4)
TINY_TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)


class VideoFusionObjective:
    def __init__(self, unet, vae, text):
        from diffusers import DDPMScheduler

        self.unet, self.vae, self.text = unet, vae, text
        # ModelScope's schedule: 1000 steps, scaled-linear betas 0.00085 → 0.012
        self.scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        device = next(self.unet.parameters()).device
        frames = to_model(np.stack([c.frames for c in clips])).to(device)
        b, t = frames.shape[:2]
        with torch.no_grad():
            latents = (
                self.vae.encode(frames.flatten(0, 1)).latent_dist.mode() * self.vae.config.scaling_factor
            )
            latents = latents.unflatten(0, (b, t)).transpose(1, 2)  # (B, 4, T, h, w)
            # the tokenizer's files are not needed for timing: random ids of the full 77-token context
            ids = torch.randint(0, self.text.config.vocab_size, (b, 77), generator=generator).to(device)
            context = self.text(ids).last_hidden_state
        noise = torch.randn(latents.shape, generator=generator).to(device, latents.dtype)
        steps = torch.randint(0, self.scheduler.config.num_train_timesteps, (b,), generator=generator)
        noisy = self.scheduler.add_noise(latents, noise, steps).to(device)
        prediction = self.unet(noisy, steps.to(device), encoder_hidden_states=context).sample
        return F.mse_loss(prediction.float(), noise.float())


def trainee(config: Config):
    from diffusers import AutoencoderKL, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from aidbench.stages.train import Trainee

    tiny = config.model.size != "paper"  # tiny and smoke: the test widths
    torch.manual_seed(config.seed)
    unet = UNet3DConditionModel(**(TINY_UNET if tiny else {}))
    vae = AutoencoderKL(**(TINY_VAE if tiny else SD_VAE)).requires_grad_(False).eval()
    text = CLIPTextModel(CLIPTextConfig(**(TINY_TEXT if tiny else TEXT))).requires_grad_(False).eval()
    return Trainee(unet, VideoFusionObjective(unet, vae, text), (vae, text))
