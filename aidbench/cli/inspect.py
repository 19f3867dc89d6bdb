"""What aidbench knows and what this machine has: `aidbench ls`, `protocols`, `model-info`, `doctor`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aidbench import config, registry, systems
from aidbench.cli.options import ConfigFile, Json, Overrides, Preset, resolve
from aidbench.errors import UsageError, did_you_mean
from aidbench.report.tables import paper_systems

app = typer.Typer()


@app.command("ls", epilog="Example: aidbench ls metrics")
def ls(
    kind: Annotated[
        str | None, typer.Argument(help="systems, datasets, metrics, tables or presets (default: all).")
    ] = None,
) -> None:
    """List what is registered: systems (and those only the paper reports), datasets, metrics, tables, presets."""
    kinds = {f"{k}s": k for k in registry.KINDS}
    if kind is not None and kind not in (*kinds, "presets"):
        raise UsageError(
            f"unknown kind '{kind}'{did_you_mean(kind, [*kinds, 'presets'])} (kinds: {', '.join(kinds)}, presets)"
        )
    for plural, singular in kinds.items():
        if kind in (None, plural):
            typer.echo("systems (runnable here):" if singular == "system" else f"{plural}:")
            for entry in registry.CATALOGUE[singular].values():
                status = "" if entry.status == "ready" else f"  [{entry.status}]"
                typer.echo(f"  {entry.name:<34} {entry.summary}{status}")
        if singular == "system" and kind in (None, plural):
            from aidbench import plugins

            found = plugins.installed()
            if found:
                typer.echo(f"systems (installed plugins, entry point group {plugins.GROUP}):")
                for name, ep in sorted(found.items()):
                    typer.echo(f"  {name:<34} {plugins.describe(ep)}")
            typer.echo("systems (paper-reported: numbers from results/paper only):")
            tables = [registry.load("table", name) for name in registry.names("table")]
            for name, where in paper_systems(tables).items():
                typer.echo(f"  {name:<34} paper-reported in {', '.join(where)}")
    if kind in (None, "presets"):
        typer.echo("presets:")
        for name in config.preset_names():
            typer.echo(f"  {name}")


@app.command(epilog="Example: aidbench protocols --markdown")
def protocols(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The README's table of protocols × steps.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Every metric's protocol card: frames, reference frames, resize, features, covariance, distance."""
    from aidbench.metrics import protocols as cards

    if markdown:
        typer.echo(cards.protocols_markdown(), nl=False)
        return
    if as_json:
        typer.echo(json.dumps(cards.protocol_cards()))
        return
    for name, steps in cards.protocol_cards().items():
        typer.echo(name)
        for key, value in steps.items():
            typer.echo(f"  {key:<17} {value}")


@app.command("model-info", epilog="Example: aidbench model-info aid --preset paper-ssv2 --json")
def model_info(
    model: Annotated[str, typer.Argument(help="Registered system.")],
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    as_json: Json = False,
) -> None:
    """Total and trainable parameters by component, from the config on the meta device (no weights)."""
    system = systems.load(model, "parameters")
    counts = system.parameters(resolve(preset, config_file, overrides, {"model.name": model}))
    if as_json:
        typer.echo(json.dumps(counts))
        return
    typer.echo(f"{'component':<48} {'parameters':>14} {'trainable':>14}")
    for name, part in counts["components"].items():
        typer.echo(f"{name:<48} {part['total'] / 1e6:>13.2f}M {part['trainable'] / 1e6:>13.2f}M")
    typer.echo(f"{'total':<48} {counts['total'] / 1e6:>13.2f}M {counts['trainable'] / 1e6:>13.2f}M")


@app.command(epilog="Example: aidbench doctor --json")
def doctor(preset: Preset = None, as_json: Json = False) -> None:
    """Versions, devices, and which weights and datasets are found where."""
    from aidbench import doctor as checks

    report = checks.diagnose(resolve(preset, None, ()))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        checks.render(report)
