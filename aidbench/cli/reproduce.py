"""`aidbench reproduce`: every stage for every system of a preset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from aidbench import atomic, environment, runs
from aidbench.cli.options import (
    ConfigFile,
    DryRun,
    Overrides,
    Preset,
    Resume,
    RunId,
    check_names,
    print_config,
    resolve,
)
from aidbench.errors import UsageError

app = typer.Typer()


@app.command(epilog="Example: aidbench reproduce --preset smoke")
def reproduce(
    preset: Preset = "smoke",
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    resume: Resume = None,
    run_id: RunId = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record", help="Also write the wall time, machine load and results to this JSON file."
        ),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Run every stage once per seed (e.g. 0,1,2,3,4) and summarise over them (config key seeds).",
        ),
    ] = None,
) -> None:
    """Run every stage for every system of a preset (data → base → train → sample → eval → compare → summary → report),
    resumably; prints a system × metric table and writes results/reports/<preset>/summary.json."""
    from aidbench import reproduce as pipeline

    started = time.perf_counter()
    load_before = environment.load_average()
    if resume:
        # The run's stored config decides everything; only the results folder may be named again.
        if config_file or run_id or seeds or any(not o.startswith("paths.results=") for o in overrides or ()):
            raise UsageError(
                "--resume continues with the run's stored config: drop --config, --run-id, --seeds and --set "
                "(except --set paths.results=DIR to say where the run lives)."
            )
        run = pipeline.resume_run(resolve(None, None, overrides).paths.results, resume)
        if run.status == "done":
            typer.echo(f"run {run.run_id} already finished; nothing to do ({run.path}).")
            return
        cfg = run.config
    else:
        cfg = resolve(preset, config_file, overrides, {"seeds": _seed_list(seeds)})
        check_names(cfg)
        if dry_run:
            return print_config(cfg)
        run = runs.start_run("reproduce", cfg, run_id=run_id)
    typer.echo(f"run {run.run_id} → {run.path}")
    with runs.running(run):
        outcomes = pipeline.reproduce(cfg, run, on_stage=lambda name: typer.echo(f"  {name:<8} …"))
    for outcome in outcomes:
        took = f" ({outcome.seconds:.1f} s)" if outcome.seconds is not None else ""
        typer.echo(f"  {outcome.stage:<8} {outcome.status}{took}")
    missing = [o.stage for o in outcomes if o.status.startswith("not built")]
    if missing:
        typer.echo(f"stages not built yet, skipped: {', '.join(missing)} (see the issues named above).")
    summary_file = pipeline.summary_path(cfg, run)
    if summary_file.is_file():
        typer.echo(pipeline.table(json.loads(summary_file.read_text())))
        typer.echo(f"summary: {summary_file}")
    if record is not None:
        entry = pipeline.record(cfg, run, time.perf_counter() - started, load_before)
        atomic.write_text(record, json.dumps(entry, indent=2) + "\n")
        typer.echo(f"record: {record}")


def _seed_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--seeds '{text}' is not a list of whole numbers such as 0,1,2,3,4.") from None
