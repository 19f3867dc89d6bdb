"""A system is what aidbench trains, samples and scores: AID, a baseline, or your own predictor. The
registry hands out a `System` for a name; each operation is a plain function, None where the system has
none (a zero-shot system is never trained; a paper-reported one is not runnable here at all). A predictor
from outside aidbench (plugins.py) becomes a System that samples through the shared loop."""

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
    # config → True where a trainable system samples without a train run of ours (a released fine-tune).
    ready: Callable[[Any], bool] | None = None


def load(name: str, operation: str | None = None) -> System:
    """The registered system; with `operation`, one clear error when the system has no such operation."""
    entry = registry.get("system", name)
    system = registry.target(entry)
    if entry.external:
        system = from_predictor(name, system, entry.argument)
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


def from_predictor(name: str, target: Any, argument: str | None = None) -> System:
    """A System around a predictor (predictor.py): a function, a class instantiated once per sampling run
    with sample.system_options, or (with `argument`, e.g. diffusers:FOLDER) a class taking it first."""

    def sample(config, run, checkpoint, split):
        from aidbench import distributed, plugins
        from aidbench.predictor import instantiate
        from aidbench.stages.sample import sample_clips

        state = distributed.state(config.device == "cpu")
        options = dict(config.sample.system_options)
        if argument is not None:
            predictor = target(argument, config=config, device=state.device, **options)
        else:
            predictor = instantiate(target, options, name)
        about = {"system": plugins.label(name)}
        result = sample_clips(config, run, split, predictor, state, lambda context: about, annotations=False)
        provenance = {"source": plugins.source(name), **getattr(predictor, "provenance", {})}
        return {**result, "provenance": provenance}

    def check(config, split):
        from aidbench.data.open import open_dataset

        if argument is not None and hasattr(target, "check"):
            target.check(argument)
        open_dataset(config, split)

    return System(name, sample=sample, check=check)


def trained(name: str) -> bool:
    return load(name).train is not None


def on_base(name: str) -> bool:
    return load(name).on_base
