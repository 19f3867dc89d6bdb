"""svd-fullft: SVD with every UNet parameter fine-tuned, no text (supplementary Table 2: 1528M trainable).

The AID trainer with SVD's own conditioning — the first frame's CLIP embedding as the single
cross-attention token and the reference latents — and the whole UNet trainable; no adapters, no
MCondition. 10% of clips drop the visual condition [ours] so SVD's guidance keeps its unconditional branch.
Sampling is SVD's (per-frame guidance 1.0 → 3.0).
"""

from __future__ import annotations

from typing import Any

import torch

from aidbench import distributed
from aidbench.baselines.svd import build_svd, check, svd_generator
from aidbench.config import AdapterConfig
from aidbench.stages.sample import sample_clips
from aidbench.systems import System

VISUAL_DROPOUT = 0.1


def build(config, random_weights: bool = False):
    from aidbench.model.aid import AIDDenoiser
    from aidbench.model.components import AIDComponents

    svd = build_svd(config, random_weights)
    svd.vae.requires_grad_(False).eval()
    svd.image_encoder.requires_grad_(False).eval()
    denoiser = AIDDenoiser(svd.unet, AdapterConfig(spatial=False, short_term=False, long_term=False), None)
    denoiser.unet.requires_grad_(True)
    return AIDComponents(svd, denoiser, None)


class SVDObjective:
    """SVD's EDM loss with its own conditioning; randomness from the step's generator."""

    def __init__(self, parts, edm=None):
        from aidbench.model.edm import EDMLoss

        self.parts, self.edm = parts, edm or EDMLoss()

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        from aidbench.model.objective import denoising_loss, encode_clips, svd_time_ids

        svd, denoiser = self.parts.svd, self.parts.denoiser
        device = next(denoiser.parameters()).device
        keep = (torch.rand(len(clips), generator=generator) >= VISUAL_DROPOUT).to(device)
        encoded = encode_clips(svd, clips, generator, device)
        keep = keep.to(encoded.latents.dtype)
        visual = encoded.visual * keep.view(-1, 1, 1)
        ids = svd_time_ids(len(clips), device)
        return denoising_loss(
            self.edm,
            lambda x, c_noise: denoiser(x, c_noise, ids, encoder_hidden_states=visual),
            encoded,
            encoded.references * keep.view(-1, 1, 1, 1, 1),
            generator,
        )


def train(config, run, on_step=None) -> dict[str, Any]:
    from aidbench.model.edm import EDMLoss
    from aidbench.model.system import trainee
    from aidbench.stages.train import train as run_training

    parts = build(config)
    objective = SVDObjective(parts, EDMLoss.from_config(config.train))
    return run_training(config, run, trainee(parts, objective, lambda: svd_generator(config, parts)), on_step)


def sample(config, run, checkpoint, split) -> dict[str, Any]:
    from aidbench.stages.train import checkpoint_weights, load_trainable

    weights = checkpoint_weights(checkpoint)
    parts = build(config)
    load_trainable(parts.denoiser, weights)
    state = distributed.state(config.device == "cpu")
    parts.svd.to(state.device)
    parts.denoiser.to(state.device).eval()
    about = {"system": "svd-fullft", "checkpoint": str(checkpoint)}
    return sample_clips(config, run, split, svd_generator(config, parts), state, lambda context: about)


def parameters(config) -> dict[str, Any]:
    from aidbench.model.aid import build_unet

    with torch.device("meta"):
        unet = build_unet(config.model.size, config.model.latent_space)
    total = sum(p.numel() for p in unet.parameters())
    components = {"unet (SVD 3D UNet, all trained)": {"total": total, "trainable": total}}
    return {"model": "svd-fullft", "total": total, "trainable": total, "components": components}


def _check(config, split):
    check(config, split)


SVD_FULLFT = System(
    "svd-fullft", parameters=parameters, train=train, sample=sample, check=_check, on_base=True
)
