"""`aidbench sample`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

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
from aidbench.errors import UsageError

app = typer.Typer()


@app.command(
    epilog="Example: aidbench sample --checkpoint results/runs/train/RUN/checkpoint-1000 --dataset ssv2 (your "
    "own system: aidbench sample --system my_package.predict:MyModel --dataset synthtvp)"
)
def sample(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A train run's output or checkpoint-<step> folder.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--system",
            "--model",
            help="A system that needs no training: svd-zeroshot, vae-recon, …, or your own predictor "
            "(package.module:callable, an `aidbench.systems` entry point, diffusers:FOLDER).",
        ),
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registered dataset.")] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Split to sample (default: data.eval_split).")
    ] = None,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    resume: Resume = None,
    run_id: RunId = None,
    weights_opt: WeightFiles = None,
    root: Root = None,
) -> None:
    """Generate one video per clip of a split from a checkpoint (or a zero-shot system); resumable, sharded."""
    from aidbench.stages.sample import run_sample, sample_config

    announce = lambda run: typer.echo(f"run {run.run_id} → {run.path}")  # noqa: E731
    if resume:
        given = (checkpoint, model, dataset, split, config_file, run_id, root)
        if any(v is not None for v in given) or overrides or weights_opt:
            raise UsageError("--resume continues with the run's stored settings; drop the other options.")
        run, result = run_sample(resolve(preset, None, ()), resume=resume, on_run=announce)
    else:
        if checkpoint is None and model is None:
            raise UsageError(
                "give --checkpoint (a train run's output or checkpoint-<step>), --system for a system that needs "
                "no training (your own predictor included), or --resume RUN_ID."
            )
        files = parse_weights(weights_opt) or None
        cli = {"data.dataset": dataset, "model.name": model, "paths.files": files, "data.root": text(root)}
        cfg = sample_config(resolve(preset, config_file, overrides, cli), checkpoint, model)
        check_names(cfg)
        if dry_run:
            return print_config(cfg)
        run, result = run_sample(cfg, checkpoint=checkpoint, split=split, run_id=run_id, on_run=announce)
    if result is None:
        typer.echo(f"run {run.run_id} already finished: {run.path / 'samples'}.")
    else:
        typer.echo(f"sampled: {json.dumps(result)}")
