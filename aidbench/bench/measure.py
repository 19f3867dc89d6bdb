"""`aidbench bench WHAT`: which benchmark measures what, the systems each can measure, and the one call
that runs it. Every benchmark module has `run(…) → record` (a JSON-ready dict)."""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from aidbench.config import Config
from aidbench.errors import UsageError, did_you_mean

# Systems trained, sampled or stepped: each measured against the others in one run.
SYSTEM_BENCHMARKS = ("train", "sample", "step")
# Parts of the metrics, on fixed synthetic inputs.
PART_BENCHMARKS = {
    "decode": "video decoding",
    "frechet": "the Fréchet distance",
    "i3d": "I3D features",
    "precision": "the metric detectors' GPU arithmetic against the CPU's",
}


def measurable(what: str) -> list[str]:
    """The systems `bench what` can measure."""
    if what == "step":
        from aidbench.bench import step

        return list(step.SYSTEMS)
    from aidbench.bench import systems

    return list(systems.SYSTEMS) if what == "train" else list(systems.SAMPLERS)


def run(
    what: str,
    config: Config,
    systems: list[str] | None = None,
    *,
    batch: int = 1,
    frames: int | None = None,
    resolution: int | None = None,
    steps: int = 5,
    warmup: int = 2,
    max_batch: bool = False,
    memory_cap_gb: float | None = None,
    clips: int | None = None,
    rounds: int = 3,
) -> dict[str, Any]:
    """Run one benchmark; the record names the command that made it."""
    if what not in (*SYSTEM_BENCHMARKS, *PART_BENCHMARKS):
        raise UsageError(f"bench measures train, sample, step, {', '.join(PART_BENCHMARKS)}; not '{what}'.")
    module = importlib.import_module(f"aidbench.bench.{what}")
    if what in SYSTEM_BENCHMARKS:
        known = measurable(what)
        chosen = systems or known
        for name in chosen:
            if name not in known:
                raise UsageError(
                    f"bench {what} measures {', '.join(known)}; not '{name}'{did_you_mean(name, known)}."
                )
        options: dict[str, Any] = dict(
            batch=batch, frames=frames, resolution=resolution, steps=steps, warmup=warmup
        )
        if what == "step":  # the config's own batch and sizes: what a train run steps
            if batch != 1 or frames or resolution or max_batch:
                raise UsageError(
                    "bench step measures the config's own batch and sizes: set them with --set "
                    "(train.batch_size_per_device, data.num_frames, data.resolution), not --batch/--frames."
                )
            options = dict(steps=steps, warmup=warmup)
        if what == "train":
            options.update(memory_cap_gb=memory_cap_gb, max_batch=max_batch)
        record = module.run(config, chosen, **options)
    else:
        kwargs: dict[str, Any] = {"rounds": rounds, **({"clips": clips} if clips else {})}
        if what == "decode":
            with tempfile.TemporaryDirectory(prefix="aidbench-decode-") as work:
                record = module.run(Path(work), **kwargs)
        else:
            record = module.run(**kwargs)
    record["command"] = sys.argv
    return record
