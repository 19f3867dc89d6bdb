"""AID as a system: its training (AID's objective in the shared loop), its sampler and its samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aidbench import distributed
from aidbench.config import Config
from aidbench.data.clips import quantisation
from aidbench.data.open import dataset_root, open_dataset
from aidbench.model.components import AIDComponents, build
from aidbench.model.edm import EDMLoss
from aidbench.model.objective import AIDObjective, StateSource
from aidbench.stages.sample import sample_clips
from aidbench.stages.train import Trainee, checkpoint_weights, load_trainable
from aidbench.stages.train import train as run_training


def sampling_settings(config: Config):
    from aidbench.model.pipeline import SamplingSettings

    return SamplingSettings(
        num_inference_steps=config.sample.num_inference_steps,
        text_guidance_scale=config.sample.text_guidance_scale,
        visual_guidance_scale=config.sample.visual_guidance_scale,
    )


def aid_generator(config: Config, parts: AIDComponents):
    """predict(context) → uint8 clip (predictor.py): AID's sampler with the config's sampling settings."""
    from aidbench.model.pipeline import AIDPipeline, to_uint8

    pipeline = AIDPipeline(parts.svd, parts.denoiser, parts.text_encoder)
    settings = sampling_settings(config)
    states = StateSource(config, open_dataset(config, config.data.eval_split).root)

    def generate(context):
        frames = pipeline(
            context.reference,
            context.num_frames,
            context.instruction,
            states(context),
            settings,
            context.generator(),
        )
        return to_uint8(frames, quantisation(config.data))

    generate.states = states
    return generate


def train(config: Config, run, on_step=None, parts: AIDComponents | None = None) -> dict[str, Any]:
    """AID's training: its objective in the shared loop; resumes from the run's last checkpoint."""
    parts = parts or build(config)
    states = StateSource(config, dataset_root(config, config.data.dataset))
    objective = AIDObjective(parts, states, edm=EDMLoss.from_config(config.train))
    return run_training(config, run, trainee(parts, objective, lambda: aid_generator(config, parts)), on_step)


def trainee(parts: AIDComponents, loss, previews=None):
    """A denoiser over frozen SVD (and text encoder) as the training loop takes it."""
    frozen = [parts.svd.vae, parts.svd.image_encoder, parts.text_encoder]
    return Trainee(parts.denoiser, loss, tuple(m for m in frozen if isinstance(m, torch.nn.Module)), previews)


def sample(config: Config, run, checkpoint: Path, split: str, parts=None) -> dict[str, Any]:
    """AID's samples from a checkpoint (its trainable weights over the frozen SVD)."""
    weights = checkpoint_weights(checkpoint)
    parts = parts or build(config)
    load_trainable(parts.denoiser, weights)
    state = distributed.state(config.device == "cpu")
    for module in (parts.svd, parts.text_encoder):
        module.to(state.device)
    parts.denoiser.to(state.device).eval()
    generate = aid_generator(config, parts)

    def about(context):
        return {"system": "aid", "checkpoint": str(checkpoint), "states": generate.states(context)}

    return sample_clips(config, run, split, generate, state, about)
