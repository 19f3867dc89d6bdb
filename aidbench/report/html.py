"""The report as one self-contained HTML page: tables, bar charts (ours vs the paper's) and the gallery.

Everything is inline (CSS, charts as PNG and previews as animated WebP in data: URIs), so the page can be
mailed or opened from any folder. A script at the end checks that every image decodes and writes the
result into #media-status (the browser test reads it).
"""

from __future__ import annotations

import base64
import io
from html import escape

from aidbench import registry
from aidbench.report import render
from aidbench.report.filled_tables import Cell, FilledTable
from aidbench.report.gallery import Gallery
from aidbench.report.render import number

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
.ours { font-weight: 600; }
.ci { color: #555; }
.run { display: block; font-size: 11px; color: #777; }
.paper { color: #6a3d9a; }
.fill { font-size: 11px; color: #999; max-width: 22em; display: inline-block; }
.note { color: #555; font-size: 12px; }
img.preview { width: 128px; image-rendering: pixelated; }
img.chart { max-width: 100%; }
.missing { color: #b00; font-size: 12px; }
#media-status { font-size: 11px; color: #777; }
"""

CHECK_MEDIA = """
window.addEventListener("load", () => {
  // At "load" every data: image has been fetched and its header parsed: one that failed has no width.
  // (Checked synchronously: img.decode() promises can outlast a headless browser's time budget.)
  const images = Array.from(document.images);
  const broken = images.filter((img) => !img.complete || !img.naturalWidth).map((img) => img.alt);
  const status = document.getElementById("media-status");
  status.textContent = JSON.stringify({ total: images.length, broken: broken });
  status.dataset.state = "checked";
});
"""


def data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _ours_cell(cell: Cell) -> str:
    m = cell.ours
    if m is not None:
        runs = f"eval {m.eval_run}" + (f" · sample {m.sample_run}" if m.sample_run else "")
        if m.seeds:
            runs = render.provenance(m)
        spread = f" ± {number(m.sd)}" if m.sd is not None else ""
        return (
            f'<td class="num"><span class="ours">{number(m.value)}{spread}</span> '
            f'<span class="ci">{render.interval(m).strip()}</span>'
            + (
                f'<span class="ci">real vs real {number(m.noise_floor)}</span>'
                if m.noise_floor is not None
                else ""
            )
            + f'<span class="run">{escape(runs)}</span></td>'
        )
    if cell.fill:
        return f'<td><span class="fill">fill: <code>{escape(cell.fill)}</code></span></td>'
    return f'<td><span class="fill">{escape(cell.note)}</span></td>' if cell.note else "<td>–</td>"


def table_html(table: FilledTable) -> str:
    first = "configuration" if table.rows_are == "configurations" else "system"
    head = [f'<th rowspan="2">{escape(h)}</th>' for h in (first, *table.attributes)]
    sub = []
    for column in table.columns:
        parts = table.parts(column)
        head.append(f'<th colspan="{len(parts)}">{escape(column.label)}</th>')
        sub += [f"<th>{escape(p)}</th>" for p in parts]
    body = []
    for row in table.rows:
        cells = [f"<th>{escape(row.name)}</th>"]
        cells += [f"<td>{escape(row.attributes[a] or '–')}</td>" for a in table.attributes]
        for column, cell in zip(table.columns, row.cells, strict=True):
            cells.append(_ours_cell(cell))
            if "paper's" in table.parts(column):
                value = f'<span class="paper">{escape(cell.paper)}</span>' if cell.paper else "–"
                cells.append(f'<td class="num">{value}</td>')
            if table.reference:
                cells.append(
                    f'<td class="num delta">{escape(render.delta_text(table, row.system, cell))}</td>'
                )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<h3 id="{escape(table.name)}">{escape(table.title)}</h3>'
        f"<table><thead><tr>{''.join(head)}</tr><tr>{''.join(sub)}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="note">Ours: {escape(render.interval_note(table))}; paper\'s: as printed. '
        f"{escape(table.note)}</p>"
        + "".join(f'<p class="note">{escape(n)}</p>' for n in render.ordering_notes(table))
        + "".join(f'<p class="note">{escape(n)}</p>' for n in render.resolution_notes(table))
        + "".join(f'<p class="note protocol">{escape(n)}</p>' for n in render.protocol_notes(table))
    )


def _png(fig) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def bar_charts(table: FilledTable) -> list[tuple[str, bytes]]:
    """One horizontal bar chart per column that holds at least one of our numbers: ours (with the
    interval) beside the paper's. Returns (title, PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = []
    for index, column in enumerate(table.columns):
        rows = [r for r in table.rows if r.cells[index].ours is not None or r.cells[index].paper]
        if not any(r.cells[index].ours is not None for r in rows):
            continue
        labels = [r.label for r in rows]
        ours = [r.cells[index].ours for r in rows]
        paper = [float(r.cells[index].paper) if r.cells[index].paper else None for r in rows]
        with_paper = "paper's" in table.parts(column)
        height = 0.38 if with_paper else 0.6
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(rows)), dpi=80)
        ys = list(range(len(rows)))
        values = [m.value if m else 0.0 for m in ours]
        errors = [
            [m.value - m.ci_low if m else 0.0 for m in ours],
            [m.ci_high - m.value if m else 0.0 for m in ours],
        ]
        shift = -height / 2 if with_paper else 0.0
        ax.barh([y + shift for y in ys], values, height, xerr=errors, color="#1f77b4", label="ours")
        if with_paper:
            ax.barh(
                [y + height / 2 for y in ys],
                [p or 0.0 for p in paper],
                height,
                color="#cab2d6",
                hatch="//",
                label="paper's",
            )
        ax.set_yticks(ys, labels, fontsize=8)
        ax.invert_yaxis()
        direction = registry.better(column.metric) if column.metric else None
        arrow = {"lower": " (lower is better)", "higher": " (higher is better)"}.get(direction, "")
        ax.set_title(f"{table.title}: {column.label}{arrow}", fontsize=8, wrap=True)
        ax.legend(fontsize=8, loc="lower right")
        charts.append((f"{table.title}: {column.label}", _png(fig)))
    return charts


def gallery_html(gallery: Gallery) -> str:
    if not gallery.clips:
        notes = "".join(f"<li>{escape(n)}</li>" for n in gallery.notes)
        return f"<p>No sampled clips on {escape(gallery.dataset)} yet.</p><ul class='note'>{notes}</ul>"
    head = ["clip", "first frame", "instruction", "ground truth", *gallery.systems]
    rows = []
    for clip in gallery.clips:
        cells = [f"<td><code>{escape(clip.clip_id)}</code></td>"]
        if clip.first_frame:
            uri = data_uri("image/png", clip.first_frame)
            cells.append(
                f'<td><img class="preview" src="{uri}" alt="first frame {escape(clip.clip_id)}"></td>'
            )
        else:
            cells.append("<td>–</td>")
        cells.append(f"<td>{escape(clip.instruction)}</td>")
        for name, preview in [("ground truth", clip.truth), *clip.systems.items()]:
            if preview is None:
                cells.append('<td><span class="missing">not available</span></td>')
                continue
            uri = data_uri("image/webp", preview)
            cells.append(
                f'<td><img class="preview" src="{uri}" alt="{escape(name)} {escape(clip.clip_id)}"></td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<li>{escape(n)}</li>" for n in gallery.notes)
    return (
        f"<table><thead><tr>{''.join(f'<th>{escape(h)}</th>' for h in head)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><ul class='note'>{notes}</ul>"
    )


def curve_charts(table: FilledTable) -> list[tuple[str, bytes]]:
    """One line chart per per-horizon metric of a table: a line per system over the predicted frames, its
    interval as a band. Returns (title, PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = []
    for metric, rows in render.curves(table).items():
        fig, ax = plt.subplots(figsize=(7, 3.2), dpi=80)
        for label, m in rows:
            h = [p[0] for p in m.curve]
            ax.plot(h, [p[1] for p in m.curve], marker="o", label=label)
            ax.fill_between(h, [p[2] for p in m.curve], [p[3] for p in m.curve], alpha=0.2)
        ax.set_xlabel("predicted frame (horizon)", fontsize=8)
        ax.set_xticks(sorted({p[0] for _, m in rows for p in m.curve}))
        ax.set_title(f"{table.title}: {metric} by horizon ({registry.better(metric)} is better)", fontsize=8)
        ax.legend(fontsize=7)
        charts.append((f"{table.name} {metric} by horizon", _png(fig)))
    return charts


def page(title: str, intro: str, tables: list[FilledTable], gallery: Gallery, human: str = "") -> str:
    toc = "".join(
        f'<li><a href="#{escape(t.name)}">{escape(t.title)}</a> ({t.measured()} of our cells filled)</li>'
        for t in tables
    )
    charts = [chart for t in tables if t.measured() for chart in bar_charts(t)]
    chart_html = (
        "".join(
            f'<figure><img class="chart" src="{data_uri("image/png", png)}" alt="chart {escape(name)}">'
            f"</figure>"
            for name, png in charts
        )
        or "<p>No charts yet: none of our runs fills a table.</p>"
    )
    curves = [chart for t in tables for chart in curve_charts(t)]
    curve_html = (
        "".join(
            f'<figure><img class="chart" src="{data_uri("image/png", png)}" alt="chart {escape(name)}"></figure>'
            for name, png in curves
        )
        or "<p>No per-horizon metric (psnr@per-frame, ssim@per-frame, lpips@per-frame, fvd@seer with eval.prefixes) among our runs yet.</p>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(intro)}</p><ul>{toc}</ul>"
        f"<h2>Tables</h2>{''.join(table_html(t) for t in tables)}"
        f"<h2>Ours vs the paper's</h2>{chart_html}"
        f"<h2>Per-horizon curves</h2>{curve_html}"
        f"{human}"
        f"<h2>Gallery: {escape(gallery.dataset)}</h2>{gallery_html(gallery)}"
        '<pre id="media-status" data-state="pending">media not checked</pre>'
        f"<script>{CHECK_MEDIA}</script></body></html>\n"
    )
