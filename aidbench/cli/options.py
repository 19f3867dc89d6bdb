"""The options several commands share, and the few steps every command takes before its one call:
resolve the config, check the names it mentions, print it for --dry-run, parse --weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aidbench import config, registry, weights
from aidbench.config import Config
from aidbench.errors import UsageError

Preset = Annotated[
    str | None, typer.Option("--preset", "-p", help="Named preset (see `aidbench ls presets`).")
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file; beats the preset.")
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="KEY=VALUE override, e.g. data.resolution=64; repeatable; beats --config."
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and stop.")]
Resume = Annotated[
    str | None, typer.Option("--resume", help="Continue an unfinished run: RUN_ID or 'latest'.")
]
RunId = Annotated[
    str | None, typer.Option("--run-id", help="Name the new run folder (default: time-label-random).")
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
WeightFiles = Annotated[
    list[str] | None,
    typer.Option(
        "--weights", help="NAME=PATH of a weight file or folder (see `aidbench weights`); repeatable."
    ),
]
Root = Annotated[
    Path | None, typer.Option("--root", help="The dataset's root, in its official layout (data.root).")
]
MetricWeights = Annotated[
    list[str] | None, typer.Option("--weights", help="NAME=PATH for a metric's weights; repeatable.")
]
Device = Annotated[
    str | None, typer.Option("--device", help="cpu or cuda (default: the config's device, auto).")
]


def resolve(preset, config_file, overrides, cli: dict[str, Any] | None = None) -> Config:
    return config.resolve(preset=preset, config_file=config_file, overrides=overrides or (), cli=cli)


def text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def print_config(cfg: Config) -> None:
    typer.echo(f"# resolved config, sha256 {cfg.sha256()}")
    typer.echo(config.to_yaml(cfg), nl=False)


def check_names(cfg: Config) -> None:
    """Every name a config mentions must be registered: fail before any work starts."""
    registry.get("dataset", cfg.data.dataset)
    registry.get("system", cfg.model.name)
    for name, variant in cfg.variants.items():
        registry.get("system", variant.system)
        if name in registry.names("system"):
            raise UsageError(f"variant {name} has the name of a registered system; give it another.")
        source = variant.checkpoint_of
        if (
            source is not None
            and name in cfg.systems
            and (source not in cfg.systems or cfg.for_system(source).model.name != variant.system)
        ):
            raise UsageError(
                f"variant {name} samples the checkpoint of {source}, which must be a '{variant.system}' "
                "among the preset's systems."
            )
    for system in cfg.systems:
        if system not in cfg.variants:
            registry.get("system", system)
    for metric in cfg.eval.metrics:
        registry.get("metric", metric)


def parse_weights(items: list[str] | None) -> dict[str, str]:
    parsed = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise UsageError(
                f"--weights expects NAME=PATH (e.g. i3d=/data/i3d_pretrained_400.pt), got '{item}'."
            )
        weights.get(name)
        parsed[name] = path
    return parsed
