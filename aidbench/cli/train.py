"""`aidbench train SYSTEM`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aidbench import registry
from aidbench.cli.options import (
    ConfigFile,
    DryRun,
    Overrides,
    Preset,
    Resume,
    Root,
    RunId,
    WeightFiles,
    check_names,
    parse_weights,
    print_config,
    resolve,
    text,
)

app = typer.Typer()


@app.command(epilog="Example: aidbench train aid --dataset ssv2 --preset paper-ssv2")
def train(
    model: Annotated[str, typer.Argument(help="Registered system (see `aidbench ls systems`).")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registered dataset.")] = None,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    resume: Resume = None,
    run_id: RunId = None,
    weights_opt: WeightFiles = None,
    root: Root = None,
) -> None:
    """Train a system (AID or a baseline) on a dataset; writes a run folder with checkpoints."""
    registry.get("system", model)
    files = parse_weights(weights_opt) or None
    cli = {"model.name": model, "data.dataset": dataset, "paths.files": files, "data.root": text(root)}
    cfg = resolve(preset, config_file, overrides, cli)
    check_names(cfg)
    if dry_run:
        return print_config(cfg)
    from aidbench.stages.train import run_train

    run, result = run_train(
        cfg, resume=resume, run_id=run_id, on_run=lambda r: typer.echo(f"run {r.run_id} → {r.path}")
    )
    if result is None:
        typer.echo(f"run {run.run_id} already finished; its model is in {run.path / 'output'}.")
    else:
        typer.echo(f"trained {run.config.model.name}: {json.dumps(result)}")
