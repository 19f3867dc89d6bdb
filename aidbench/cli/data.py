"""`aidbench data verify|export|states`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aidbench import registry
from aidbench.cli.options import ConfigFile, Device, Json, Overrides, Preset, parse_weights, resolve

app = typer.Typer(help="Prepare and check datasets.", no_args_is_help=True)


@app.command("verify", epilog="Example: aidbench data verify ssv2 --root /data/ssv2 --split validation")
def verify(
    dataset: Annotated[str, typer.Argument(help="Registered dataset name.")],
    root: Annotated[
        Path | None, typer.Option("--root", help="The dataset's root, in its official layout.")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Split to check.")] = "validation",
    as_json: Json = False,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
) -> None:
    """Read every clip of a split as training would: counts found, missing, corrupt, too short; frame sizes."""
    from aidbench.stages.data import unusable, verify_split

    registry.get("dataset", dataset)
    cfg = resolve(preset, config_file, overrides, {"data.dataset": dataset})
    report, run = verify_split(cfg, split, root)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
        typer.echo(f"{dataset}/{report['split']} at {report['root']}: {counts}")
        for key in ("frames", "height", "width"):
            if report[key]:
                typer.echo(
                    f"  {key}: min {report[key]['min']}, median {report[key]['median']}, max {report[key]['max']}"
                )
        for skipped in report["skipped"][:20]:
            typer.echo(f"  {skipped['kind']}: {skipped['clip_id']}: {skipped['detail']}")
        if len(report["skipped"]) > 20:
            typer.echo(f"  … {len(report['skipped']) - 20} more in {run.path / 'manifest.json'}")
    error = unusable(report, run)
    if error is not None:
        raise error


@app.command("export", epilog="Example: aidbench data export synthtvp --out /tmp/synthtvp --n 64 --seed 0")
def export(
    dataset: Annotated[str, typer.Argument(help="Embedded dataset to write to disk (synthtvp).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write, in the SSv2 rawframes layout.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Clips per split.")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 0,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Split to write; repeatable (default: all three).")
    ] = None,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
) -> None:
    """Write an embedded benchmark to disk in a real dataset layout (resolution and length from the config)."""
    from aidbench.stages import data

    cfg = resolve(preset, config_file, overrides)
    summary = data.export(cfg, dataset, out, n, seed, split)
    typer.echo(
        f"wrote {summary['clips_written']} new clips to {out} "
        f"({', '.join(f'{k} {v}' for k, v in summary['splits'].items())}; "
        f"{cfg.data.resolution}px, {cfg.data.num_frames} frames, task {cfg.data.synthtvp_task}, seed {seed})"
    )


@app.command(
    "states", epilog="Example: aidbench data states --dataset ssv2 --root /data/ssv2 --backend llava"
)
def states(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Registered dataset.")],
    backend: Annotated[str, typer.Option("--backend", help="llava, oracle (synthtvp) or none.")] = "llava",
    root: Annotated[Path | None, typer.Option("--root", help="The dataset's root.")] = None,
    split: Annotated[str, typer.Option("--split", help="Split to describe.")] = "train",
    out: Annotated[
        Path | None, typer.Option("--out", help="State cache (default: <root>/states.jsonl).")
    ] = None,
    weights_opt: Annotated[list[str] | None, typer.Option("--weights", help="llava=FOLDER.")] = None,
    device: Device = None,
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """Write the MLLM's four state sentences per clip into the state cache (resumable)."""
    from aidbench.stages.data import describe_states

    registry.get("dataset", dataset)
    cfg = resolve(preset, None, overrides, {"data.dataset": dataset})
    llava = parse_weights(weights_opt).get("llava")
    result = describe_states(cfg, split, backend, root=root, out=out, llava=llava, device=device)
    typer.echo(json.dumps(result))
    if result.get("failed"):
        typer.echo(f"{len(result['failed'])} clips got no usable answer; run again to retry them.", err=True)
