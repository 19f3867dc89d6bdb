"""`aidbench report`: write the report files for a preset.

Today it renders the paper's reference tables; tables with our own numbers beside them arrive with the
evaluation records (issue #7).
"""

from __future__ import annotations

from pathlib import Path

from aidbench import atomic, registry
from aidbench.report import render


def paper_tables() -> list:
    return [registry.load("table", name) for name in registry.names("table")]


def build_report(out_dir: str | Path) -> list[Path]:
    """Write paper-reference.md and paper-reference.csv into `out_dir`; return the paths written."""
    out_dir = Path(out_dir)
    tables = paper_tables()
    intro = (
        "# The AID paper's reference numbers\n\n"
        "Every number on this page is the paper's, not ours (see results/paper/README.md).\n\n"
    )
    md = atomic.write_text(
        out_dir / "paper-reference.md", intro + "\n".join(render.markdown(t) for t in tables)
    )
    csv_path = atomic.write_text(out_dir / "paper-reference.csv", render.long_csv(tables))
    return [md, csv_path]
