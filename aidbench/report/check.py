"""`aidbench check`: compare a new run's numbers with curated ones, metric by metric, direction-aware.

Curated records live in `results/curated/<name>/summary.json`, in the summary schema of
report/records.py, with a `curated` block saying where they came from. They are made from a trusted run
with `aidbench check --against results/curated/<name> --update` (which copies that run's summary), and
committed.

A number regresses when it is worse than the curated one by more than its margin:
    margin = the curated interval on the worse side (value − ci_low when higher is better,
             ci_high − value when lower is better) + the tolerance (absolute, or % of the curated value).
Curated over several seeds (`reproduce --seeds`), the interval is where one new run is expected to land:
    the 99% prediction interval of a single run from the seeds' spread, t(0.995, n−1)·sd·√(1 + 1/n),
    but no narrower than the seeds' mean bootstrap interval on the worse side (the metric's own resolution).
A new run is one seed on any machine: another CPU changes the floating-point trajectory as another seed
does, so the seeds' spread, not one run's interval, says how far an unchanged code may move.
A new value that is not a finite number is a regression.
A curated number the new run lacks is a regression too (a system or metric that vanished). Numbers only
the new run has are listed and pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aidbench import environment, layout, registry
from aidbench.errors import UsageError, UserError
from aidbench.report import records

CURATED_FILE = layout.SUMMARY_FILE


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0
    relative: float = 0.0  # a fraction of the curated value

    def of(self, value: float) -> float:
        return self.absolute + self.relative * abs(value)

    def __str__(self) -> str:
        return f"{self.relative:.0%}" if self.relative else f"{self.absolute:g}"


_AMOUNT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(%?)$")


def _amount(text: str, item: str) -> Tolerance:
    match = _AMOUNT.match(text.strip())
    if not match:
        raise UsageError(
            f"--tolerance '{item}' is not a tolerance: give an amount (0.5), a percentage (5%), or "
            "METRIC=AMOUNT (psnr@synthtvp=0.5)."
        )
    number = float(match.group(1))
    return Tolerance(relative=number / 100) if match.group(2) else Tolerance(absolute=number)


def parse_tolerances(items: list[str] | None) -> tuple[Tolerance, dict[str, Tolerance]]:
    """`0.5` or `5%` for every metric; `METRIC=0.5` or `METRIC=5%` for one (it beats the general one)."""
    default, per_metric = Tolerance(), {}
    for item in items or ():
        metric, sep, amount = item.rpartition("=")
        if sep:
            registry.get("metric", metric)
            per_metric[metric] = _amount(amount, item)
        else:
            default = _amount(amount, item)
    return default, per_metric


@dataclass(frozen=True)
class Comparison:
    system: str
    metric: str
    better: str
    curated: dict[str, Any] | None
    new: dict[str, Any] | None
    margin: float
    status: str  # ok, improved, regressed, missing (curated only), new (new only)

    @property
    def failed(self) -> bool:
        return self.status in ("regressed", "missing")


def compare(
    curated: dict[str, Any],
    new: dict[str, Any],
    default: Tolerance = Tolerance(),
    per_metric: dict[str, Tolerance] | None = None,
) -> list[Comparison]:
    per_metric = per_metric or {}
    out = []
    new_systems = new.get("systems", {})
    for system, entry in curated["systems"].items():
        new_metrics = new_systems.get(system, {}).get("metrics", {})
        for metric, old in entry["metrics"].items():
            better = registry.better(metric)
            margin = expected_spread(old, better) + per_metric.get(metric, default).of(old["value"])
            cell = new_metrics.get(metric)
            if cell is None:
                out.append(Comparison(system, metric, better, old, None, margin, "missing"))
                continue
            worse_by = old["value"] - cell["value"] if better == "higher" else cell["value"] - old["value"]
            status = "regressed" if worse_by > margin else "improved" if -worse_by > margin else "ok"
            if not (math.isfinite(cell["value"]) and math.isfinite(old["value"]) and math.isfinite(margin)):
                status = "regressed"  # a NaN compares as neither better nor worse: never let it pass
            out.append(Comparison(system, metric, better, old, cell, margin, status))
    for system, entry in new_systems.items():
        for metric, cell in entry.get("metrics", {}).items():
            if metric not in curated["systems"].get(system, {}).get("metrics", {}):
                better = registry.better(metric)
                out.append(Comparison(system, metric, better, None, cell, 0.0, "new"))
    return out


PREDICTION = 0.99  # of a new single run, from curated seeds


def _worse_side(cell: dict[str, Any], better: str) -> float:
    side = cell["value"] - cell["ci_low"] if better == "higher" else cell["ci_high"] - cell["value"]
    return max(side, 0.0)


def expected_spread(curated: dict[str, Any], better: str) -> float:
    """How much worse than the curated value one new run may come out (module docstring)."""
    seeds = curated.get("seeds") or {}
    if len(seeds) < 2 or curated.get("sd") is None:
        return _worse_side(curated, better)
    from scipy import stats

    n = len(seeds)
    predicted = float(stats.t.ppf(0.5 + PREDICTION / 2, n - 1)) * curated["sd"] * math.sqrt(1 + 1 / n)
    resolution = sum(_worse_side(c, better) for c in seeds.values()) / n
    return max(predicted, resolution)


def _g(value: float) -> str:
    return f"{value:.4g}"


def diff_table(comparisons: list[Comparison]) -> str:
    """An aligned plain-text table, worst first: what was curated, what came, the change and its margin."""
    order = {"regressed": 0, "missing": 1, "improved": 2, "new": 3, "ok": 4}
    header = ("status", "system", "metric", "better", "curated [interval]", "new", "change", "allowed change")
    lines = [header]
    for c in sorted(comparisons, key=lambda c: (order[c.status], c.system, c.metric)):
        old, cell = c.curated, c.new
        curated = f"{_g(old['value'])} [{_g(old['ci_low'])}, {_g(old['ci_high'])}]" if old else "–"
        change = f"{cell['value'] - old['value']:+.4g}" if old and cell else "–"
        allowed = (f"≥ {-c.margin:+.4g}" if c.better == "higher" else f"≤ {c.margin:+.4g}") if old else "–"
        mark = c.status.upper() if c.failed else c.status
        lines.append(
            (mark, c.system, c.metric, c.better, curated, _g(cell["value"]) if cell else "–", change, allowed)
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in lines
    )


def curated_path(against: str | Path) -> Path:
    against = Path(against)
    return against if against.suffix == ".json" else against / CURATED_FILE


def load_curated(against: str | Path) -> dict[str, Any]:
    """Curated records; refuses a file that holds no measured numbers (a placeholder)."""
    path = curated_path(against)
    if not path.is_file():
        raise UserError(
            f"no curated records at {path}; make them from a trusted run with "
            f"`aidbench check --against {Path(against)} --update --preset PRESET`."
        )
    curated = records.load_summary(path)
    measured = [m for e in curated["systems"].values() for m in e["metrics"]]
    if curated.get("curated", {}).get("measured") is False or not measured:
        raise UserError(
            f"{path} holds no measured numbers (a placeholder); a check against it would prove nothing. "
            f"Replace it with `aidbench check --against {Path(against)} --update`."
        )
    return curated


def write_curated(against: str | Path, summary: dict[str, Any], source: str) -> Path:
    """Make `summary` the curated records, with where it came from."""
    curated = {
        **summary,
        "curated": {
            "measured": True,
            "from": source,
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git": environment.git_state(),
            "cpu": environment.cpu(),
        },
    }
    return records.write_summary(curated_path(against), curated)


def new_numbers(results: str | Path, preset: str, dataset: str, systems: list[str], metrics: list[str]):
    """The numbers to check for a preset: its summary.json when `reproduce` wrote one, else a summary of
    the newest finished eval runs of its systems. Returns (summary, where it came from)."""
    written = layout.summary_file(results, preset)
    if written.is_file():
        return records.load_summary(written), str(written)
    new = records.summary_from_runs(results, preset, dataset, systems, metrics)
    if not new["systems"]:
        raise UserError(
            f"no finished eval runs of the preset '{preset}' under {results}; "
            f"run `aidbench reproduce --preset {preset}` first."
        )
    return new, f"the newest eval runs under {results}"
