"""Supplementary Tables 3-4 from `aidbench bench train` records (`<results>/benchmarks/*.json`).

Table 3: seconds per iteration and peak memory at batch 1; Table 4: the same at the largest batch under the
memory cap, and that batch. A GPU record beats a CPU one (the paper measured on a GPU); then more timed
steps; then the newest. The "run" beside each number is the record's file name.
"""

from __future__ import annotations

import json
from pathlib import Path

from aidbench.config import TrainConfig
from aidbench.report.records import Measurement

TABLE3, TABLE4 = "supp-table3", "supp-table4"
# The tables show default training (mixed precision aside, a GPU setting): records with a switch on are not
# used. `train.*` defaults, read from the config itself.
_DEFAULTS = TrainConfig()
DEFAULT_SWITCHES = {
    name: getattr(_DEFAULTS, name)
    for name in ("frozen_dtype", "attention", "gradient_checkpointing", "channels_last")
}


def _measurement(system: str, metric: str, value: float, source: str, n: int, when: str) -> Measurement:
    return Measurement(
        system, "", metric, float(value), float(value), float(value), 0.0, n, source, created_at=when
    )


def miniature(path: Path) -> dict[tuple[str, str], Measurement]:
    """(system, paper metric) → our number from a preset's own training speed record (`reproduce`'s bench
    stage): Table 3's miniature."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    found = {}
    for entry in record.get("systems", []) if isinstance(record, dict) else []:
        if "error" in entry:
            continue
        for metric, key in (("seconds_per_iter", "seconds_per_iter"), ("memory_gb", "peak_memory_gb")):
            if entry.get(key) is not None:
                found[(entry["system"], metric)] = _measurement(
                    entry["system"], metric, entry[key], path.name, int(record.get("steps", 1)), ""
                )
    return found


def scan(results: str | Path) -> dict[tuple[str, str, str], Measurement]:
    """(table name, system, paper metric) → our measurement."""
    best: dict[tuple[str, str, str], tuple[tuple[bool, int, str], Measurement]] = {}
    for path in sorted((Path(results) / "benchmarks").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # not a record: nothing to show
        if not isinstance(record, dict) or record.get("benchmark") != "train":
            continue
        switches = record.get("switches", {})
        if any(switches.get(k, v) != v for k, v in DEFAULT_SWITCHES.items()):
            continue  # a speed switch's own measurement, not the tables' default training
        steps = int(record.get("steps", 1))
        # the paper measured on a GPU; more timed steps, then the newest record
        rank = (record.get("device", {}).get("kind") == "cuda", steps, record.get("measured_at", ""))
        for entry in record.get("systems", []):
            if "error" in entry:
                continue
            system = entry["system"]
            found = [
                (TABLE3, "seconds_per_iter", entry.get("seconds_per_iter")),
                (TABLE3, "memory_gb", entry.get("peak_memory_gb")),
            ]
            largest = entry.get("largest_batch")
            if largest:
                found += [
                    (TABLE4, "seconds_per_iter", largest.get("seconds_per_iter")),
                    (TABLE4, "memory_gb", largest.get("peak_memory_gb")),
                    (TABLE4, "batch", largest.get("batch")),
                ]
            for table, metric, value in found:
                if value is None:
                    continue
                key = (table, system, metric)
                if key not in best or rank > best[key][0]:
                    m = _measurement(system, metric, value, path.name, steps, rank[2])
                    best[key] = (rank, m)
    return {key: m for key, (_, m) in best.items()}
