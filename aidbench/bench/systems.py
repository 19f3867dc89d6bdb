"""The systems `aidbench bench` measures, built with random weights (timing needs no download).

Each is its real training code path: the same objective a `train` run optimises, frozen encoders
included, on a batch of synthetic clips (data loading is not timed). Sizes: the config's model.size —
paper (real architectures) or tiny (the test twins, for the CPU).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from aidbench.config import Config, with_changes
from aidbench.stages.train import Trainee

# name → what it is (Tables 3-4 row)
SYSTEMS = {
    "aid": "AID: frozen SVD UNet + adapters, DQFormer, cross-attention (Tables 3-4 'Ours')",
    "aid-fullft": "AID with every UNet weight trained as well (Tables 3-4 'Ours (full finetune)')",
    "svd-fullft": "SVD with every UNet weight fine-tuned, no text (Table 2)",
    "opensora-fullft": "Open-Sora 1.2 STDiT3 with every weight fine-tuned (Table 2)",
    "seer": "Seer: SD 1.5 inflated, its temporal layers and FSText trained (Tables 3-4 'Seer')",
    "videofusion": "diffusers' UNet3DConditionModel at ModelScope text-to-video's configuration (Tables 3-4)",
}
SAMPLERS = ("aid", "svd-zeroshot", "svd-fullft", "opensora-zeroshot")


@dataclass
class BenchClip:
    """What the objectives read from a clip."""

    clip_id: str
    frames: np.ndarray  # (T, H, W, 3) uint8
    instruction: str
    num_ref_frames: int = 1
    meta: dict = dataclasses.field(default_factory=dict)


def clips(batch: int, frames: int, resolution: int, seed: int = 0) -> list[BenchClip]:
    rng = np.random.default_rng(seed)
    return [
        BenchClip(
            f"bench-{i}",
            rng.integers(0, 256, (frames, resolution, resolution, 3), dtype=np.uint8),
            "Putting jar on a surface",
        )
        for i in range(batch)
    ]


STATES = [
    "A jar stands on the table.",
    "A hand reaches for the jar.",
    "The hand lifts the jar.",
    "The jar rests on the surface.",
]


def with_model(config: Config, **changes) -> Config:
    return with_changes(config, "aidbench bench", model=changes)


def trainee(system: str, config: Config) -> Trainee:
    """Build `system` on the current default device (wrap in `with torch.device(...)`)."""
    if system in ("aid", "aid-fullft"):
        from aidbench.model.components import build
        from aidbench.model.objective import AIDObjective

        config = with_model(config, name="aid", full_finetune=system == "aid-fullft")
        parts = build(config, random_weights=True)
        objective = AIDObjective(parts, lambda clip: list(STATES))
        return Trainee(
            parts.denoiser, objective, (parts.svd.vae, parts.svd.image_encoder, parts.text_encoder)
        )
    if system == "svd-fullft":
        from aidbench.baselines.svd_fullft import SVDObjective, build

        parts = build(with_model(config, name="svd-fullft"), random_weights=True)
        return Trainee(parts.denoiser, SVDObjective(parts), (parts.svd.vae, parts.svd.image_encoder))
    if system == "videofusion":
        from aidbench.bench.videofusion import trainee as videofusion

        return videofusion(config)
    if system == "opensora-fullft":
        from aidbench.baselines import opensora_system

        config = with_model(config, name="opensora-fullft")
        parts = opensora_system.build(config, random_weights=True)
        parts.frozen_to(torch.get_default_device())  # T5 in bfloat16 on a GPU, as its trainer holds it
        objective = opensora_system.OpenSoraObjective(parts, config)
        return Trainee(parts.denoiser, objective, (parts.vae, parts.captions.model))
    if system == "seer":
        from aidbench.baselines import seer

        config = with_model(config, name="seer")
        parts = seer.build(config, random_weights=True)
        model = seer.trainable(parts.model, config)
        return Trainee(model, seer.SeerObjective(parts, config), (parts.latents, parts.text))
    raise KeyError(system)
