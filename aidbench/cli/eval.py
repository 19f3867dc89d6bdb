"""`aidbench eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aidbench import registry
from aidbench.cli.options import (
    ConfigFile,
    Device,
    DryRun,
    Json,
    MetricWeights,
    Overrides,
    Preset,
    check_names,
    parse_weights,
    print_config,
    resolve,
)

app = typer.Typer()


@app.command(
    "eval", epilog="Example: aidbench eval --real real_videos/ --fake samples/ --metric fvd@seer --json"
)
def eval_(
    metric: Annotated[list[str], typer.Option("--metric", "-m", help="Registered metric; repeatable.")],
    run: Annotated[str | None, typer.Option("--run", help="A sampling run (id or folder) to score.")] = None,
    real: Annotated[
        Path | None, typer.Option("--real", help="Folder of real videos (files or frame folders).")
    ] = None,
    fake: Annotated[Path | None, typer.Option("--fake", help="Folder of generated videos.")] = None,
    weights_opt: MetricWeights = None,
    device: Device = None,
    as_json: Json = False,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Score an unfinished sample run's samples.")
    ] = False,
) -> None:
    """Score samples with metrics whose names carry their protocol (fvd@seer, fid@clean-frames, …)."""
    from aidbench.stages import eval as evaluation

    for name in metric:
        registry.get("metric", name)
        if registry.canonical("metric", name) != name:
            typer.echo(f"{name} is {registry.canonical('metric', name)}, the paper's protocol.", err=True)
    metric = [registry.canonical("metric", name) for name in metric]
    explicit = parse_weights(weights_opt)
    evaluation.check_sources(run, real, fake)
    cfg = resolve(preset, config_file, overrides, {"eval.metrics": list(metric)})
    samples_run = None
    if run is not None:
        cfg, samples_run = evaluation.samples_config(cfg, run, overrides or [], metric, allow_partial)
    check_names(cfg)
    if dry_run:
        return print_config(cfg)
    records, path = evaluation.run_eval(
        cfg, samples_run=samples_run, real=real, fake=fake, explicit=explicit, device=device
    )
    if as_json:
        typer.echo("".join(r.to_json() + "\n" for r in records), nl=False)
        return
    for r in records:
        typer.echo(
            f"{r.metric:<34} {r.value:.4f}  [{r.ci_low:.4f}, {r.ci_high:.4f}] {r.confidence:.0%}  "
            f"n_real {r.n_real}, n_fake {r.n_fake}"
        )
        if r.noise_floor:
            f = r.noise_floor
            typer.echo(
                f"  noise floor ({f['clips']}, {f['splits']} splits): {f['value']:.4f} [{f['low']:.4f}, {f['high']:.4f}]"
            )
        if r.samples:
            ways = [("mean-of-K", "mean_of_k"), ("best-of-K", "best_of_k"), ("all K pooled", "pooled")]
            typer.echo(
                f"  over {r.samples['k']} samples a clip: "
                + ", ".join(
                    f"{label} {v['value']:.4f} [{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
                    for label, key in ways
                    if (v := r.samples.get(key))
                )
            )
        for note in r.warnings:
            typer.echo(f"  warning: {note}")
    typer.echo(f"records: {path}")
