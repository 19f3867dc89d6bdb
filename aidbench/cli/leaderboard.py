"""`aidbench leaderboard`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aidbench.cli.options import Overrides, resolve

app = typer.Typer()


@app.command(
    epilog="Example: aidbench leaderboard --dataset synthtvp --metric psnr@synthtvp --reference copy-first-frame"
)
def leaderboard(
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="The dataset whose scored systems to rank.")
    ],
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Registered metric; repeatable (default: every metric found)."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="A system: each row's paired Δ against it, from compare runs."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="The split whose clip ids every row must cover (default: eval_split)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write (default results/reports/leaderboard/<dataset>)."),
    ] = None,
    overrides: Overrides = None,
) -> None:
    """Rank every system scored on a dataset: one sortable HTML page, a Markdown table and a CSV."""
    from aidbench.report import leaderboard as board

    results = resolve(None, None, overrides).paths.results
    found = board.leaderboard(results, dataset, metric, reference, split)
    for path in board.write(found, out or board.default_out(results, dataset)):
        typer.echo(f"wrote {path}")
    flagged = [row.system for row in found.rows if not row.coverage.complete]
    if flagged:
        typer.echo(f"not ranked (their clips differ from the expected ones): {', '.join(flagged)}", err=True)
