"""AIDPipeline: EDM Euler sampling with AID's dual classifier-free guidance, on top of diffusers' SVD pipeline.

The SVD pipeline supplies what AID keeps from SVD (first-frame CLIP embedding, VAE encoding with noise
augmentation, micro-conditioning ids, the EDM Euler scheduler, decoding); this class owns the denoising
loop. Guidance, InstructPix2Pix's form, with the three branches in one batched UNet call:
    e = e(z, ∅, ∅) + s_V·[e(z, c_V, ∅) − e(z, ∅, ∅)] + s_T·[e(z, c_V, c_T) − e(z, c_V, ∅)]
where c_V is the reference frames (their latents, and the first frame's CLIP features inside MCondition)
and c_T the instruction and MLLM states. `svd_guidance=(min, max)` instead runs SVD's own sampler
(per-frame linear guidance on the image condition, no MCondition): frames then equal diffusers'
StableVideoDiffusionPipeline's for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from aidbench.data.clips import quantise
from aidbench.model.aid import AIDDenoiser
from aidbench.model.edm import reference_conditioning
from aidbench.model.text import TextEncoder


@dataclass(frozen=True)
class SamplingSettings:
    num_inference_steps: int = 30  # supplementary Table 7
    text_guidance_scale: float = 12.0
    visual_guidance_scale: float = 1.5
    fps: int = 7  # SVD micro-conditioning (the UNet sees fps − 1)
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02
    decode_chunk_size: int = 8


class AIDPipeline:
    def __init__(self, svd, denoiser: AIDDenoiser, text_encoder: TextEncoder | None = None):
        self.svd, self.denoiser, self.text_encoder = svd, denoiser, text_encoder

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    # ------------------------------------------------------------------ conditions

    def _reference_latents(
        self, frames: np.ndarray, height: int, width: int, settings, generator
    ) -> torch.Tensor:
        """(1, K, 4, h, w) latents of the K reference frames, noise-augmented as SVD does."""
        latents = []
        for frame in frames:
            image = self.svd.video_processor.preprocess(Image.fromarray(frame), height=height, width=width)
            image = image.to(self.device)
            # as diffusers draws it: on the generator's device (the CPU), then moved
            noise = randn_tensor(image.shape, generator=generator, device=image.device, dtype=image.dtype)
            image = image + settings.noise_aug_strength * noise
            latents.append(self.svd.vae.encode(image.to(self.svd.vae.dtype)).latent_dist.mode())
        return torch.stack(latents, dim=1)

    def _clip_embedding(self, frame: np.ndarray) -> torch.Tensor:
        return self.svd._encode_image(Image.fromarray(frame), self.device, 1, False)  # (1, 1, C)

    def mcondition(self, visual: torch.Tensor, instruction: str, states: list[str] | None, num_frames: int):
        """MCondition for (∅, ∅), (c_V, ∅), (c_V, c_T): (3, T, L, C)."""
        if self.text_encoder is None or self.denoiser.dqformer is None:
            raise ValueError("AID sampling needs the text encoder and DQFormer")
        text = self.text_encoder([instruction, ""])
        use_states = self.denoiser.dqformer.config.use_states
        t2 = self.text_encoder.states([states or [""] * 4, [""] * 4]) if use_states else None
        empty_states = t2[1:] if t2 is not None else None
        no_visual = torch.zeros_like(visual)
        return torch.cat(
            [
                self.denoiser.dqformer(text[1:], no_visual, empty_states, num_frames),
                self.denoiser.dqformer(text[1:], visual, empty_states, num_frames),
                self.denoiser.dqformer(text[:1], visual, t2[:1] if t2 is not None else None, num_frames),
            ]
        )

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def __call__(
        self,
        reference: np.ndarray,
        num_frames: int,
        instruction: str | None = None,
        states: list[str] | None = None,
        settings: SamplingSettings = SamplingSettings(),
        generator: torch.Generator | None = None,
        svd_guidance: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """reference: (K, H, W, 3) uint8 → the clip, (T, H, W, 3) float in [0, 1], references included."""
        height, width = reference.shape[1:3]
        svd = self.svd
        embedding = self._clip_embedding(reference[0])
        ref_latents = self._reference_latents(reference, height, width, settings, generator)
        condition = reference_conditioning(ref_latents, num_frames)
        ids = svd._get_add_time_ids(
            settings.fps - 1,
            settings.motion_bucket_id,
            settings.noise_aug_strength,
            embedding.dtype,
            1,
            1,
            False,
        ).to(self.device)
        svd.scheduler.set_timesteps(settings.num_inference_steps, device=self.device)
        channels = self.denoiser.unet.config.in_channels  # noisy clip + reference conditioning
        latents = svd.prepare_latents(
            1, num_frames, channels, height, width, embedding.dtype, self.device, generator
        )
        zeros = torch.zeros_like(condition)
        if svd_guidance is not None:
            scale = torch.linspace(*svd_guidance, num_frames, device=self.device).view(1, -1, 1, 1, 1)
            context = {"encoder_hidden_states": torch.cat([torch.zeros_like(embedding), embedding])}
            conditions, branches = torch.cat([zeros, condition]), 2
        else:
            context = {"mcondition": self.mcondition(embedding, instruction or "", states, num_frames)}
            conditions, branches = torch.cat([zeros, condition, condition]), 3
        for t in svd.scheduler.timesteps:
            x = svd.scheduler.scale_model_input(torch.cat([latents] * branches), t)
            out = self.denoiser(torch.cat([x, conditions], dim=2), t, ids.repeat(branches, 1), **context)
            if branches == 2:
                uncond, cond = out.chunk(2)
                guided = uncond + scale * (cond - uncond)
            else:
                none, visual, full = out.chunk(3)
                guided = (
                    none
                    + settings.visual_guidance_scale * (visual - none)
                    + settings.text_guidance_scale * (full - visual)
                )
            latents = svd.scheduler.step(guided, t, latents).prev_sample
        frames = svd.decode_latents(latents, num_frames, settings.decode_chunk_size)
        return svd.video_processor.postprocess_video(video=frames, output_type="np")[0]


def to_uint8(frames: np.ndarray, mode: str = "round") -> np.ndarray:
    """The pipeline's [0, 1] frames as uint8, quantised as the data chain says (`clips.quantisation`)."""
    return quantise(frames, mode)


def extend(
    pipeline: AIDPipeline,
    reference: np.ndarray,
    instructions: list[str],
    num_frames: int,
    settings: SamplingSettings = SamplingSettings(),
    generator: torch.Generator | None = None,
) -> np.ndarray:
    """Long videos, clip by clip: each next clip starts from the last two frames of the one before
    (supplementary Fig. 8 and 13); one instruction per clip. Returns uint8 (N, H, W, 3)."""
    video = to_uint8(pipeline(reference, num_frames, instructions[0], settings=settings, generator=generator))
    for instruction in instructions[1:]:
        clip = to_uint8(pipeline(video[-2:], num_frames, instruction, settings=settings, generator=generator))
        video = np.concatenate([video, clip[2:]])
    return video
