"""The results folder (config paths.results: `results/` by default, or $AIDBENCH_RESULTS), laid out once:

<results>/runs/<stage>/<run id>/   one folder per run: manifest.json and what the stage wrote
<results>/reports/<name>/          a report (report.md, .csv, .tex, .html), its summary.json and, when the
                                   preset times training, bench-train.json
<results>/cache/features/          the feature cache, keyed by extractor and clip content
"""

from __future__ import annotations

from pathlib import Path

SUMMARY_FILE = "summary.json"
# `reproduce`'s training speed record of a preset (`aidbench bench train` at its sizes).
BENCH_FILE = "bench-train.json"


def runs_dir(results: str | Path, stage: str) -> Path:
    return Path(results) / "runs" / stage


def reports_dir(results: str | Path, name: str | None) -> Path:
    """A report's folder: the preset's name (or a run id); reports with neither go to `default`."""
    return Path(results) / "reports" / (name or "default")


def summary_file(results: str | Path, name: str | None) -> Path:
    return reports_dir(results, name) / SUMMARY_FILE


def feature_cache(results: str | Path) -> Path:
    return Path(results) / "cache" / "features"
