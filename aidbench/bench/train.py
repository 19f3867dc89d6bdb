"""`aidbench bench train`: seconds per training iteration, peak memory, and the largest batch under a memory
cap, for the systems of supplementary Tables 3-4 (aid, aid-fullft, svd-fullft, opensora-fullft, seer, videofusion).

An iteration is what a `train` run does per step minus data loading: frozen encoders, the denoiser's forward
and backward, AdamW's update (and the weights' moving average where train.ema_decay asks for one), under the config's switches (mixed precision, frozen dtype, attention,
gradient checkpointing, channels-last). The time is the median over timed steps after warm-up. Each system
is measured in a fresh process (spawned) so one system's memory never counts against the next.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any

import torch

from aidbench.bench import harness, memory
from aidbench.config import Config
from aidbench.errors import UsageError

# AID / its full fine-tune, at most: round numbers just under the paper's 0.71x and 0.54x.
TARGETS = {"seconds_per_iter": 0.7, "peak_memory_gb": 0.5}


def _mixed(config: Config, device: torch.device) -> str:
    """As `train` decides: a GPU setting, except that frozen half-precision weights need autocast anywhere."""
    cfg = config.train
    return cfg.mixed_precision if device.type == "cuda" or cfg.frozen_dtype != "float32" else "no"


def _autocast(config: Config, device: torch.device):
    mixed = _mixed(config, device)
    if mixed == "no":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[mixed])


class Session:
    """One system built once, stepped at any batch size."""

    def __init__(self, system: str, config: Config, device: torch.device):
        from aidbench.bench.systems import trainee
        from aidbench.stages import speed
        from aidbench.stages.train import optimizer_for

        self.system, self.config, self.device = system, config, device
        with torch.device(device):  # weights initialised on the device: fast for billions of them
            self.trainee = trainee(system, config)
        for module in (self.trainee.model, *self.trainee.frozen):
            module.to(device)  # some builders (open_clip's) put their model on the CPU themselves
        speed.apply(config.train, self.trainee.model, list(self.trainee.frozen))
        self.trainee.model.train()
        self.parameters = [p for p in self.trainee.model.parameters() if p.requires_grad]
        self.optimizer, self.ema = optimizer_for(config.train, self.parameters)

    def step(self, batch_clips: list, index: int) -> float:
        from aidbench.stages.train import step_generator

        harness.sync(self.device)
        start = time.perf_counter()
        with _autocast(self.config, self.device):
            loss = self.trainee.loss(batch_clips, step_generator(self.config.seed, index))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.parameters)
        harness.sync(self.device)
        return time.perf_counter() - start

    def measure(self, batch: int, frames: int, resolution: int, steps: int, warmup: int) -> dict[str, Any]:
        from aidbench.bench.systems import clips

        batch_clips = clips(batch, frames, resolution, self.config.seed)
        memory.reset(self.device)
        before = memory.current_gb(self.device)
        times = [self.step(batch_clips, i) for i in range(warmup + steps)]
        return {
            "batch": batch,
            "seconds_per_iter": round(statistics.median(times[warmup:]), 4),
            "peak_memory_gb": harness.rounded(memory.peak_gb(self.device)),
            "memory_before_steps_gb": harness.rounded(before),
        }

    def counts(self) -> dict[str, int]:
        modules = [self.trainee.model, *self.trainee.frozen]
        total = sum(p.numel() for m in modules if m is not None for p in m.parameters())
        return {"trainable_parameters": sum(p.numel() for p in self.parameters), "total_parameters": total}

    def largest_batch(
        self, cap_gb: float, frames: int, resolution: int, start: int = 1, limit: int = 256
    ) -> dict[str, Any] | None:
        """Table 4's setting: the largest batch whose peak memory stays under cap_gb (doubling, then
        bisection), with its step time and memory; None if even `start` does not fit."""

        def fits(batch: int) -> dict[str, Any] | None:
            try:
                result = self.measure(batch, frames, resolution, steps=1, warmup=1)
            except (RuntimeError, torch.OutOfMemoryError) as error:
                if not memory.is_out_of_memory(error):
                    raise
                result = None
            self.optimizer.zero_grad(set_to_none=True)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if result is None or result["peak_memory_gb"] is None or result["peak_memory_gb"] > cap_gb:
                return None
            return result

        best, low, high = None, start, None
        batch = start
        while batch <= limit:  # doubling until the first failure
            result = fits(batch)
            if result is None:
                high = batch
                break
            best, low = result, batch
            batch *= 2
        if best is None:
            return None
        while high is not None and high - low > 1:  # bisection between the last fit and the first failure
            middle = (low + high) // 2
            result = fits(middle)
            if result is None:
                high = middle
            else:
                best, low = result, middle
        return {**best, "memory_cap_gb": round(cap_gb, 2)}


def measure_system(
    system: str,
    config: Config,
    batch: int,
    frames: int,
    resolution: int,
    steps: int,
    warmup: int,
    memory_cap_gb: float | None = None,
    max_batch: bool = False,
) -> dict[str, Any]:
    """Everything measured for one system, in this process."""
    device = harness.device_for(config)
    session = Session(system, config, device)
    record: dict[str, Any] = {"system": system, **session.counts()}
    record.update(session.measure(batch, frames, resolution, steps, warmup))
    record["memory"] = memory.kind(device)
    if max_batch:
        cap = memory_cap_gb
        if cap is None and (capacity := memory.capacity_gb(device)) is not None:
            cap = 0.9 * capacity  # Table 4: >= 90% of the GPU's memory in use
        if cap is None:
            raise UsageError(
                "--max-batch on the CPU needs --memory-cap-gb (no device memory to take 90% of)."
            )
        record["largest_batch"] = session.largest_batch(cap, frames, resolution)
    return record


def ratios(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """AID against its full fine-tune, measured in the same run, with the TARGETS it should meet."""
    by = {r["system"]: r for r in records if "error" not in r}
    if "aid" not in by or "aid-fullft" not in by:
        return None
    out: dict[str, Any] = {}
    for key, target in TARGETS.items():
        a, b = by["aid"].get(key), by["aid-fullft"].get(key)
        if a is not None and b:
            out[key] = {"aid / aid-fullft": round(a / b, 3), "target_at_most": target, "met": a / b <= target}
    out["paper"] = {"seconds_per_iter": round(1.03 / 1.45, 3), "peak_memory_gb": round(24.68 / 45.49, 3)}
    return out


def run(
    config: Config,
    systems: list[str],
    batch: int = 1,
    frames: int | None = None,
    resolution: int | None = None,
    steps: int = 5,
    warmup: int = 2,
    memory_cap_gb: float | None = None,
    max_batch: bool = False,
    isolate: bool = True,
) -> dict[str, Any]:
    frames = frames or config.data.num_frames
    resolution = resolution or config.data.resolution
    args = (batch, frames, resolution, steps, warmup, memory_cap_gb, max_batch)
    records = harness.measure_each(measure_system, systems, config, args, isolate)
    device = harness.device_for(config)
    cfg = config.train
    return {
        "benchmark": "train",
        "what": f"training iterations at {frames} frames of {resolution}², batch {batch}, random weights",
        "size": config.model.size,
        "frames": frames,
        "resolution": resolution,
        "steps": steps,
        "warmup": warmup,
        "switches": {
            "mixed_precision": _mixed(config, device),
            "frozen_dtype": cfg.frozen_dtype,
            "attention": cfg.attention,
            "gradient_checkpointing": cfg.gradient_checkpointing,
            "channels_last": cfg.channels_last,
        },
        "systems": records,
        "ratios": ratios(records),
        **harness.provenance(device),
    }
