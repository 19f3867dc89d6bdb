"""opensora-zeroshot and opensora-fullft: Open-Sora 1.2 as instruction-guided image-to-video (supplementary
Table 2) — STDiT3-XL/2 (opensora.py), its video VAE (opensora_vae.py), T5-XXL captions (opensora_text.py) and
its rectified flow (rflow.py), assembled for a config.

paper: the released weights (`opensora-stdit3`, `opensora-vae`, `t5-xxl`); tiny: the same classes at test
sizes with random weights seeded by config.seed (a two-block STDiT3, a small SDXL-layout VAE and temporal
VAE, a one-layer T5 with an in-code character tokenizer), no files needed. The smoke options apply as they
do to AID: `model.latent_space: pixels` replaces the VAE with the identity (STDiT3 reads 3 channels) and
`model.text_tower: words` the tiny T5 with fixed word features.

Reference frames [ours]. A clip of T frames with K references is encoded in two parts: the K reference
frames alone (latent_frames(K) latent frames; 1 for K ≤ 4, as Open-Sora encodes a conditioning image) and
the T − K frames to predict (latent_frames(T − K); 4 for 15 or 16). The reference latents come first and are
held clean (x_mask False: STDiT3 modulates them with timestep 0), in training and in sampling alike, so no
held latent ever sees a frame to predict. For T = 17, K = 1 this is Open-Sora's own 17 → 5 layout
(1 + 4 latent frames). Only the predicted part is decoded; the true reference pixels are the sample's first
K frames (sample_clips puts them there).

Sampling: Euler over Open-Sora's 30 steps (sample.num_inference_steps) with caption guidance 7.0
(sample.opensora_guidance_scale), STDiT3's learned null caption as the unconditional branch; VAE noise
and the initial noise come from the clip's seed; on a GPU STDiT3 samples under bfloat16 autocast and
T5 runs in bfloat16, as in Open-Sora. Open-Sora's prompt suffixes ("aesthetic score: 6.5") are
not added: the caption is the instruction alone.

opensora-fullft trains every STDiT3 parameter (all but the fixed rotary frequencies) with Open-Sora 1.2's
loss: logit-normal t, its timestep transform (model.opensora.timestep_transform), velocity target x0 − ε,
reference latents held clean and left out of the loss, 10% caption dropout to the null caption
(model.opensora.caption_dropout; Open-Sora's own rate). All randomness comes from the step's generator.
Timesteps: Open-Sora's transform maps every t to 0 for clips of 2…16 frames (see rflow.py); such a config
is refused by the preflight unless model.opensora.timestep_transform is latent-frames or off [ours].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aidbench import distributed, weights
from aidbench.baselines.opensora import XL_2, STDiT3, parameters, system_config
from aidbench.baselines.opensora_text import CaptionEncoder, WordCaptions
from aidbench.baselines.opensora_vae import PixelVideo, VideoVAE
from aidbench.data.clips import from_model, quantisation, to_model
from aidbench.data.open import open_dataset
from aidbench.errors import UserError
from aidbench.stages.sample import sample_clips
from aidbench.systems import System


@dataclass
class OpenSoraParts:
    denoiser: STDiT3
    vae: VideoVAE | PixelVideo
    captions: CaptionEncoder | WordCaptions

    def frozen_to(self, device) -> OpenSoraParts:
        """The frozen VAE (float32) and T5 (bfloat16 on a GPU, Open-Sora's training dtype: T5-XXL's encoder
        is 19 GB in float32, which beside STDiT3's full fine-tune at batch 8 does not fit an 80 GB card)."""
        device = torch.device(device)
        self.vae.to(device)
        self.captions.model.to(device)
        if device.type == "cuda":
            self.captions.model.to(torch.bfloat16)
        return self


def build(config, random_weights: bool = False) -> OpenSoraParts:
    """Open-Sora for a config: tiny (random, seeded), the released weights, or with `random_weights` the
    released architectures at random (`aidbench bench`: timing needs no download)."""
    from aidbench.baselines import opensora_vae
    from aidbench.baselines.opensora import load
    from aidbench.baselines.opensora_text import (
        WordCaptions,
        random_caption_encoder,
        tiny_caption_encoder,
    )

    if config.model.size != "paper":  # tiny and smoke: the test widths
        pixels = config.model.latent_space == "pixels"
        vae = opensora_vae.PixelVideo() if pixels else None
        torch.manual_seed(config.seed)
        denoiser = STDiT3(system_config(config))
        if vae is None:
            torch.manual_seed(config.seed + 1)
            vae = VideoVAE(opensora_vae.sdxl_vae(tiny=True), opensora_vae.TemporalVAE(filters=32))
        if config.model.text_tower == "words":
            captions = WordCaptions(denoiser.config.model_max_length, denoiser.config.caption_channels)
        else:
            captions = tiny_caption_encoder(
                denoiser.config.model_max_length, denoiser.config.caption_channels, config.seed + 2
            )
    elif random_weights:
        torch.manual_seed(config.seed)
        denoiser = STDiT3(XL_2)
        vae = VideoVAE(opensora_vae.sdxl_vae(), opensora_vae.TemporalVAE())
        captions = random_caption_encoder(config.seed + 2)
    else:
        denoiser = load(weights.resolve_for(config, "opensora-stdit3"))
        vae = opensora_vae.load(weights.resolve_for(config, "opensora-vae"))
        captions = CaptionEncoder.from_folder(weights.resolve_for(config, "t5-xxl"))
    vae.requires_grad_(False).eval()
    denoiser.rope.requires_grad_(False)
    return OpenSoraParts(denoiser, vae, captions)


def schedule(config, num_latent_frames: int) -> dict[str, Any]:
    """The timestep transform's settings for rflow (model.opensora.timestep_transform)."""
    mode = config.model.opensora.timestep_transform
    return {
        "transform": mode != "off",
        "latent_frames": num_latent_frames if mode == "latent-frames" else None,
    }


def encode_clips(vae: VideoVAE, frames: torch.Tensor, k: int, generator) -> tuple[torch.Tensor, int]:
    """frames (B, T, 3, H, W) in [-1, 1] → latents (B, 4, Lr + Lf, h, w) and Lr, the held reference latents:
    the K references and the T − K frames to predict encoded apart (see the module's docstring)."""
    x = frames.movedim(1, 2)
    references = vae.encode(x[:, :, :k], generator)
    rest = vae.encode(x[:, :, k:], generator)
    return torch.cat([references, rest], dim=2), references.shape[2]


def _fps(config, batch: int, device) -> torch.Tensor:
    return torch.full((batch,), config.model.opensora.fps, device=device)


class OpenSoraObjective:
    """Open-Sora 1.2's rectified-flow loss with held reference latents; randomness from the step's generator."""

    def __init__(self, parts: OpenSoraParts, config):
        self.parts, self.config = parts, config

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        from aidbench.baselines import rflow

        dit = self.parts.denoiser
        device = next(dit.parameters()).device
        frames = to_model(np.stack([c.frames for c in clips])).to(device)
        b, t, _, height, width = frames.shape
        drop = torch.rand(b, generator=generator) < self.config.model.opensora.caption_dropout
        with torch.no_grad():
            x0, held = encode_clips(self.parts.vae, frames, clips[0].num_ref_frames, generator)
            y, mask = self.parts.captions([c.instruction for c in clips])
        y = y.float()
        null = dit.y_embedder.y_embedding[None, None].to(y.dtype)
        y = torch.where(drop.to(device)[:, None, None, None], null, y)
        x_mask = torch.ones(b, x0.shape[2], dtype=torch.bool, device=device)
        x_mask[:, :held] = False
        timesteps = rflow.training_timesteps(
            b, generator, height, width, t, **schedule(self.config, x0.shape[2])
        )
        noise = torch.randn(x0.shape, generator=generator).to(device)
        fps, mask = _fps(self.config, b, device), mask.to(device)

        def velocity(x_t, t_, x_mask_):
            return dit(x_t, t_, y, mask, x_mask_, fps=fps)[:, : x0.shape[1]]

        return rflow.training_loss(velocity, x0, noise, timesteps.to(device), x_mask)


def generator_for(config, parts: OpenSoraParts):
    """predict(context) → uint8 (T − K, H, W, 3), the predicted frames (predictor.py)."""
    from aidbench.baselines import rflow

    dit = parts.denoiser
    steps, scale = config.sample.num_inference_steps, config.sample.opensora_guidance_scale

    @torch.no_grad()
    def generate(context):
        device = next(dit.parameters()).device
        generator = context.generator()
        frames = to_model(context.reference).to(device)
        t, k = context.num_frames, context.num_ref_frames
        height, width = context.size
        reference = parts.vae.encode(frames.movedim(0, 1)[None], generator)
        held = reference.shape[2]
        total = held + parts.vae.latent_frames(t - k)
        noise = torch.randn((1, reference.shape[1], total, *reference.shape[3:]), generator=generator)
        noise = noise.to(device)
        reference = torch.cat([reference, torch.zeros_like(noise[:, :, held:])], dim=2)
        reference_frames = torch.zeros(1, total, dtype=torch.bool, device=device)
        reference_frames[:, :held] = True
        y, mask = parts.captions([context.instruction])
        y, mask = y.to(device, torch.float32), mask.to(device)
        null = dit.y_embedder.y_embedding[None, None].to(y.dtype)
        fps = _fps(config, 2, device)

        def model(x, t_, y_, mask_, x_mask):
            return dit(x, t_, y_, mask_, x_mask, fps=fps)

        timesteps = rflow.sampling_timesteps(steps, height, width, t, **schedule(config, total))
        with torch.autocast("cuda", torch.bfloat16, enabled=device.type == "cuda"):  # as Open-Sora samples
            z = rflow.sample(
                rflow.guided(model, y, null, mask, scale), noise, timesteps, reference, reference_frames
            )
        predicted = parts.vae.decode(z[:, :, held:], t - k)[0].movedim(0, 1)
        return from_model(predicted, quantisation(config.data))

    return generate


def sample_zeroshot(config, run, checkpoint, split) -> dict[str, Any]:
    parts = build(config)
    state = distributed.state(config.device == "cpu")
    parts.frozen_to(state.device).denoiser.to(state.device).eval()
    about = {"system": "opensora-zeroshot"}
    return sample_clips(config, run, split, generator_for(config, parts), state, lambda context: about)


def train(config, run, on_step=None) -> dict[str, Any]:
    from aidbench.stages.train import Trainee
    from aidbench.stages.train import train as run_training

    parts = build(config)
    parts.denoiser.requires_grad_(True).rope.requires_grad_(False)
    parts.frozen_to(distributed.state(config.device == "cpu").device)
    trainee = Trainee(
        parts.denoiser, OpenSoraObjective(parts, config), (), lambda: generator_for(config, parts)
    )
    return run_training(config, run, trainee, on_step)


def sample_finetuned(config, run, checkpoint, split) -> dict[str, Any]:
    from aidbench.stages.train import checkpoint_weights, load_trainable

    weights = checkpoint_weights(checkpoint)
    parts = build(config)
    load_trainable(parts.denoiser, weights)
    state = distributed.state(config.device == "cpu")
    parts.frozen_to(state.device).denoiser.to(state.device).eval()
    about = {"system": "opensora-fullft", "checkpoint": str(checkpoint)}
    return sample_clips(config, run, split, generator_for(config, parts), state, lambda context: about)


def check(config, split) -> None:
    """Before any run starts: the three weights (paper size), a timestep schedule that is not all zeros,
    and a readable split."""

    frames = config.data.num_frames
    if config.model.opensora.timestep_transform == "open-sora" and 1 < frames < 17:
        raise UserError(
            f"data.num_frames={frames} with model.opensora.timestep_transform=open-sora maps every timestep to 0 "
            "(Open-Sora's frames′ = frames // 17 · 5 is 0 below 17 frames); set "
            "model.opensora.timestep_transform=latent-frames (or off), or use 17·k frames."
        )
    if config.model.size == "paper":
        for name in ("opensora-stdit3", "opensora-vae", "t5-xxl"):
            weights.resolve_for(config, name)
    open_dataset(config, split)


def zeroshot_parameters(config) -> dict[str, Any]:
    """STDiT3's parameters, none of them trained (the released weights as they are)."""
    report = parameters(config)
    for counts in report["components"].values():
        counts["trainable"] = 0
    return {**report, "trainable": 0}


OPENSORA_ZEROSHOT = System(
    "opensora-zeroshot", parameters=zeroshot_parameters, sample=sample_zeroshot, check=check
)
OPENSORA_FULLFT = System(
    "opensora-fullft", parameters=parameters, train=train, sample=sample_finetuned, check=check
)
