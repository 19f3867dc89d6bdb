"""`aidbench data verify`: read every clip of a split as training would, and count what is wrong."""

from __future__ import annotations

from typing import Any

import numpy as np

from aidbench.data.dataset import ClipDataset, Skipped
from aidbench.progress import track


def _stats(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    array = np.asarray(values)
    return {"min": int(array.min()), "median": float(np.median(array)), "max": int(array.max())}


def verify(dataset: ClipDataset) -> dict[str, Any]:
    """Counts (listed, ok, missing, corrupt, too_short, rejected), source size statistics, skipped clips."""
    lengths: list[int] = []
    heights: list[int] = []
    widths: list[int] = []
    for ref in track(dataset.refs, f"verifying {dataset.name}/{dataset.split}"):
        result = dataset.try_load(ref)
        if isinstance(result, Skipped):
            dataset.skipped.append(result)
            continue
        lengths.append(result.source_length)
        heights.append(result.source_size[0])
        widths.append(result.source_size[1])
    counts = dataset.counts()
    return {
        "dataset": dataset.name,
        "split": dataset.split,
        "root": str(dataset.root),
        "counts": {
            "listed": counts["listed"],
            "ok": len(lengths),
            **{k: v for k, v in counts.items() if k != "listed"},
        },
        "bad_fraction": dataset.bad_fraction(),
        "max_bad_fraction": dataset.max_bad_fraction,
        "frames": _stats(lengths),
        "height": _stats(heights),
        "width": _stats(widths),
        "skipped": dataset.skipped_report(),
    }
