"""`aidbench compare RUN_A RUN_B`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aidbench import registry
from aidbench.cli.options import Device, Json, MetricWeights, Overrides, Preset, parse_weights, resolve

app = typer.Typer()


@app.command(epilog="Example: aidbench compare AID_SAMPLE_RUN SVD_SAMPLE_RUN --metric fvd@seer --json")
def compare(
    run_a: Annotated[str, typer.Argument(help="A sample run (id or folder): the first system.")],
    run_b: Annotated[str, typer.Argument(help="A sample run of the same clips: the second system.")],
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Registered metric; repeatable (default: RUN_A's eval.metrics)."),
    ] = None,
    weights_opt: MetricWeights = None,
    device: Device = None,
    as_json: Json = False,
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """Paired differences A − B of every metric on the same clips, with intervals and p-values."""
    from aidbench.stages import compare as comparing
    from aidbench.stages import eval as evaluation

    names = [registry.canonical("metric", registry.get("metric", m).name) for m in metric or ()]
    cfg, folder_a = evaluation.samples_config(resolve(preset, None, None), run_a, overrides or [], names)
    folder_b = evaluation.samples_config(cfg, run_b, [], names)[1]
    found, path = comparing.run_compare(cfg, folder_a, folder_b, parse_weights(weights_opt), device)
    if as_json:
        typer.echo("".join(json.dumps(d.to_dict()) + "\n" for d in found), nl=False)
        return
    typer.echo(f"A: {folder_a.name}\nB: {folder_b.name}")
    for d in found:
        p = "–" if d.p_value is None else f"{d.p_value:.3g}"
        typer.echo(
            f"{d.metric:<34} A {d.a:.4f}  B {d.b:.4f}  A − B {d.delta:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}] "
            f"{d.confidence:.0%}  p {p}  ({d.clips} clips"
            + (f"; {d.clips_needed} would detect it at 80% power)" if d.clips_needed else ")")
        )
    typer.echo(f"differences: {path}")
