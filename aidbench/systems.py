"""A system is what aidbench trains, samples and scores: AID or a baseline. The registry hands out a
`System` for a name; each operation is a plain function, None where the system has none (a zero-shot system
is never trained; a paper-reported one is not runnable here at all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aidbench import registry
from aidbench.errors import NotBuiltError, UsageError


@dataclass(frozen=True)
class System:
    name: str
    # config → {"model", "total", "trainable", "components": {name: {"total", "trainable"}}}
    parameters: Callable[[Any], dict[str, Any]] | None = None
    # (config, run) → {"output": folder, "final_loss", …}
    train: Callable[..., Any] | None = None
    # (config, run, checkpoint or None, split) → {"generated", "skipped", "clips", "samples"}
    sample: Callable[..., Any] | None = None
    # (config, split) → None or one clear error: weights and data are there, before any run starts
    check: Callable[[Any, str], None] | None = None
    # Built on SVD's UNet: takes the text-blind base that `reproduce` pretrains (train.base_steps).
    on_base: bool = False


def load(name: str, operation: str | None = None) -> System:
    """The registered system; with `operation`, one clear error when the system has no such operation."""
    system = registry.load("system", name)
    if operation is None:
        return system
    if operation == "train" and system.train is None and system.sample is not None:
        raise UsageError(f"'{name}' needs no training: sample it with `aidbench sample --model {name}`.")
    if getattr(system, operation) is None:
        issue = registry.get("system", name).issue
        raise NotBuiltError(
            f"'{operation}' for the system '{name}' is not built yet"
            + (f" (issue #{issue})." if issue else ".")
        )
    return system


def trained(name: str) -> bool:
    return load(name).train is not None


def on_base(name: str) -> bool:
    return load(name).on_base
