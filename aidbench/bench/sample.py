"""`aidbench bench sample`: seconds per generated clip and peak memory of the samplers `aidbench sample` runs
(aid: dual guidance, three branches per step; svd-zeroshot / svd-fullft: SVD's sampler, two branches), at the
config's sampling settings, random weights. The time is the median over clips after warm-up; each system is
measured in a fresh process.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from aidbench.bench import harness, memory
from aidbench.config import Config
from aidbench.predictor import Context


def _generator(system: str, config: Config):
    """predict(context) → frames, exactly as the system's `sample` calls its pipeline."""
    from aidbench.bench.systems import STATES, with_model
    from aidbench.model.pipeline import AIDPipeline
    from aidbench.model.system import sampling_settings

    settings = sampling_settings(config)
    if system == "aid":
        from aidbench.model.components import build

        parts = build(with_model(config, name="aid"), random_weights=True)
        pipeline = AIDPipeline(parts.svd, parts.denoiser.eval(), parts.text_encoder)

        def generate(context):
            return pipeline(
                context.reference,
                context.num_frames,
                context.instruction,
                list(STATES),
                settings,
                context.generator(),
            )

        return generate, [parts.denoiser, parts.svd.vae, parts.svd.image_encoder, parts.text_encoder]
    if system in ("svd-zeroshot", "svd-fullft"):
        from aidbench.baselines.svd_fullft import build

        parts = build(with_model(config, name=system), random_weights=True)
        pipeline = AIDPipeline(parts.svd, parts.denoiser.eval())
        guidance = (config.sample.svd_min_guidance, config.sample.svd_max_guidance)

        def generate(context):
            return pipeline(
                context.reference[:1],
                context.num_frames,
                settings=settings,
                generator=context.generator(),
                svd_guidance=guidance,
            )

        return generate, [parts.denoiser, parts.svd.vae, parts.svd.image_encoder]
    if system == "opensora-zeroshot":
        from aidbench.baselines import opensora_system

        config = with_model(config, name="opensora-zeroshot")
        parts = opensora_system.build(config, random_weights=True)
        parts.frozen_to(torch.get_default_device())
        parts.denoiser.eval()
        return opensora_system.generator_for(config, parts), [parts.denoiser]
    raise KeyError(system)


def measure_system(
    system: str, config: Config, batch: int, frames: int, resolution: int, steps: int, warmup: int
) -> dict[str, Any]:
    """One system in this process: `warmup` + `steps` clips, one at a time (`batch` clips per timed call)."""
    from aidbench.bench.systems import clips

    device = harness.device_for(config)
    with torch.device(device):  # weights initialised on the device: fast for billions of them
        generate, modules = _generator(system, config)
    for module in modules:
        module.to(device)
    inputs = clips(batch, frames, resolution, config.seed)
    memory.reset(device)
    times = []
    for i in range(warmup + steps):
        harness.sync(device)
        start = time.perf_counter()
        for j, clip in enumerate(inputs):
            generate(Context.of(clip, i * batch + j, device))
        harness.sync(device)
        times.append((time.perf_counter() - start) / batch)
    return {
        "system": system,
        "seconds_per_clip": round(statistics.median(times[warmup:]), 4),
        "peak_memory_gb": harness.rounded(memory.peak_gb(device)),
        "memory": memory.kind(device),
    }


def run(
    config: Config,
    systems: list[str],
    batch: int = 1,
    frames: int | None = None,
    resolution: int | None = None,
    steps: int = 3,
    warmup: int = 1,
    isolate: bool = True,
) -> dict[str, Any]:
    frames = frames or config.data.num_frames
    resolution = resolution or config.data.resolution
    args = (batch, frames, resolution, steps, warmup)
    records = harness.measure_each(measure_system, systems, config, args, isolate)
    device = harness.device_for(config)
    s = config.sample
    return {
        "benchmark": "sample",
        "what": f"sampling {frames} frames of {resolution}², {s.num_inference_steps} steps, random weights",
        "size": config.model.size,
        "frames": frames,
        "resolution": resolution,
        "num_inference_steps": s.num_inference_steps,
        "steps": steps,
        "warmup": warmup,
        "systems": records,
        **harness.provenance(device),
    }
