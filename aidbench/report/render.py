"""Renderers: the paper's tables alone (paper-reference.md/.csv), and the tables with our numbers beside
the paper's as Markdown, one long CSV and LaTeX (the HTML page is report/html.py)."""

from __future__ import annotations

import csv
import io

from aidbench.report.filled_tables import Cell, FilledTable
from aidbench.report.records import Measurement
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


# ---------------------------------------------------------------- tables with our numbers (FilledTable)


def number(value: float) -> str:
    """A short, stable rendering of one of our numbers (4 significant digits, no exponent below 1e6)."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}" if value else "0"


def interval(m) -> str:
    """ " [low, high]", or nothing for a measurement without an interval (a benchmark's median)."""
    if m.ci_low == m.ci_high == m.value:
        return ""
    return f" [{number(m.ci_low)}, {number(m.ci_high)}]"


def ours_text(cell: Cell) -> str:
    """Our value and interval; over several seeds, the mean ± their standard deviation and interval."""
    m = cell.ours
    if m is None:
        return ""
    spread = f" ± {number(m.sd)}" if m.sd is not None else ""
    floor = f" (real vs real {number(m.noise_floor)})" if m.noise_floor is not None else ""
    return f"{number(m.value)}{spread}{interval(m)}{floor}"


def provenance(m) -> str:
    """Where a number comes from: its eval run, or each seed's value when it is a mean over seeds."""
    if m.seeds:
        return f"{len(m.seeds)} seeds: " + ", ".join(f"{number(v)} (seed {s})" for s, v in m.seeds)
    return m.eval_run


def interval_note(table: FilledTable) -> str:
    """What the value and interval of our cells are, for the line under a table."""
    shown = [c.ours for r in table.rows for c in r.cells if c.ours is not None]
    confidence = "/".join(sorted({f"{m.confidence:.0%}" for m in shown})) or "95%"
    if any(m.seeds for m in shown):
        note = f"mean ± sd over seeds [{confidence} t-interval of the mean over seeds] and each seed's value"
    else:
        note = (
            f"value [{confidence} interval over clips: the mean's bootstrap for per-clip metrics, the grouped "
            "jackknife for set-level ones] and the eval run"
        )
    if table.reference:
        note += (
            f"; Δ vs {table.reference}: this row − {table.reference} on the same clips, with its "
            f"{confidence} paired jackknife interval and p-value"
        )
    return note


def delta_text(table: FilledTable, row_system: str | None, cell) -> str:
    """A cell's paired difference from the table's reference: "+0.297 [+0.18, +0.41] p 0.0003"."""
    if row_system == table.reference:
        return "reference"
    d = cell.delta
    if d is None:
        return "–"
    p = "" if d.get("p_value") is None else f" p {d['p_value']:.2g}"
    other = d.get("reference")
    against = f" vs {other}" if other and other != table.reference else ""
    return f"{d['delta']:+.3g} [{d['ci_low']:+.3g}, {d['ci_high']:+.3g}]{p}{against}"


def resolution_notes(table: FilledTable) -> list[str]:
    """Differences from the reference that this many clips cannot tell from none."""
    lines = []
    for row in table.rows:
        for column, cell in zip(table.columns, row.cells, strict=True):
            d = cell.delta
            if d and d["ci_low"] <= 0 <= d["ci_high"]:
                needed = f"; about {d['clips_needed']} clips would detect it" if d.get("clips_needed") else ""
                lines.append(
                    f"{row.name} − {table.reference}, {column.label}: {d['delta']:+.3g} is below what "
                    f"{d['clips']} clips resolve (its interval holds 0{needed})"
                )
    return lines


# How the paper's metric columns rank: a lower FVD, KVD or FID is better, a higher CLIPScore.
PAPER_BETTER = {"fvd": "lower", "kvd": "lower", "fid": "lower", "clipscore": "higher"}


def ordering_notes(table: FilledTable) -> list[str]:
    """For a table of configurations (an ablation): whether each miniature column ranks the rows as the
    paper's first metric column does, and the pairs it ranks the other way (with whether our intervals
    tell the two apart)."""
    from aidbench import registry

    if table.rows_are != "configurations":
        return []
    paper = next((i for i, c in enumerate(table.columns) if c.paper_metric in PAPER_BETTER), None)
    if paper is None:
        return []
    paper_column = table.columns[paper]
    sign = 1 if PAPER_BETTER[paper_column.paper_metric] == "higher" else -1
    lines = []
    for index, column in enumerate(table.columns):
        if not column.miniature or column.metric is None:
            continue
        ours_sign = 1 if registry.better(column.metric) == "higher" else -1
        rows = [r for r in table.rows if r.cells[index].ours is not None and r.cells[paper].paper]
        if len(rows) < 2:
            continue
        against = []
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                theirs = sign * (float(a.cells[paper].paper) - float(b.cells[paper].paper))
                x, y = a.cells[index].ours, b.cells[index].ours
                if theirs * ours_sign * (x.value - y.value) < 0:
                    apart = x.ci_low > y.ci_high or y.ci_low > x.ci_high
                    against.append(
                        f"{a.name} vs {b.name} ({'intervals apart' if apart else 'intervals overlap'})"
                    )
        pairs = len(rows) * (len(rows) - 1) // 2
        head = f"{column.label} against the paper's {paper_column.label}"
        if not against:
            lines.append(f"{head}: the {len(rows)} rows rank as the paper's do.")
        else:
            lines.append(
                f"{head}: {len(against)} of {pairs} pairs rank the other way: " + "; ".join(against) + "."
            )
    return lines


def protocol_notes(table: FilledTable) -> list[str]:
    """One line per metric shown in our cells: its protocol card, the clip counts of every row it covers,
    the detector's sha256 shortened to 12 digits. Rows whose cards differ get a line each."""
    by_metric: dict[str, dict[tuple, list[str]]] = {}
    for row in table.rows:
        for cell in row.cells:
            m = cell.ours
            if m is None:
                continue
            steps = tuple((k, v) for k, v in m.card if k != "clips")
            by_metric.setdefault(m.metric, {}).setdefault(steps, []).append(dict(m.card).get("clips", "?"))
    lines = []
    for metric, cards in sorted(by_metric.items()):
        for steps, clips in cards.items():
            if not steps:
                lines.append(f"{metric}: no protocol card recorded (an eval run older than cards)")
                continue
            shown = [f"{k} {_short_sha(v) if k == 'detector sha256' else v}" for k, v in steps]
            counts = sorted(set(clips))
            lines.append(f"{metric}: " + "; ".join(shown) + f"; clips {' / '.join(counts)}")
    return lines


CURVES_CSV_HEADER = ["table", "system", "metric", "horizon", "value", "ci_low", "ci_high", "eval_run"]


def curves(table: FilledTable) -> dict[str, list[tuple[str, Measurement]]]:
    """Per-horizon metrics of a table: metric → [(row label, its measurement)] for rows that have a curve."""
    found: dict[str, list] = {}
    for row in table.rows:
        for cell in row.cells:
            if cell.ours is not None and cell.ours.curve:
                found.setdefault(cell.ours.metric, []).append((row.label, cell.ours))
    return found


def curves_csv(tables: list[FilledTable]) -> str:
    """Every per-horizon point of every table: one line per system, metric and horizon."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CURVES_CSV_HEADER)
    for table in tables:
        for metric, rows in curves(table).items():
            for label, m in rows:
                for h, value, low, high in m.curve:
                    writer.writerow([table.name, label, metric, h, value, low, high, m.eval_run])
    return buffer.getvalue()


def markdown_curves(table: FilledTable) -> str:
    """A table per per-horizon metric: a row per system, a column per predicted frame."""
    parts = []
    for metric, rows in curves(table).items():
        horizons = [h for h, *_ in rows[0][1].curve]
        lines = [
            f"#### {metric} by horizon ({table.title})",
            "",
            "| system | " + " | ".join(f"frame +{h}" for h in horizons) + " |",
            "|---" * (len(horizons) + 1) + "|",
        ]
        for label, m in rows:
            cells = [f"{number(v)} [{number(lo)}, {number(hi)}]" for _, v, lo, hi in m.curve]
            lines.append(f"| {_markdown_escape(label)} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _short_sha(text: str) -> str:
    return " ".join(
        w[:12] if len(w) == 64 and all(c in "0123456789abcdef" for c in w) else w for w in text.split()
    )


def _markdown_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_filled(table: FilledTable) -> str:
    """One grid: a row per system or configuration; per metric our value, CI and run, then the paper's."""
    header = ["configuration" if table.rows_are == "configurations" else "system", *table.attributes]
    for column in table.columns:
        header += [f"{column.label}: {part}" for part in table.parts(column)]
    lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.rows:
        cells = [row.name, *(row.attributes[a] or "–" for a in table.attributes)]
        for column, cell in zip(table.columns, row.cells, strict=True):
            if cell.ours is not None:
                where = provenance(cell.ours) if cell.ours.seeds else f"run `{cell.ours.eval_run}`"
                cells.append(f"**{ours_text(cell)}** {where}")
            elif cell.fill:
                cells.append(f"– fill: `{cell.fill}`")
            else:
                cells.append(f"– {cell.note}" if cell.note else "–")
            if "paper's" in table.parts(column):
                cells.append(cell.paper or "–")
            if table.reference:
                cells.append(delta_text(table, row.system, cell))
        lines.append("| " + " | ".join(_markdown_escape(c) for c in cells) + " |")
    lines += ["", f"Ours: {interval_note(table)}. {table.note}", ""]
    order = ordering_notes(table)
    if order:
        lines += ["Ranking of the rows, ours against the paper's:", "", *(f"- {n}" for n in order), ""]
    below = resolution_notes(table)
    if below:
        lines += ["Differences below what the clip count resolves:", "", *(f"- {n}" for n in below), ""]
    notes = protocol_notes(table)
    if notes:
        lines += ["Protocols of our numbers:", "", *(f"- {_markdown_escape(n)}" for n in notes), ""]
    return "\n".join(lines)


FILLED_CSV_HEADER = [
    "table",
    "row",
    "system",
    "dataset",
    "column",
    "metric",
    "ours_value",
    "ours_ci_low",
    "ours_ci_high",
    "confidence",
    "n",
    "eval_run",
    "sample_run",
    "train_run",
    "paper_value",
    "paper_source",
    "fill_command",
    "ours_sd",
    "ours_seeds",
    "delta_vs",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "delta_p_value",
]


def filled_csv(tables: list[FilledTable]) -> str:
    """Every cell of every table, one line each: ours (value, interval, runs) beside the paper's."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FILLED_CSV_HEADER)
    for table in tables:
        for row in table.rows:
            for column, cell in zip(table.columns, row.cells, strict=True):
                m = cell.ours
                writer.writerow(
                    [
                        table.name,
                        row.label,
                        row.system or "",
                        column.dataset,
                        column.paper_metric,
                        column.metric or "",
                        *((m.value, m.ci_low, m.ci_high, m.confidence, m.n, m.eval_run) if m else ("",) * 6),
                        (m.sample_run or "") if m else "",
                        (m.train_run or "") if m else "",
                        cell.paper or "",
                        cell.paper_source or "",
                        "" if m else (cell.fill or cell.note or ""),
                        "" if m is None or m.sd is None else m.sd,
                        " ".join(f"{seed}:{v}" for seed, v in m.seeds) if m else "",
                        table.reference if cell.delta else "",
                        *(
                            (cell.delta["delta"], cell.delta["ci_low"], cell.delta["ci_high"])
                            if cell.delta
                            else ("",) * 3
                        ),
                        "" if not cell.delta or cell.delta.get("p_value") is None else cell.delta["p_value"],
                    ]
                )
    return buffer.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "≥": r"$\geq$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "–": "--",
    "—": "---",
    "→": r"$\rightarrow$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_filled(table: FilledTable) -> str:
    """A booktabs table; ours as value with its interval and run id, the paper's in its own column."""
    spec = "l" * (1 + len(table.attributes)) + "r" * sum(len(table.parts(c)) for c in table.columns)
    first = "configuration" if table.rows_are == "configurations" else "system"
    heads = [latex_escape(h.replace("_", " ")) for h in (first, *table.attributes)]
    subs = [""] * len(heads)
    for column in table.columns:
        parts = table.parts(column)
        if len(parts) > 1:
            heads.append(rf"\multicolumn{{{len(parts)}}}{{c}}{{{latex_escape(column.label)}}}")
            subs += [latex_escape(p) for p in parts]
        else:
            heads.append(latex_escape(column.label))
            subs.append("")
    lines = [
        "\\begin{table}[ht]",
        "\\centering\\small",
        f"\\caption{{{latex_escape(table.title)}}}",
        f"\\label{{tab:{table.name}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(heads) + r" \\",
    ]
    if table.has_paper or table.reference:
        lines.append(" & ".join(subs) + r" \\")
    lines.append("\\midrule")
    for row in table.rows:
        cells = [latex_escape(v or "–") for v in (row.name, *(row.attributes[a] for a in table.attributes))]
        for column, cell in zip(table.columns, row.cells, strict=True):
            if cell.ours is not None:
                m = cell.ours
                spread = f" $\\pm$ {number(m.sd)}" if m.sd is not None else ""
                cells.append(
                    f"{number(m.value)}{spread} {{\\scriptsize{interval(m)} "
                    f"\\texttt{{{latex_escape(provenance(m))}}}}}"
                )
            elif cell.fill:
                cells.append(f"{{\\tiny\\texttt{{{latex_escape(cell.fill)}}}}}")
            else:
                cells.append(f"{{\\tiny {latex_escape(cell.note)}}}" if cell.note else "--")
            if "paper's" in table.parts(column):
                cells.append(latex_escape(cell.paper) if cell.paper else "--")
            if table.reference:
                cells.append(latex_escape(delta_text(table, row.system, cell)))
        lines.append(" & ".join(cells) + r" \\")
    lines += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\par\\smallskip{{\\scriptsize {latex_escape(table.note)}}}",
        *(
            f"\\par{{\\scriptsize {latex_escape(n)}}}"
            for n in [*ordering_notes(table), *resolution_notes(table), *protocol_notes(table)]
        ),
        "\\end{table}",
        "",
    ]
    return "\n".join(lines)


def latex_document(tables: list[FilledTable], title: str) -> str:
    body = "\n".join(latex_filled(t) for t in tables)
    return (
        "% Generated by `aidbench report`; needs \\usepackage{booktabs}.\n"
        "\\documentclass{article}\n\\usepackage[margin=1.5cm,landscape]{geometry}\n"
        "\\usepackage{booktabs}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        f"\\title{{{latex_escape(title)}}}\n\\begin{{document}}\n\\maketitle\n{body}\\end{{document}}\n"
    )
