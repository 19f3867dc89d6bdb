"""Renderers: the paper's tables as Markdown (one grid per table) and as one long CSV."""

from __future__ import annotations

import csv
import io

from aidbench.report.tables import PaperTable


def _column_label(row: dict[str, str]) -> str:
    dataset = row.get("dataset", "")
    return f"{row['metric']} ({dataset})" if dataset else row["metric"]


def markdown(table: PaperTable) -> str:
    """A grid: one line per system (and row attributes), one column per metric (and dataset)."""
    rows = table.rows()
    attributes = table.row_attributes()
    columns: list[str] = []
    grid: dict[tuple[str, ...], dict[str, str]] = {}
    for row in rows:
        label = _column_label(row)
        if label not in columns:
            columns.append(label)
        key = (row["system"], *(row[a] for a in attributes))
        grid.setdefault(key, {})[label] = row["value"]
    sources = sorted({row["source"] for row in rows})
    header = ["system", *attributes, *columns]
    lines = [
        f"### {table.title} — the paper's numbers",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for key, cells in grid.items():
        lines.append("| " + " | ".join([*key, *(cells.get(c, "–") for c in columns)]) + " |")
    lines += ["", "Source: " + "; ".join(sources) + ".", ""]
    return "\n".join(lines)


def long_csv(tables: list[PaperTable]) -> str:
    """Every cell of every table, one row each, with the table's name and the cell's source."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "system", "attributes", "dataset", "metric", "value", "source"])
    for table in tables:
        attributes = table.row_attributes()
        for row in table.rows():
            described = "; ".join(f"{a}={row[a]}" for a in attributes if row[a])
            writer.writerow(
                [
                    table.name,
                    row["system"],
                    described,
                    row.get("dataset", ""),
                    row["metric"],
                    row["value"],
                    row["source"],
                ]
            )
    return buffer.getvalue()
