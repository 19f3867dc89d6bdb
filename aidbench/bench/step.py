"""`aidbench bench step`: what the training loop adds around the denoiser, per step.

For a trainable system at the config's sizes, two times per step, median over the timed steps:
- whole: a step as `train` runs it — the batch drawn from the training split, the frozen encoders and
  the conditioning (text, MCondition), the denoiser's forward and backward, AdamW's update and, when the
  config asks for one, the weights' moving average;
- bare: the denoiser's forward and backward alone (the diffusers UNet with AID's hooks and adapters), on
  the very inputs the whole step gave it, captured beforehand.
overhead = (whole − bare) / bare: the harness's own cost (data, frozen encoders, text features,
DQFormer's forward and backward, the loss, AdamW, bookkeeping) against the work no harness can avoid.
The models sit on the config's device under its speed switches and mixed precision, as in `train`.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from aidbench.bench import harness
from aidbench.config import Config
from aidbench.data.open import open_dataset

SYSTEMS = ("aid", "svd-fullft")


def _objective(system: str, config: Config, dataset):
    from aidbench.model.edm import EDMLoss

    edm = EDMLoss.from_config(config.train)
    if system == "aid":
        from aidbench.model import components
        from aidbench.model.objective import AIDObjective, StateSource

        parts = components.build(config)
        return parts, AIDObjective(parts, StateSource(config, dataset.root), edm=edm)
    from aidbench.baselines import svd_fullft

    parts = svd_fullft.build(config)
    return parts, svd_fullft.SVDObjective(parts, edm)


def measure_system(system: str, config: Config, steps: int, warmup: int) -> dict[str, Any]:
    from aidbench.bench.train import _autocast
    from aidbench.stages import speed
    from aidbench.stages.train import optimizer_for, step_generator

    device = harness.device_for(config)
    dataset = open_dataset(config, config.data.train_split)
    parts, objective = _objective(system, config, dataset)
    for module in (parts.svd, parts.text_encoder, parts.denoiser):
        if module is not None:
            module.to(device)
    frozen = [
        m
        for m in (parts.svd.vae, parts.svd.image_encoder, parts.text_encoder)
        if isinstance(m, torch.nn.Module)
    ]
    speed.apply(config.train, parts.denoiser, frozen)
    denoiser = parts.denoiser.train()
    trainable = [p for p in denoiser.parameters() if p.requires_grad]
    optimizer, ema = optimizer_for(config.train, trainable)
    captured: dict[str, Any] = {}

    def capture(module, args, kwargs):
        captured["args"] = tuple(a.detach() if torch.is_tensor(a) else a for a in args)
        captured["kwargs"] = {k: v.detach() if torch.is_tensor(v) else v for k, v in kwargs.items()}

    whole, data, bare = [], [], []
    for index in range(warmup + steps):
        generator = step_generator(config.seed, index)
        handle = denoiser.register_forward_pre_hook(capture, with_kwargs=True)
        harness.sync(device)
        start = time.perf_counter()
        clips = []
        while len(clips) < config.train.batch_size_per_device:  # as the train loop draws its batch
            ref = dataset.refs[int(torch.randint(len(dataset.refs), (1,), generator=generator))]
            clip = dataset.try_load(ref)
            if hasattr(clip, "frames"):
                clips.append(clip)
        loaded = time.perf_counter()
        with _autocast(config, device):
            loss = objective(clips, generator)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.step(trainable)
        harness.sync(device)
        done = time.perf_counter()
        handle.remove()

        with _autocast(config, device):
            output = denoiser(*captured["args"], **captured["kwargs"])
        output.float().square().mean().backward()  # the same parameters receive gradients as in a step
        harness.sync(device)
        bare_done = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        if index >= warmup:
            whole.append(done - start)
            data.append(loaded - start)
            bare.append(bare_done - done)
    whole_s, bare_s = statistics.median(whole), statistics.median(bare)
    return {
        "system": system,
        "batch": config.train.batch_size_per_device,
        "seconds_per_step": round(whole_s, 4),
        "data_seconds": round(statistics.median(data), 4),
        "bare_unet_seconds": round(bare_s, 4),
        "overhead": round((whole_s - bare_s) / bare_s, 4),
    }


def run(config: Config, systems: list[str], steps: int = 10, warmup: int = 2, isolate: bool = True) -> dict:
    records = harness.measure_each(measure_system, systems, config, (steps, warmup), isolate)
    device = harness.device_for(config)
    return {
        "benchmark": "step",
        "what": (
            f"a training step against the bare UNet forward and backward at {config.data.num_frames} frames "
            f"of {config.data.resolution}², batch {config.train.batch_size_per_device} (preset "
            f"{config.preset or 'none'})"
        ),
        "steps": steps,
        "warmup": warmup,
        "systems": records,
        **harness.provenance(device),
    }
