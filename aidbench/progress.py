"""Progress bars for every loop over data: rich on a terminal, silent in CI or when output is piped."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def quiet() -> bool:
    return bool(os.environ.get("CI")) or not sys.stdout.isatty()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over `items` with a progress bar unless quiet()."""
    if quiet():
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(items, description=description, total=total, transient=False)


def warn(message: str) -> None:
    """Something skipped or suspect that the user should know of, without stopping: one line on stderr."""
    print(f"warning: {message}", file=sys.stderr)
