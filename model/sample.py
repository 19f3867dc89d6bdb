"""`aidbench sample`: one generated clip per clip of a split, resumable, sharded across processes.

<run>/samples/<clip id>/frame_00000.png …  lossless frames, what `aidbench eval --run` scores
<run>/samples/<clip id>/meta.json           instruction, seed, reference count (written last: marks done)
<run>/previews/<clip id>.mp4                H.264 preview for people, never scored
Each clip's seed is derived from (run seed, clip id) alone, so sharding, resuming and the number of
processes never change a sample. The first K frames of a sample are the true reference frames followed by
the K…T−1 predicted ones, as Seer scores cat(reference, prediction) [ours: the pipeline's own
reconstruction of the reference positions is discarded].
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from aidbench import atomic
from aidbench.config import Config
from aidbench.errors import UserError


def sample_seed(run_seed: int, clip_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{clip_id}".encode()).digest()[:8], "little") >> 1


def checkpoint_config(checkpoint: Path) -> dict[str, Any]:
    """The training config stored with a checkpoint (output/config.json or the train run's manifest)."""
    for candidate in (checkpoint / "config.json", checkpoint.parent.parent / "manifest.json"):
        if candidate.is_file():
            data = json.loads(candidate.read_text())
            return data.get("config", data)
    raise UserError(
        f"{checkpoint} has no config.json and no train run manifest above it; is it an AID checkpoint?"
    )


def sample_clips(
    config: Config, run, split: str, generate, device_state, about: dict[str, Any]
) -> dict[str, Any]:
    """The loop every system shares: this process's share of the split, skipping finished clips.

    generate(clip, seed) → uint8 (T, H, W, 3); the true reference frames replace its first K frames.
    """
    from aidbench.data.dataset import UnsafePath, safe_join
    from aidbench.data.open import open_dataset
    from aidbench.data.video import write_png_frames, write_video
    from aidbench.progress import track

    dataset = open_dataset(config, split)
    mine = dataset.refs[device_state.process_index :: device_state.num_processes]
    done = skipped = 0
    for ref in track(mine, f"sampling {dataset.name}/{dataset.split}"):
        try:  # a clip id names a folder of ours: never the samples folder itself, never outside it
            folder = safe_join(run.path / "samples", ref.clip_id)
            safe_join(run.path / "previews", f"{ref.clip_id}.mp4")
        except UnsafePath:
            skipped += 1
            continue
        if (folder / "meta.json").is_file():
            continue  # finished in an earlier attempt
        clip = dataset.try_load(ref)
        if not hasattr(clip, "frames"):
            skipped += 1
            continue
        k = clip.num_ref_frames
        seed = sample_seed(config.seed, clip.clip_id)
        frames = np.concatenate([clip.frames[:k], generate(clip, seed)[k:]])
        write_png_frames(folder, frames)
        write_video(run.path / "previews" / f"{ref.clip_id}.mp4", frames, fps=8)
        meta = {
            "clip_id": clip.clip_id,
            "instruction": clip.instruction,
            "seed": seed,
            "num_ref_frames": k,
            **about(clip),
        }
        atomic.write_json(folder / "meta.json", meta)
        done += 1
    return {"generated": done, "skipped": skipped, "clips": len(mine), "samples": str(run.path / "samples")}


def sampling_settings(config: Config):
    from aidbench.model.pipeline import SamplingSettings

    return SamplingSettings(
        num_inference_steps=config.sample.num_inference_steps,
        text_guidance_scale=config.sample.text_guidance_scale,
        visual_guidance_scale=config.sample.visual_guidance_scale,
    )


def sample(config: Config, run, checkpoint: Path, split: str, parts=None) -> dict[str, Any]:
    """AID's samples from a checkpoint (its trainable weights over the frozen SVD)."""
    from aidbench import distributed
    from aidbench.model.components import build
    from aidbench.model.train import aid_generator, checkpoint_weights, load_trainable

    weights = checkpoint_weights(checkpoint)
    parts = parts or build(config)
    load_trainable(parts.denoiser, weights)
    state = distributed.state(config.device == "cpu")
    for module in (parts.svd, parts.text_encoder):
        module.to(state.device)
    parts.denoiser.to(state.device).eval()
    generate = aid_generator(config, parts)

    def about(clip):
        return {"system": "aid", "checkpoint": str(checkpoint), "states": generate.states(clip)}

    return sample_clips(config, run, split, generate, state, about)
