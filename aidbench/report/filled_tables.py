"""Tables with our numbers in them: each cell holds our measurement (or the command that makes it) and,
for the paper's tables, the paper's value beside it. Renderers read only these objects."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from aidbench.report.records import Measurement, choose
from aidbench.report.tables import (
    DEFAULT_DOMAIN,
    MINIATURE_PRESET,
    OTHER_SOURCES,
    OUR_METRIC,
    PRESET_OF_DATASET,
    Fill,
    PaperTable,
)

NOT_RUNNABLE = "paper only (not in aidbench)"
# Our columns in the paper's tables: the same rows on the embedded synthetic benchmark, never the paper's data.
MINIATURE = "synthtvp miniature:"
NO_MINIATURE = "no synthtvp miniature of this row yet"
METRIC_NAMES = {
    "fvd": "FVD",
    "kvd": "KVD",
    "fid": "FID",
    "clipscore": "CLIPScore",
    "finetuned_params_m": "fine-tuned parameters (M)",
    "seconds_per_iter": "s/iter",
    "memory_gb": "memory (GB)",
    "batch": "batch",
}


@dataclass(frozen=True)
class Column:
    paper_metric: str  # the paper's metric name, or our metric for our own tables
    dataset: str
    metric: str | None  # the registered metric (with its protocol) that fills it; None: not an eval metric
    # A paper table's column of ours alone: what our synthtvp metric stands for in the paper's table.
    miniature: str | None = None

    @property
    def label(self) -> str:
        if self.miniature:
            return f"{MINIATURE} {self.miniature}" + (f" ({self.metric})" if self.metric else "")
        if self.metric == self.paper_metric:  # our own tables: the registered name says it all
            return self.metric
        name = METRIC_NAMES.get(self.paper_metric, self.paper_metric)
        head = f"{name} {self.dataset}" if self.dataset else name
        return f"{head} ({self.metric})" if self.metric else head


@dataclass
class Cell:
    ours: Measurement | None = None
    paper: str | None = None
    paper_source: str | None = None
    # The command that fills `ours` while it is empty.
    fill: str | None = None
    # Why no command can (the system is only reported by the paper).
    note: str | None = None
    # The paired difference from the table's reference system (metrics/paired.py's Difference as a dict).
    delta: dict | None = None


@dataclass
class Row:
    name: str  # the system or configuration as the paper names it (ours: the registered system)
    system: str | None  # our system when one fills the row
    # The row's other columns as the paper prints them (strategy, ref_frames, …), in the table's order.
    attributes: dict[str, str] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The name with the non-empty attributes: unique within a table (CSV rows, chart labels)."""
        return " · ".join([self.name, *(v for v in self.attributes.values() if v)])


@dataclass
class FilledTable:
    name: str
    title: str
    columns: list[Column]
    rows: list[Row]
    has_paper: bool
    rows_are: str = "systems"
    note: str = ""
    attributes: list[str] = field(default_factory=list)  # the row attribute columns, in order
    # The system every row is differenced against (a "Δ vs" column per metric), when the summary has it.
    reference: str | None = None

    def measured(self) -> int:
        return sum(1 for row in self.rows for cell in row.cells if cell.ours is not None)

    def parts(self, column: Column) -> list[str]:
        """The sub-columns a column shows: ours, the paper's (not for a miniature), the Δ vs the reference."""
        return [
            "ours",
            *(["paper's"] if self.has_paper and not column.miniature else []),
            *([f"Δ vs {self.reference}"] if self.reference else []),
        ]


def paper_table(
    table: PaperTable,
    measurements: list[Measurement],
    pinned: set[tuple[str, str]] = frozenset(),
    efficiency: dict[tuple[str, str, str], Measurement] | None = None,
    speed: dict[tuple[str, str], Measurement] | None = None,
) -> FilledTable:
    """The paper's table, grid as the paper prints it, each row filled from the run its Fill names; its
    miniature columns from synthtvp runs and `speed`, the preset's own training speed record."""
    attributes = table.row_attributes()
    columns: list[Column] = []
    grid: dict[tuple[str, ...], dict[Column, dict[str, str]]] = {}
    first_row: dict[tuple[str, ...], dict[str, str]] = {}
    for paper_row in table.rows():
        column = Column(
            paper_row["metric"], paper_row.get("dataset", ""), OUR_METRIC.get(paper_row["metric"])
        )
        if column not in columns:
            columns.append(column)
        key = (paper_row["system"], *(paper_row[a] for a in attributes))
        grid.setdefault(key, {})[column] = paper_row
        first_row.setdefault(key, paper_row)
    rows = []
    for key, cells in grid.items():
        fill = table.fill_for(first_row[key])
        described = dict(zip(attributes, key[1:], strict=True))
        row = Row(key[0], fill.system if fill else None, described)
        for column in columns:
            paper_row = cells.get(column)
            cell = Cell(
                paper=paper_row["value"] if paper_row else None,
                paper_source=paper_row["source"] if paper_row else None,
            )
            preset = PRESET_OF_DATASET.get(column.dataset, "paper-ssv2")
            if paper_row is None:  # a cell the paper leaves empty stays empty: nothing to compare with
                pass
            elif fill is None:
                cell.note = NOT_RUNNABLE
            elif column.metric is None:
                cell.ours = (efficiency or {}).get((table.name, fill.system, column.paper_metric))
                how = OTHER_SOURCES.get(column.paper_metric)
                if cell.ours is None and how:
                    cell.fill = how.format(system=fill.system, preset=preset)
            else:
                cell.ours = choose(
                    measurements, fill.system, column.dataset, column.metric, fill.where, pinned
                )
                if cell.ours is None:
                    cell.fill = fill.command_for(preset)
            row.cells.append(cell)
        rows.append(row)
    sources = sorted({r["source"] for r in table.rows()})
    note = "The paper's numbers: " + "; ".join(sources) + "."
    if table.miniature:
        _add_miniature(table, rows, columns, measurements, pinned, speed or {})
        how = (
            "the same rows' training timed at the preset's sizes and batch on the machine it ran on"
            if all(metric in OTHER_SOURCES for metric, _ in table.miniature)
            else "the same rows trained and scored on synthtvp, metrics standing for the paper's"
        )
        note += (
            f" The {MINIATURE.rstrip(':')} columns are ours alone: {how} (`aidbench reproduce --preset "
            f"{MINIATURE_PRESET}`); they are not the paper's setting and not comparable with its numbers."
        )
    return FilledTable(
        table.name,
        table.title,
        columns,
        rows,
        has_paper=True,
        rows_are=table.rows_are,
        note=note,
        attributes=attributes,
    )


def _add_miniature(
    table: PaperTable,
    rows: list[Row],
    columns: list[Column],
    measurements: list[Measurement],
    pinned: set[tuple[str, str]],
    speed: dict[tuple[str, str], Measurement],
) -> None:
    """A column per miniature metric of the table: each row filled by the run of its Fill on synthtvp, or
    for training speed by the preset's bench record."""
    first = {(r["system"], *(r[a] for a in table.row_attributes())): r for r in table.rows()}
    for metric, stands_for in table.miniature:
        timed = metric in OTHER_SOURCES
        columns.append(Column(metric, "synthtvp", None if timed else metric, miniature=stands_for))
        for row, paper_row in zip(rows, first.values(), strict=True):
            fill = table.miniature_for(paper_row)
            cell = Cell()
            if fill is None:
                cell.note = NOT_RUNNABLE
            elif not fill.here:
                cell.note = NO_MINIATURE
            elif timed:
                cell.ours = speed.get((fill.system, metric))
                if cell.ours is None:
                    cell.fill = f"aidbench reproduce --preset {MINIATURE_PRESET}"
            else:
                cell.ours = choose(measurements, fill.system, "synthtvp", metric, fill.where, pinned)
                if cell.ours is None:
                    cell.fill = miniature_command(fill)
                    cell.note = None if cell.fill else NO_MINIATURE
            row.cells.append(cell)


@functools.cache
def _miniature_preset():
    from aidbench.config import resolve

    return resolve(preset=MINIATURE_PRESET)


def miniature_command(fill: Fill) -> str | None:
    """The command that fills a row's miniature: the miniature preset, naming the variant of the preset
    that has the row's settings when the preset's own systems leave it out; None when no variant has them."""
    preset = _miniature_preset()
    command = f"aidbench reproduce --preset {MINIATURE_PRESET}"
    sets = {key: value for key, value in fill.sets if (key, value) != DEFAULT_DOMAIN}
    if not sets:
        return command if fill.system in preset.systems else f"{command} --set systems=[{fill.system}]"
    for name, variant in preset.variants.items():
        if variant.system == fill.system and variant.set == sets:
            return command if name in preset.systems else f"{command} --set systems=[{name}]"
    return None


def ours_table(
    dataset: str,
    systems: list[str],
    metrics: list[str],
    measurements: list[Measurement],
    pinned: set[tuple[str, str]] = frozenset(),
    preset: str | None = None,
    differences: tuple[str | None, dict[tuple[str, str], dict]] = (None, {}),
) -> FilledTable:
    """Our systems on one dataset (e.g. synthtvp): no paper column, every cell ours or its command; with
    `differences` (reference, {(system, metric): difference}), each cell's paired difference from the
    reference system."""
    reference, deltas = differences
    present = [m for m in measurements if m.dataset == dataset]
    systems = list(dict.fromkeys([*systems, *sorted({m.name for m in present})]))
    metrics = list(dict.fromkeys([*metrics, *sorted({m.metric for m in present})]))
    preset = preset or PRESET_OF_DATASET.get(dataset, "<preset>")
    columns = [Column(metric, dataset, metric) for metric in metrics]
    rows = []
    for system in systems:
        row = Row(system, system)
        for column in columns:
            ours = choose(measurements, system, dataset, column.metric, (), pinned)
            fill = None if ours else f"aidbench reproduce --preset {preset}"
            row.cells.append(Cell(ours=ours, fill=fill, delta=deltas.get((system, column.metric))))
        rows.append(row)
    return FilledTable(
        f"ours-{dataset}",
        f"Our systems on {dataset}",
        columns,
        rows,
        has_paper=False,
        note="Measured by aidbench only; the paper reports no numbers on this benchmark."
        if dataset == "synthtvp"
        else "Measured by aidbench; the paper's numbers for these systems are in the tables above.",
        reference=reference if deltas else None,
    )
