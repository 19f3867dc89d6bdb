"""`aidbench report` and `aidbench check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aidbench import layout
from aidbench.cli.options import ConfigFile, Overrides, Preset, resolve
from aidbench.errors import RegressionFound, UsageError
from aidbench.report import check as checking
from aidbench.report import records

app = typer.Typer()


@app.command(epilog="Example: aidbench report --preset smoke --out results/reports/smoke")
def report(
    preset: Preset = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write (default results/reports/<preset>).")
    ] = None,
    max_clips: Annotated[
        int, typer.Option("--max-clips", min=0, help="Clips in the HTML page's gallery.")
    ] = 16,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
) -> None:
    """Render the report: Markdown, CSV, LaTeX and one HTML page; our numbers beside the paper's."""
    from aidbench.report.build import build_report

    cfg = resolve(preset, config_file, overrides)
    out = out or layout.reports_dir(cfg.paths.results, cfg.preset)
    for path in build_report(out, preset=cfg.preset, config=cfg, max_clips=max_clips):
        typer.echo(f"wrote {path}")


@app.command(
    epilog="Examples: aidbench check --against results/curated/smoke --tolerance 5%\n\n"
    "aidbench check --against results/curated/smoke --update --preset smoke   (make the curated records)"
)
def check(
    against: Annotated[
        Path, typer.Option("--against", help="Curated records: a folder with summary.json, or the file.")
    ],
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary", help="The new numbers (default: the preset's summary.json, else its eval runs)."
        ),
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            "--tolerance",
            "-t",
            help="Allowed extra worsening beyond the curated interval: 0.5, 5%, or METRIC=0.5; repeatable.",
        ),
    ] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Make the new numbers the curated records instead.")
    ] = False,
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """Compare new numbers with curated ones; exit 4 with a diff when one is worse beyond its margin."""
    default, per_metric = checking.parse_tolerances(tolerance)
    curated = None if update else checking.load_curated(against)
    if summary is not None:
        new, source = records.load_summary(summary), str(summary)
    else:
        preset = preset or (curated or {}).get("preset")
        if not preset:
            raise UsageError("say which preset's runs to check: --preset P (or --summary FILE).")
        cfg = resolve(preset, None, overrides)
        systems, metrics = list(cfg.systems), list(cfg.eval.metrics)
        new, source = checking.new_numbers(cfg.paths.results, preset, cfg.data.dataset, systems, metrics)
    if update:
        path = checking.write_curated(against, new, source)
        typer.echo(f"wrote the curated records {path} from {source}; review and commit it.")
        return
    comparisons = checking.compare(curated, new, default, per_metric)
    typer.echo(f"new: {source}\ncurated: {checking.curated_path(against)}")
    typer.echo(checking.diff_table(comparisons))
    failed = [c for c in comparisons if c.failed]
    if failed:
        raise RegressionFound(
            f"{len(failed)} of {len(comparisons)} numbers regressed or are missing against {against} "
            "(table above; margin = the curated interval on the worse side, or the seeds' prediction "
            "interval, + --tolerance)."
        )
    typer.echo(f"no regression: {len(comparisons)} numbers within their margins.")
