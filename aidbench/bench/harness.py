"""What `bench train` and `bench sample` share: the device, each system measured in a process of its own,
and the fields every record carries (threads, device, packages, time)."""

from __future__ import annotations

import time
from pathlib import Path
from queue import Empty
from typing import Any

import torch

from aidbench import environment
from aidbench.config import Config


def device_for(config: Config) -> torch.device:
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _child(queue, function, args) -> None:
    try:
        queue.put(("ok", function(*args)))
    except BaseException as error:  # reported to the parent, which names the system and where it broke
        import traceback

        where = traceback.extract_tb(error.__traceback__)[-3:]
        trail = " ← ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(where))
        queue.put(("error", f"{type(error).__name__}: {error} (at {trail})"))


def isolated(function, system: str, *args) -> dict[str, Any]:
    """function(system, *args) in a spawned process of its own; an error comes back as {"error": ...}."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, function, (system, *args)))
    process.start()
    while True:
        try:
            status, value = queue.get(timeout=1.0)
            break
        except Empty:
            if not process.is_alive():  # died without a word: killed for memory, say
                status, value = "error", f"the measuring process ended with exit code {process.exitcode}"
                break
    process.join()
    return value if status == "ok" else {"system": system, "error": value}


def measure_each(function, systems: list[str], config: Config, args: tuple, isolate: bool) -> list[dict]:
    """function(system, config, *args) for every system, each in a fresh process unless `isolate` is off."""
    return [
        isolated(function, system, config, *args) if isolate else function(system, config, *args)
        for system in systems
    ]


def provenance(device: torch.device) -> dict[str, Any]:
    return {
        "torch_threads": torch.get_num_threads(),
        "device": environment.device(device.type),
        "packages": {
            k: v
            for k, v in environment.package_versions().items()
            if k in ("torch", "diffusers", "transformers")
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
