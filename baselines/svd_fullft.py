"""svd-fullft: SVD with every UNet parameter fine-tuned, no text (supplementary Table 2: 1528M trainable).

The AID trainer with SVD's own conditioning — the first frame's CLIP embedding as the single
cross-attention token and the reference latents — and the whole UNet trainable; no adapters, no
MCondition. 10% of clips drop the visual condition [ours] so SVD's guidance keeps its unconditional branch.
Sampling is SVD's (per-frame guidance 1.0 → 3.0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from aidbench.model.spec import ModelSpec

VISUAL_DROPOUT = 0.1


def build(config):
    from aidbench.baselines.svd import build_svd
    from aidbench.model.aid import AIDDenoiser
    from aidbench.model.components import AIDComponents

    from aidbench.config import AdapterConfig

    svd = build_svd(config)
    svd.vae.requires_grad_(False).eval()
    svd.image_encoder.requires_grad_(False).eval()
    denoiser = AIDDenoiser(svd.unet, AdapterConfig(spatial=False, short_term=False, long_term=False), None)
    denoiser.unet.requires_grad_(True)
    return AIDComponents(svd, denoiser, None)


class SVDObjective:
    """SVD's EDM loss with its own conditioning; randomness from the step's generator."""

    def __init__(self, parts):
        from aidbench.model.edm import EDMLoss

        self.parts, self.edm = parts, EDMLoss()

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        from aidbench.model.edm import reference_conditioning
        from aidbench.model.train import FPS, MOTION_BUCKET, NOISE_AUG, first_frame_embedding

        from aidbench.data.clips import to_model

        svd, denoiser = self.parts.svd, self.parts.denoiser
        device = next(denoiser.parameters()).device
        frames = to_model(np.stack([c.frames for c in clips])).to(device)
        b, t = frames.shape[:2]
        k = clips[0].num_ref_frames
        keep = (torch.rand(b, generator=generator) >= VISUAL_DROPOUT).to(device, frames.dtype)
        with torch.no_grad():
            scale = svd.vae.config.scaling_factor
            latents = svd.vae.encode(frames.flatten(0, 1)).latent_dist.mode().unflatten(0, (b, t)) * scale
            noisy = frames[:, :k] + NOISE_AUG * torch.randn(frames[:, :k].shape, generator=generator).to(
                device
            )
            refs = svd.vae.encode(noisy.flatten(0, 1)).latent_dist.mode().unflatten(0, (b, k))
            visual = first_frame_embedding(svd, frames[:, 0])
        refs = refs * keep.view(-1, 1, 1, 1, 1)
        visual = visual * keep.view(-1, 1, 1)
        ids = torch.tensor([[FPS - 1, MOTION_BUCKET, NOISE_AUG]], device=device).repeat(b, 1)
        sigma = self.edm.sample_sigma(b, generator).to(device)
        noise = torch.randn(latents.shape, generator=generator).to(device)
        return self.edm(
            lambda x, c_noise: denoiser(x, c_noise, ids, encoder_hidden_states=visual),
            latents,
            reference_conditioning(refs, t),
            k,
            sigma,
            noise,
        )


def svd_generator(config, parts):
    from aidbench.model.pipeline import AIDPipeline, to_uint8
    from aidbench.model.sample import sampling_settings

    pipeline = AIDPipeline(parts.svd, parts.denoiser)
    settings = sampling_settings(config)
    guidance = (config.sample.svd_min_guidance, config.sample.svd_max_guidance)

    def generate(clip, seed):
        frames = pipeline(
            clip.frames[:1],
            clip.frames.shape[0],
            settings=settings,
            generator=torch.Generator().manual_seed(seed),
            svd_guidance=guidance,
        )
        return to_uint8(frames)

    return generate


def train(config, run, on_step=None) -> dict[str, Any]:
    from aidbench.model.train import train as run_training

    parts = build(config)
    return run_training(config, run, parts, on_step, SVDObjective(parts), svd_generator)


def sample(config, run, checkpoint, split) -> dict[str, Any]:
    from accelerate import PartialState
    from aidbench.model.sample import sample_clips
    from aidbench.model.train import load_trainable

    parts = build(config)
    load_trainable(parts.denoiser, checkpoint / "trainable.safetensors")
    state = PartialState(cpu=config.device == "cpu")
    parts.svd.to(state.device)
    parts.denoiser.to(state.device).eval()
    about = {"system": "svd-fullft", "checkpoint": str(checkpoint)}
    return sample_clips(config, run, split, svd_generator(config, parts), state, lambda clip: about)


def parameters(config) -> dict[str, Any]:
    from aidbench.model.aid import build_unet

    with torch.device("meta"):
        unet = build_unet(config.model.size)
    total = sum(p.numel() for p in unet.parameters())
    components = {"unet (SVD 3D UNet, all trained)": {"total": total, "trainable": total}}
    return {"model": "svd-fullft", "total": total, "trainable": total, "components": components}


def _check(config, split):
    from aidbench.baselines.svd import check

    check(config, split)


SVD_FULLFT = ModelSpec("svd-fullft", parameters=parameters, train=train, sample=sample, check=_check)
