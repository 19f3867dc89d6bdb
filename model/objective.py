"""AID's training objective and the SVD conditioning it builds on (the loop is aidbench.stages.train).

Condition dropout [ours, as InstructPix2Pix]: 5% of clips lose the text condition, 5% the visual one,
5% both, so dual guidance has its unconditional branches.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aidbench.config import Config
from aidbench.data import states, synthtvp
from aidbench.data.clips import to_model
from aidbench.errors import UserError
from aidbench.model.components import AIDComponents
from aidbench.model.edm import EDMLoss, reference_conditioning

FPS, MOTION_BUCKET, NOISE_AUG = 7, 127, 0.02  # SVD's micro-conditioning defaults


@dataclass(frozen=True)
class ConditionDropout:
    text: float = 0.05
    visual: float = 0.05
    both: float = 0.05


@functools.lru_cache(maxsize=8)
def _resize_maps(height: int, width: int, size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """SVD's resize to size² (diffusers' `_resize_with_antialiasing`: a Gaussian blur, then bicubic) is
    linear and separable, so it is two fixed matrices for an input size, read off by resizing the
    identity one axis at a time (the other axis kept, where the resize is exactly the identity)."""
    from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
        _resize_with_antialiasing,
    )

    def along_height(n: int, keep: int) -> torch.Tensor:
        basis = torch.eye(n, dtype=torch.float64).view(n, 1, n, 1).expand(n, 1, n, keep).contiguous()
        return _resize_with_antialiasing(basis, (size, keep))[:, 0, :, 0].T  # (size, n)

    return along_height(height, 4).float().to(device), along_height(width, 4).float().to(device)


def first_frame_embedding(svd, frames: torch.Tensor) -> torch.Tensor:
    """SVD's CLIP image embedding of frames in [-1, 1] (B, 3, H, W) → (B, 1, C), as its pipeline computes it
    (resize to 224², to [0, 1], CLIP's normalisation), with the resize as two matrix products: the
    bicubic kernel alone cost a small training step a tenth of its time."""
    rows, cols = _resize_maps(*frames.shape[-2:], 224, str(frames.device))
    processor = svd.feature_extractor
    # (x + 1) / 2 to [0, 1], then CLIP's (· − mean) / std, as one scale and shift per channel
    std = torch.tensor(processor.image_std, device=frames.device).view(1, 3, 1, 1)
    mean = torch.tensor(processor.image_mean, device=frames.device).view(1, 3, 1, 1)
    pixels = torch.addcmul((0.5 - mean) / std, rows @ frames.float() @ cols.T, 0.5 / std)
    encoder = svd.image_encoder
    return encoder(pixels.to(next(encoder.parameters()).dtype)).image_embeds[:, None]


class StateSource:
    """The four state sentences of a clip: synthtvp's ground truth, or the state cache."""

    def __init__(self, config: Config, dataset_root: Path | None):
        self.kind = config.model.mcondition.states_source
        self.records: dict[str, Any] = {}
        if not config.model.mcondition.use_states:
            self.kind = "none"
        elif self.kind == "cache":
            path = Path(config.model.mcondition.states_cache or (dataset_root or Path(".")) / "states.jsonl")
            self.records = states.read(path).records
        elif config.data.dataset != "synthtvp":
            raise UserError(
                "model.mcondition.states_source=oracle exists only for synthtvp; use the state cache."
            )

    def __call__(self, clip) -> list[str] | None:
        if self.kind == "none":
            return None
        if self.kind == "oracle":
            meta = clip.meta
            return synthtvp.episode(
                meta["seed"],
                meta["split"],
                meta["index"],
                meta.get("task", "full"),
                meta.get("domain", "default"),
            ).state_sentences()
        record = self.records.get(clip.clip_id)
        if record is None:
            raise UserError(
                f"no MLLM states for clip {clip.clip_id} in the state cache; run `aidbench data states`."
            )
        return list(record.states)


@dataclass
class EncodedClips:
    """A batch as the denoiser's training sees it (frozen encoders, no gradients)."""

    latents: torch.Tensor  # (B, T, 4, h, w), scaled by the VAE's scaling factor
    references: torch.Tensor  # (B, K, 4, h, w), noise-augmented as SVD conditions
    visual: torch.Tensor  # (B, 1, C) the first frame's CLIP embedding
    num_reference: int


@torch.no_grad()
def encode_clips(svd, clips: list, generator: torch.Generator, device) -> EncodedClips:
    frames = to_model(np.stack([c.frames for c in clips])).to(device)
    b, t = frames.shape[:2]
    k = clips[0].num_ref_frames
    latents = svd.vae.encode(frames.flatten(0, 1)).latent_dist.mode().unflatten(0, (b, t))
    noise = torch.randn(frames[:, :k].shape, generator=generator).to(device)
    references = svd.vae.encode((frames[:, :k] + NOISE_AUG * noise).flatten(0, 1)).latent_dist.mode()
    return EncodedClips(
        latents * svd.vae.config.scaling_factor,
        references.unflatten(0, (b, k)),
        first_frame_embedding(svd, frames[:, 0]),
        k,
    )


def svd_time_ids(batch: int, device) -> torch.Tensor:
    """SVD's micro-conditioning (fps − 1, motion bucket, noise augmentation) for a batch."""
    return torch.tensor([[FPS - 1, MOTION_BUCKET, NOISE_AUG]], device=device).repeat(batch, 1)


def denoising_loss(
    edm: EDMLoss, model, encoded: EncodedClips, references: torch.Tensor, generator
) -> torch.Tensor:
    """EDM loss of the batch; `references` are the (possibly dropped) reference latents."""
    b, t = encoded.latents.shape[:2]
    device = encoded.latents.device
    sigma = edm.sample_sigma(b, generator).to(device)
    noise = torch.randn(encoded.latents.shape, generator=generator).to(device)
    condition = reference_conditioning(references, t)
    return edm(model, encoded.latents, condition, encoded.num_reference, sigma, noise)


class AIDObjective:
    """The training loss of a batch of clips, all randomness from one generator."""

    def __init__(
        self,
        parts: AIDComponents,
        states: StateSource,
        dropout: ConditionDropout = ConditionDropout(),
        edm: EDMLoss = EDMLoss(),
    ):
        self.parts, self.states, self.dropout, self.edm = parts, states, dropout, edm

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        svd, denoiser, text = self.parts.svd, self.parts.denoiser, self.parts.text_encoder
        device = next(denoiser.parameters()).device
        b = len(clips)
        u = torch.rand(b, generator=generator)
        p = self.dropout
        both = (u >= p.text + p.visual) & (u < p.text + p.visual + p.both)
        drop_text = ((u < p.text) | both).tolist()
        drop_visual = ((u >= p.text) & (u < p.text + p.visual)) | both
        encoded = encode_clips(svd, clips, generator, device)
        with torch.no_grad():
            t1 = text(["" if drop else c.instruction for c, drop in zip(clips, drop_text, strict=True)])
            sentences = [self.states(c) for c in clips]
            t2 = None
            if sentences[0] is not None:
                t2 = text.states(
                    [[""] * 4 if drop else s for s, drop in zip(sentences, drop_text, strict=True)]
                )
        keep = (~drop_visual).to(device, encoded.latents.dtype)
        visual = encoded.visual * keep.view(-1, 1, 1)
        mcondition = denoiser.dqformer(t1, visual, t2, encoded.latents.shape[1])
        ids = svd_time_ids(b, device)
        return denoising_loss(
            self.edm,
            lambda x, c_noise: denoiser(x, c_noise, ids, mcondition=mcondition),
            encoded,
            encoded.references * keep.view(-1, 1, 1, 1, 1),
            generator,
        )
