"""`aidbench bench WHAT`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aidbench import atomic
from aidbench.bench import measure
from aidbench.cli.options import Json, Overrides, Preset, resolve

app = typer.Typer()


@app.command(
    epilog="Example: aidbench bench train -m aid -m aid-fullft --preset paper-ssv2 --json\n\n"
    "Also: aidbench bench step --preset smoke --steps 10   (a training step against the bare UNet)"
)
def bench(
    what: Annotated[str, typer.Argument(help="train, sample, step, decode, frechet, i3d or precision.")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="System to measure (train, sample, step); repeatable. Default: all."
        ),
    ] = None,
    preset: Preset = None,
    overrides: Overrides = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Clips per step (train, sample).")] = 1,
    frames: Annotated[int | None, typer.Option("--frames", min=2, help="Default: data.num_frames.")] = None,
    resolution: Annotated[
        int | None, typer.Option("--resolution", min=8, help="Default: data.resolution.")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Timed steps (train) or clips (sample).")] = 5,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed steps first.")] = 2,
    max_batch: Annotated[
        bool, typer.Option("--max-batch", help="Also find the largest batch under the memory cap (Table 4).")
    ] = False,
    memory_cap_gb: Annotated[
        float | None,
        typer.Option("--memory-cap-gb", help="Cap for --max-batch (default: 90% of the GPU's memory)."),
    ] = None,
    clips: Annotated[
        int | None, typer.Option("--clips", min=2, help="Clips to process (decode, i3d).")
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Timed rounds; the median is kept.")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="Write the record to this JSON file.")] = None,
    as_json: Json = False,
) -> None:
    """Speed and memory: training s/iter, peak memory, largest batch (Tables 3-4); sampling; decoding; metrics."""
    record = measure.run(
        what,
        resolve(preset, None, overrides),
        model,
        batch=batch,
        frames=frames,
        resolution=resolution,
        steps=steps,
        warmup=warmup,
        max_batch=max_batch,
        memory_cap_gb=memory_cap_gb,
        clips=clips,
        rounds=rounds,
    )
    if out is not None:
        atomic.write_text(out, json.dumps(record, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(record))
    elif what in measure.SYSTEM_BENCHMARKS:
        _print_systems(record)
    else:
        summary = {k: v for k, v in record.items() if k not in ("device", "packages", "python", "command")}
        typer.echo(json.dumps(summary, indent=1))


def _print_systems(record: dict[str, Any]) -> None:
    typer.echo(f"{record['what']} on {', '.join(record['device'].get('gpus') or ['the CPU'])}")
    for r in record["systems"]:
        if "error" in r:
            typer.echo(f"  {r['system']:<16} error: {r['error']}")
            continue
        key = next(k for k in ("seconds_per_iter", "seconds_per_clip", "seconds_per_step") if k in r)
        line = f"  {r['system']:<16} {r[key]:.3f} s"
        if "overhead" in r:
            line += f"  bare UNet {r['bare_unet_seconds']:.3f} s  overhead {r['overhead']:.1%}"
        line += f"  peak {r['peak_memory_gb']} GB" if r.get("peak_memory_gb") is not None else ""
        if r.get("trainable_parameters") is not None:
            line += f"  trainable {r['trainable_parameters'] / 1e6:.1f}M"
        if r.get("largest_batch"):
            lb = r["largest_batch"]
            line += (
                f"  largest batch {lb['batch']} ({lb['seconds_per_iter']:.3f} s, {lb['peak_memory_gb']} GB)"
            )
        typer.echo(line)
    for key, value in (record.get("ratios") or {}).items():
        typer.echo(f"  {key}: {value}")
