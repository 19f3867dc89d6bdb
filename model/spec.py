"""What the registry hands out for a model name: the operations a model supports, each a plain function.

An operation that has not landed yet is None, and the CLI says so instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    name: str
    # config → {"model", "total", "trainable", "components": {name: {"total", "trainable"}}}
    parameters: Callable[[Any], dict[str, Any]] | None = None
    train: Callable[..., Any] | None = None
    sample: Callable[..., Any] | None = None
    # (config, split) → None or one clear error: weights and data are there, before any run starts
    check: Callable[[Any, str], None] | None = None


def _aid_parameters(config):
    from aidbench.model.info import aid_parameters

    return aid_parameters(config)


def _aid_train(config, run, on_step=None):
    from aidbench.model.system import train

    return train(config, run, on_step)


def _aid_sample(config, run, checkpoint, split):
    from aidbench.model.system import sample

    return sample(config, run, checkpoint, split)


def _aid_check(config, split):
    from aidbench.model.components import preflight

    preflight(config, split)


AID = ModelSpec("aid", parameters=_aid_parameters, train=_aid_train, sample=_aid_sample, check=_aid_check)
