"""`aidbench weights` and `aidbench stats`: the weights aidbench knows, and the feature cache."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aidbench import layout, weights
from aidbench.cli.options import Json, Preset, parse_weights, resolve
from aidbench.errors import UsageError, UserError

app = typer.Typer(help="The weights aidbench knows: where they are looked for, and whether they check out.")
stats_app = typer.Typer(
    help="The feature cache: features stored by extractor and clip content.", no_args_is_help=True
)


@app.callback(invoke_without_command=True)
def default(ctx: typer.Context) -> None:
    """List known weights (the default), or verify them."""
    if ctx.invoked_subcommand is None:
        list_(preset=None, as_json=False)


@app.command("list", epilog="Example: aidbench weights list --json")
def list_(preset: Preset = None, as_json: Json = False) -> None:
    """Each known weight: file name, where it is looked for, whether it is there, where to get it."""
    rows = weights.table(resolve(preset, None, ()).paths.weights)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        where = f"found at {row['found']}" if row["found"] else f"missing (expected at {row['expected']})"
        typer.echo(f"{row['name']:<16} {where}\n{'':<16} used by {row['used_by']}; from {row['source']}")


@app.command("verify", epilog="Example: aidbench weights verify clip --weights clip=/data/ViT-B-32.pt")
def verify(
    names: Annotated[
        list[str] | None, typer.Argument(help="Weights to check (default: every one found).")
    ] = None,
    weights_opt: Annotated[list[str] | None, typer.Option("--weights", help="NAME=PATH; repeatable.")] = None,
    preset: Preset = None,
) -> None:
    """Check found weights against their recorded sha256 (folders: the files they need)."""
    folder = resolve(preset, None, ()).paths.weights
    explicit = parse_weights(weights_opt)
    chosen = list(names or []) or [n for n in weights.KNOWN if n in explicit or weights.locate(n, folder)]
    if not chosen:
        typer.echo(f"no known weights found under {folder}; `aidbench weights list` says where to get them.")
        return
    failed = False
    for name in chosen:
        path = weights.resolve(name, folder, explicit.get(name))
        ok, detail = weights.verify(name, path)
        failed |= ok is False
        mark = {True: "ok", False: "MISMATCH", None: "unchecked"}[ok]
        typer.echo(f"{name:<16} {mark:<9} {path}: {detail}")
    if failed:
        raise UserError(
            "some weights do not match their recorded sha256; fetch them again from their source."
        )


@app.command(
    "trust",
    epilog="Example: aidbench weights trust inception --weights inception=/data/inception-2015-12-05.pt",
)
def trust(
    names: Annotated[list[str], typer.Argument(help="Weights you downloaded yourself from their source.")],
    weights_opt: Annotated[list[str] | None, typer.Option("--weights", help="NAME=PATH; repeatable.")] = None,
    preset: Preset = None,
) -> None:
    """Pin files you got from their publisher: their sha256 is written beside them (NAME.sha256), and a
    TorchScript weight loads only when pinned or its recorded sha256 matches."""
    folder = resolve(preset, None, ()).paths.weights
    explicit = parse_weights(weights_opt)
    for name in names:
        path = weights.resolve(name, folder, explicit.get(name))
        typer.echo(f"{name:<16} pinned {weights.pin(path)} for {path}")


@app.command("fetch", epilog="Example: aidbench weights fetch i3d")
def fetch(
    names: Annotated[list[str], typer.Argument(help="Weights to download (single files only).")],
    url: Annotated[
        str | None, typer.Option("--url", help="Download from this URL instead (one name).")
    ] = None,
    preset: Preset = None,
) -> None:
    """Download weights into the weights folder (needs internet), checking the recorded sha256."""
    folder = resolve(preset, None, ()).paths.weights
    if url and len(names) != 1:
        raise UsageError("--url goes with exactly one weights name.")
    for name in names:
        weights.get(name)
    for name in names:
        typer.echo(f"{name:<16} {weights.fetch(name, folder, url)}")


@stats_app.command("ls", epilog="Example: aidbench stats ls")
def stats_ls(preset: Preset = None, as_json: Json = False) -> None:
    """List cached feature sets: key, family, protocol, clips, size."""
    from aidbench.metrics.cache import FeatureCache

    entries = FeatureCache(layout.feature_cache(resolve(preset, None, ()).paths.results)).entries()
    if as_json:
        typer.echo(json.dumps(entries))
        return
    if not entries:
        typer.echo("the feature cache is empty.")
    for e in entries:
        protocol = e.get("protocol", {}).get("name", e.get("resize", ""))
        typer.echo(
            f"{e['key']}  {e['family']:<17} {protocol:<16} {e['clips']:>6} clips  {e['bytes'] / 1e6:.1f} MB"
        )


@stats_app.command("rm", epilog="Example: aidbench stats rm 3fa2c1")
def stats_rm(
    key: Annotated[str | None, typer.Argument(help="Key or key prefix to remove.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every cached feature set.")] = False,
    preset: Preset = None,
) -> None:
    """Remove cached features by key prefix, or all of them."""
    if (key is None) == (not all_):
        raise UsageError("give a KEY prefix or --all.")
    from aidbench.metrics.cache import FeatureCache

    cache = FeatureCache(layout.feature_cache(resolve(preset, None, ()).paths.results))
    removed = cache.remove(None if all_ else key)
    if not removed:
        raise UserError(
            "the feature cache is empty."
            if all_
            else f"no cached features match '{key}'; see `aidbench stats ls`."
        )
    typer.echo(f"removed {len(removed)}: {', '.join(removed)}")
