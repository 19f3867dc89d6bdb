"""`aidbench report`: write the report files for a preset.

report.md / report.csv / report.tex / report.html: every paper table with our numbers (value, interval,
runs) beside the paper's, our own tables (synthtvp, and the preset's dataset), and in the HTML page bar
charts and the gallery. paper-reference.md / .csv: the paper's numbers alone.

Our numbers come from the finished eval runs under `<results>/runs/eval/` (report/records.py); when
`<results>/reports/<preset>/summary.json` exists (written by `aidbench reproduce`), the runs it names
fill the cells they cover.
"""

from __future__ import annotations

from pathlib import Path

from aidbench import atomic, layout, registry
from aidbench.config import Config, resolve
from aidbench.human import score as human_scores
from aidbench.report import efficiency, filled_tables, gallery, html, human, records, render

MAX_GALLERY_CLIPS = 16


def paper_tables() -> list:
    return [registry.load("table", name) for name in registry.names("table")]


def _config(preset: str | None, config: Config | None) -> Config:
    if config is not None:
        return config

    return resolve(preset=preset)


def build_report(
    out_dir: str | Path,
    *,
    preset: str | None = None,
    results: str | Path | None = None,
    config: Config | None = None,
    max_clips: int = MAX_GALLERY_CLIPS,
) -> list[Path]:
    """Write the report files into `out_dir`; return the paths written.

    preset: names the systems, dataset and metrics of our own table and the gallery, and where the
    summary is read (default: the config's, else the smoke benchmark's systems on synthtvp).
    results: the results folder whose runs are read (default: the config's paths.results).
    """
    out_dir = Path(out_dir)
    config = _config(preset, config)
    preset = preset or config.preset
    results = Path(results if results is not None else config.paths.results)
    # Without a preset, our own table and the gallery show the smoke benchmark (synthtvp).
    basis = config if preset else _config("smoke", None)
    dataset = basis.data.dataset

    measurements = records.scan(results)
    pinned: set[tuple[str, str]] = set()
    compared: tuple[str | None, dict] = (None, {})
    summary_path = layout.summary_file(results, preset) if preset else out_dir / layout.SUMMARY_FILE
    if summary_path.is_file():
        summary = records.load_summary(summary_path)
        pinned = records.pinned_by(summary)
        measurements += records.from_summary(summary, dataset, measurements)
        compared = records.differences(summary)

    ours = [
        filled_tables.ours_table(
            dataset, list(basis.systems), list(basis.eval.metrics), measurements, pinned, preset, compared
        )
    ]
    if dataset != "synthtvp":
        smoke = _config("smoke", None)
        ours.append(
            filled_tables.ours_table(
                "synthtvp", list(smoke.systems), list(smoke.eval.metrics), measurements, pinned, "smoke"
            )
        )
    speed = efficiency.scan(results)
    # Table 3's miniature: this preset's own training speed record, else the miniature preset's.
    timed = {}
    for name in (preset, filled_tables.MINIATURE_PRESET):
        timed = timed or efficiency.miniature(layout.reports_dir(results, name) / layout.BENCH_FILE)
    reference = paper_tables()
    paper = [filled_tables.paper_table(t, measurements, pinned, speed, timed) for t in reference]
    tables = [ours[0], *paper, *ours[1:]]

    title = f"aidbench report{f': {preset}' if preset else ''}"
    intro = (
        f"Our numbers from {len({m.eval_run for m in measurements})} eval runs under {results}"
        f"{f', pinned by {summary_path}' if pinned else ''}; the paper's numbers (results/paper/) beside "
        "them, always labelled as the paper's. An empty cell names the command that fills it."
    )
    sample_dirs = {}
    for row in ours[0].rows:
        chosen = [c.ours for c in row.cells if c.ours is not None and c.ours.sample_dir is not None]
        sample_dirs[row.label] = chosen[0].sample_dir if chosen else None
    shown = gallery.collect(dataset, sample_dirs, max_clips)
    people = human_scores.latest(results)

    written = [
        atomic.write_text(
            out_dir / "report.md",
            f"# {title}\n\n{intro}\n\n"
            + "\n".join(render.markdown_filled(t) + render.markdown_curves(t) for t in tables)
            + human.markdown(people),
        ),
        atomic.write_text(out_dir / "report.csv", render.filled_csv(tables)),
        atomic.write_text(out_dir / "report-curves.csv", render.curves_csv(tables)),
        atomic.write_text(out_dir / "report.tex", render.latex_document(tables, title)),
        atomic.write_text(
            out_dir / "report.html", html.page(title, intro, tables, shown, human.html(people))
        ),
    ]
    paper_intro = (
        "# The AID paper's reference numbers\n\n"
        "Every number on this page is the paper's, not ours (see results/paper/README.md).\n\n"
    )
    written.append(
        atomic.write_text(
            out_dir / "paper-reference.md", paper_intro + "\n".join(render.markdown(t) for t in reference)
        )
    )
    written.append(atomic.write_text(out_dir / "paper-reference.csv", render.long_csv(reference)))
    return written
