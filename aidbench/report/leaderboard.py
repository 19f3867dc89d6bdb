"""The leaderboard of one dataset: every system we scored on it, one row each, as one self-contained HTML
page (inline CSS and script; a click on a column's header sorts the rows), a Markdown table and a CSV.

A row is a system (a variant counts as its own) with the newest finished eval record of each metric
(records.choose); its provenance is the sampling run behind the newest of those records. With a reference
system, each metric's paired difference row − reference comes from a compare run of the two sampling runs,
in either order. A row whose sampling run does not cover exactly the expected clips is flagged and never
ranked: the expected clips are the evaluation split as the eval runs' configs open it, else the clip set
most rows share.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from aidbench import atomic, layout, registry, runs
from aidbench.errors import UserError
from aidbench.report import html, records, render
from aidbench.report.records import Measurement
from aidbench.report.render import number

FILES = ("leaderboard.html", "leaderboard.md", "leaderboard.csv")
# How many missing or extra clip ids a note names before it counts the rest.
SHOWN_IDS = 5
NONE = "—"
OURS = (
    "Every number here is ours: measured by aidbench runs in this results folder, never copied from a paper."
)


@dataclass(frozen=True)
class Delta:
    """A metric's paired difference row − reference on the same clips, from a compare run."""

    value: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float | None
    clips: int
    compare_run: str

    def text(self) -> str:
        p = "" if self.p_value is None else f" p {self.p_value:.2g}"
        return f"{self.value:+.3g} [{self.ci_low:+.3g}, {self.ci_high:+.3g}]{p}"


@dataclass(frozen=True)
class Cell:
    """One metric of one row: the newest eval record's value, interval and clip count."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    eval_run: str
    sample_run: str | None = None
    delta: Delta | None = None


@dataclass(frozen=True)
class Provenance:
    """The runs behind a row. Config and git are the sampling run's (what made the predictions); the
    eval run's are kept beside them for the CSV."""

    sample_run: str | None
    eval_run: str
    config_sha256: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    weights_sha256: str | None = None
    source: str | None = None
    eval_config_sha256: str | None = None
    eval_git_commit: str | None = None
    eval_git_dirty: bool | None = None


@dataclass(frozen=True)
class Coverage:
    """The clip ids a row's sampling run covers, against the expected ones (None: nothing to read)."""

    clips: tuple[str, ...] | None
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.clips is not None and not self.missing and not self.extra

    def text(self) -> str:
        if self.clips is None:
            return "? (no sample run)"
        if self.complete:
            return f"{len(self.clips)} ✓"
        parts = [
            f"{len(ids)} {what}" for ids, what in ((self.missing, "missing"), (self.extra, "extra")) if ids
        ]
        return f"{len(self.clips)} ({', '.join(parts)})"


@dataclass(frozen=True)
class Row:
    system: str
    cells: dict[str, Cell]
    provenance: Provenance
    coverage: Coverage
    # 1 is best by the leaderboard's ranking metric; None: not ranked (incomplete clips, or no value).
    rank: int | None = None


@dataclass(frozen=True)
class Card:
    """A metric's protocol card (without its clip counts, which each row shows) and the rows it covers."""

    metric: str
    fields: tuple[tuple[str, str], ...]
    systems: tuple[str, ...]


@dataclass
class Leaderboard:
    dataset: str
    metrics: list[str]
    rows: list[Row]
    reference: str | None = None
    # The metric the ranks follow (the first with a known better direction), None: no ranks.
    ranked_by: str | None = None
    expected: tuple[str, ...] | None = None
    # Where the expected clip ids come from, for the notes.
    expected_from: str = ""
    cards: list[Card] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- gathering


def default_out(results: str | Path, dataset: str) -> Path:
    return layout.reports_dir(results, "leaderboard") / dataset


def leaderboard(
    results: str | Path,
    dataset: str,
    metrics: list[str] | None = None,
    reference: str | None = None,
    split: str | None = None,
) -> Leaderboard:
    """Every system with finished eval records on `dataset`, one row each (schema in the module's text)."""
    results = Path(results)
    everything = records.scan(results)
    found = [m for m in everything if m.dataset == dataset]
    if not found:
        scored = sorted({m.dataset for m in everything})
        raise UserError(
            f"nothing was scored on {dataset} under {results} "
            f"(datasets with eval runs: {', '.join(scored) or 'none'}); run `aidbench eval --run RUN` first."
        )
    metrics = _metrics(found, dataset, metrics)
    eval_runs = {run.run_id: run for run in runs.list_runs(results, "eval")}
    picked = {
        system: {m.metric: m for m in (records.choose(found, system, dataset, x) for x in metrics) if m}
        for system in sorted({m.name for m in found})
    }
    picked = {system: chosen for system, chosen in picked.items() if chosen}
    notes: list[str] = []
    newest = {system: max(chosen.values(), key=_age) for system, chosen in picked.items()}
    clip_sets = {system: _clips(m) for system, m in newest.items()}
    expected, expected_from = _expected(clip_sets, newest, eval_runs, split)
    deltas = _deltas(results, picked, reference)
    rows = []
    for system, chosen in picked.items():
        m = newest[system]
        cells = {metric: _cell(x, deltas.get((system, metric))) for metric, x in chosen.items()}
        rows.append(
            Row(system, cells, _provenance(m, eval_runs), _coverage(clip_sets[system], expected), None)
        )
        notes += _row_notes(system, chosen, m, clip_sets[system])
    ranked_by = next((x for x in metrics if _better(x)), None)
    return Leaderboard(
        dataset=dataset,
        metrics=metrics,
        rows=rank(rows, ranked_by),
        reference=reference,
        ranked_by=ranked_by,
        expected=expected,
        expected_from=expected_from,
        cards=_cards(picked, metrics),
        notes=notes,
    )


def _age(m: Measurement) -> tuple[str, str]:
    return (m.created_at, m.eval_run)


def _metrics(found: list[Measurement], dataset: str, wanted: list[str] | None) -> list[str]:
    """The columns: the metrics asked for, else every metric found, in the registry's order."""
    have = {m.metric for m in found}
    if wanted:
        wanted = [registry.canonical("metric", x) for x in wanted]
        absent = [x for x in wanted if x not in have]
        for x in absent:
            registry.get("metric", x)  # a misspelt name: "did you mean" before "not scored"
        if absent:
            raise UserError(
                f"no eval run scored {', '.join(absent)} on {dataset} (scored: {', '.join(sorted(have))})."
            )
        return list(dict.fromkeys(wanted))
    order = {name: i for i, name in enumerate(registry.names("metric"))}
    return sorted(have, key=lambda x: (order.get(x, len(order)), x))


def _better(metric: str) -> str | None:
    try:
        return registry.better(metric)
    except (UserError, ValueError):  # a plugin's metric the registry does not know, or one without a way
        return None


def _clips(m: Measurement) -> tuple[str, ...] | None:
    from aidbench.stages.sample import finished_clips

    return tuple(finished_clips(m.sample_dir)) if m.sample_dir is not None else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _git(manifest: dict[str, Any]) -> tuple[str | None, bool | None]:
    git = manifest.get("git") or {}
    return git.get("commit"), git.get("dirty")


def _source_text(source: Any) -> str | None:
    """provenance.source as one line: a string as it is, a mapping as "key value" pairs."""
    if source is None:
        return None
    if isinstance(source, dict):
        return ", ".join(f"{k} {v}" for k, v in source.items())
    return str(source)


def _provenance(m: Measurement, eval_runs: dict[str, runs.Run]) -> Provenance:
    sample = _read_json(m.sample_dir / "manifest.json") if m.sample_dir is not None else {}
    evaluated = eval_runs[m.eval_run].manifest if m.eval_run in eval_runs else {}
    made = ((sample.get("state") or {}).get("result") or {}).get("provenance") or {}
    made = made if isinstance(made, dict) else {}
    commit, dirty = _git(sample or evaluated)
    eval_commit, eval_dirty = _git(evaluated)
    return Provenance(
        sample_run=m.sample_run,
        eval_run=m.eval_run,
        config_sha256=(sample or evaluated).get("config_sha256"),
        git_commit=commit,
        git_dirty=dirty,
        weights_sha256=made.get("weights_sha256"),
        source=_source_text(made.get("source")),
        eval_config_sha256=evaluated.get("config_sha256"),
        eval_git_commit=eval_commit,
        eval_git_dirty=eval_dirty,
    )


def _split_ids(manifest: dict[str, Any], split: str | None, cache: dict[str, Any]) -> tuple[str, ...] | None:
    """The clip ids of the evaluation split (or `split`) as an eval run's config opens the dataset; None
    when it cannot (data not on this machine, a plugin not installed)."""
    from aidbench.config import from_dict
    from aidbench.data.open import open_dataset

    config = manifest.get("config") or {}
    key = json.dumps([config.get("data"), config.get("seed"), config.get("paths"), split], sort_keys=True)
    if key not in cache:
        try:
            cfg = from_dict(config)
            cache[key] = tuple(ref.clip_id for ref in open_dataset(cfg, split or cfg.data.eval_split).refs)
        except (UserError, OSError, ValueError, ImportError) as err:
            cache[key] = err
    return None if isinstance(cache[key], BaseException) else cache[key]


def _expected(
    clip_sets: dict[str, tuple[str, ...] | None],
    newest: dict[str, Measurement],
    eval_runs: dict[str, runs.Run],
    split: str | None,
) -> tuple[tuple[str, ...] | None, str]:
    """The clip ids every row should cover and a sentence saying where they come from."""
    cache: dict[str, Any] = {}
    opened = [
        ids
        for m in newest.values()
        if m.eval_run in eval_runs and (ids := _split_ids(eval_runs[m.eval_run].manifest, split, cache))
    ]
    which = f"the '{split}' split" if split else "the evaluation split"
    if opened:
        ids, agree = _most_shared(opened)
        return ids, (
            f"Expected clips: the {len(ids)} clips of {which} as the eval runs' configs open the dataset "
            f"({agree} of {len(newest)} rows' configs give this set)."
        )
    shared = [ids for ids in clip_sets.values() if ids is not None]
    if not shared:
        return (
            None,
            "Expected clips: unknown (the dataset cannot be opened here and no row has a sample run).",
        )
    ids, agree = _most_shared(shared)
    return ids, (
        f"Expected clips: the {len(ids)} clips that {agree} of {len(newest)} rows' sample runs cover "
        f"({which} of the dataset cannot be opened here)."
    )


def _most_shared(sets: list[tuple[str, ...]]) -> tuple[tuple[str, ...], int]:
    """The most common clip set (a tie: the larger set) and how many share it."""
    counts = Counter(tuple(sorted(ids)) for ids in sets)
    ids = max(counts, key=lambda s: (counts[s], len(s), s))
    return ids, counts[ids]


def _coverage(clips: tuple[str, ...] | None, expected: tuple[str, ...] | None) -> Coverage:
    if clips is None or expected is None:
        return Coverage(clips)
    have, want = set(clips), set(expected)
    return Coverage(clips, tuple(sorted(want - have)), tuple(sorted(have - want)))


def _folder_key(results: Path, where: str | Path | None) -> str | None:
    """A sampling run's folder as one comparable key: a folder, else a run id under `results`."""
    if not where:
        return None
    path = Path(where)
    if not (path / "manifest.json").is_file():  # an id, or a folder recorded before the results moved
        path = runs.stage_dir(results, "sample") / path.name
    return str(path.resolve()) if (path / "manifest.json").is_file() else None


def _compare_index(results: Path) -> dict[tuple[str | None, str | None, str], Delta]:
    """(sample folder, other sample folder, metric) → that pair's difference, first − other, from the
    newest finished compare run of the pair (in either order: a swapped pair's difference is negated)."""
    found: dict[tuple[str | None, str | None, str], Delta] = {}
    for run in runs.list_runs(results, "compare"):  # oldest first: the newest overwrites
        a, b = _folder_key(results, run.state.get("a")), _folder_key(results, run.state.get("b"))
        path = run.path / "differences.jsonl"
        if run.status != "done" or a is None or b is None or not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            try:
                d = json.loads(line)
                forward = Delta(
                    float(d["delta"]),
                    float(d["ci_low"]),
                    float(d["ci_high"]),
                    float(d["confidence"]),
                    None if d.get("p_value") is None else float(d["p_value"]),
                    int(d["clips"]),
                    run.run_id,
                )
            except (ValueError, TypeError, KeyError):
                continue
            found[(a, b, d["metric"])] = forward
            found[(b, a, d["metric"])] = Delta(  # + 0.0: no "-0" for a difference of nothing
                -forward.value + 0.0,
                -forward.ci_high + 0.0,
                -forward.ci_low + 0.0,
                forward.confidence,
                forward.p_value,
                forward.clips,
                run.run_id,
            )
    return found


def _deltas(
    results: Path, picked: dict[str, dict[str, Measurement]], reference: str | None
) -> dict[tuple[str, str], Delta]:
    """(system, metric) → its difference from the reference, between the sample runs behind the two
    cells (a row's metrics may come from different sample runs)."""
    if reference is None:
        return {}
    if reference not in picked:
        raise UserError(
            f"the reference {reference} has no eval record here (systems: {', '.join(sorted(picked))})."
        )
    compared = _compare_index(results)
    found = {}
    for system, chosen in picked.items():
        for metric, m in chosen.items():
            ref = picked[reference].get(metric)
            if system == reference or ref is None:
                continue
            key = (_folder_key(results, m.sample_dir), _folder_key(results, ref.sample_dir), metric)
            if key in compared:
                found[(system, metric)] = compared[key]
    return found


def _cell(m: Measurement, delta: Delta | None) -> Cell:
    return Cell(m.metric, m.value, m.ci_low, m.ci_high, m.confidence, m.n, m.eval_run, m.sample_run, delta)


def _row_notes(
    system: str, chosen: dict[str, Measurement], newest: Measurement, clips: tuple[str, ...] | None
) -> list[str]:
    """What a reader must know about a row that its cells do not show."""
    notes = []
    others = sorted({m.sample_run or "?" for m in chosen.values()} - {newest.sample_run or "?"})
    if others:
        notes.append(
            f"{system}: some metrics come from other sample runs ({', '.join(others)}) than the row's "
            f"{newest.sample_run}; the provenance columns name the newest."
        )
    for m in chosen.values():
        if clips is not None and m.sample_run == newest.sample_run and m.n != len(clips):
            notes.append(f"{system}: {m.metric} scored {m.n} clips; its sample run holds {len(clips)} now.")
    return notes


def rank(rows: list[Row], metric: str | None) -> list[Row]:
    """The rows in leaderboard order with their ranks: complete rows with a value of `metric`, best first
    (equal values share a rank), then the rest unranked; rows that miss or add clips always come last."""
    way = _better(metric) if metric else None

    def value(row: Row) -> float:
        cell = row.cells.get(metric) if metric else None
        if cell is None or way is None or math.isnan(cell.value):
            return math.inf
        return -cell.value if way == "higher" else cell.value

    ordered = sorted(rows, key=lambda r: (not r.coverage.complete, value(r), r.system))
    out, place, last = [], 0, None
    for i, row in enumerate(ordered):
        ranked = row.coverage.complete and value(row) != math.inf
        if ranked and value(row) != last:
            place, last = i + 1, value(row)
        out.append(Row(row.system, row.cells, row.provenance, row.coverage, place if ranked else None))
    return out


def _cards(picked: dict[str, dict[str, Measurement]], metrics: list[str]) -> list[Card]:
    """Each metric's distinct protocol cards (clip counts aside) with the rows each covers."""
    cards = []
    for metric in metrics:
        by_card: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for system, chosen in picked.items():
            if metric in chosen:
                fields = tuple((k, str(v)) for k, v in chosen[metric].card if k != "clips")
                by_card.setdefault(fields, []).append(system)
        cards += [Card(metric, fields, tuple(systems)) for fields, systems in by_card.items()]
    return cards


# ---------------------------------------------------------------- notes shared by the renderers


def _ids(ids: tuple[str, ...]) -> str:
    more = f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return ", ".join(ids[:SHOWN_IDS]) + more


def integrity_notes(board: Leaderboard) -> list[str]:
    """One line per row whose clips differ from the expected ones: what is missing or extra."""
    lines = []
    for row in board.rows:
        c = row.coverage
        if c.complete:
            continue
        if c.clips is None:
            lines.append(
                f"{row.system}: no sample run behind its eval run, so its clips cannot be checked; not ranked."
            )
            continue
        if board.expected is None:
            continue
        parts = [
            f"missing {_ids(c.missing)}" if c.missing else "",
            f"extra {_ids(c.extra)}" if c.extra else "",
        ]
        lines.append(
            f"{row.system}: sample run {row.provenance.sample_run} covers {len(c.clips)} clips, "
            f"not the {len(board.expected)} expected ({'; '.join(p for p in parts if p)}); "
            "its numbers are over other clips than the rest, so it is not ranked."
        )
    return lines


def delta_notes(board: Leaderboard) -> list[str]:
    """What Δ is, and the command that fills each "—" in it."""
    if not board.reference:
        return []
    ref = next((r for r in board.rows if r.system == board.reference), None)
    lines = [
        f"Δ vs {board.reference}: this row − {board.reference} on the same clips, from a compare run of the "
        "two sample runs, with its paired jackknife interval and p-value."
    ]
    for row in board.rows:
        lacking = [m for m in board.metrics if m in row.cells and row.cells[m].delta is None]
        if row.system == board.reference or not lacking:
            continue
        run_a = row.provenance.sample_run or "RUN_A"
        run_b = (ref.provenance.sample_run if ref else None) or "RUN_B"
        what = "" if len(lacking) == len(row.cells) else f" of {', '.join(lacking)}"
        metrics = "".join(f" --metric {m}" for m in lacking) if what else ""
        same = ref is not None and row.coverage.clips is not None and row.coverage.clips == ref.coverage.clips
        lines.append(
            f"{row.system}: no compare run{what} with {board.reference}; make one with "
            f"`aidbench compare {run_a} {run_b}{metrics}`"
            + ("." if same else " (it needs both sample runs to cover the same clips).")
        )
    return lines


def rank_note(board: Leaderboard) -> str:
    if board.ranked_by is None:
        return "Not ranked: no metric here says whether lower or higher is better."
    way = _better(board.ranked_by)
    return (
        f"Rank: by {board.ranked_by} ({way} is better) over the rows that cover the expected clips; "
        "rows with overlapping intervals are not told apart by it."
    )


def all_notes(board: Leaderboard) -> list[str]:
    return [
        OURS,
        board.expected_from,
        rank_note(board),
        *integrity_notes(board),
        *delta_notes(board),
        *board.notes,
    ]


def _card_lines(card: Card) -> list[str]:
    if not card.fields:
        return ["no protocol card recorded (an eval run older than cards)"]
    return [f"{k}: {v}" for k, v in card.fields]


# ---------------------------------------------------------------- renderers


def _interval(cell: Cell) -> str:
    return render.interval(cell).strip() or "no interval"


def _git_text(commit: str | None, dirty: bool | None) -> str:
    return NONE if not commit else commit[:12] + (" dirty" if dirty else "")


def _short(sha: str | None) -> str:
    return sha[:12] if sha else NONE


def _rank_text(row: Row) -> str:
    return str(row.rank) if row.rank is not None else NONE


def _delta_text(board: Leaderboard, row: Row, cell: Cell | None) -> str:
    if row.system == board.reference:
        return "reference"
    return cell.delta.text() if cell is not None and cell.delta is not None else NONE


def _md(text: str) -> str:
    """Markdown-safe: no raw HTML (renderers pass it through) and no column breaks."""
    return render._markdown_escape(escape(text, quote=False))


def _metric_headers(board: Leaderboard, metric: str) -> list[str]:
    confidence = _confidence(board, metric)
    heads = [metric, f"{metric} {confidence} interval", f"{metric} n"]
    return heads + ([f"{metric} Δ vs {board.reference}"] if board.reference else [])


def _confidence(board: Leaderboard, metric: str) -> str:
    shown = {f"{r.cells[metric].confidence:.0%}" for r in board.rows if metric in r.cells}
    return "/".join(sorted(shown)) or "95%"


def markdown(board: Leaderboard) -> str:
    header = ["rank", "system", "clips"]
    for metric in board.metrics:
        header += _metric_headers(board, metric)
    header += ["sample run", "eval run", "config sha256", "git", "weights sha256", "source"]
    lines = [
        f"# Leaderboard: {_md(board.dataset)}",
        "",
        _md(OURS),
        "",
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in board.rows:
        cells = [_rank_text(row), row.system, row.coverage.text()]
        for metric in board.metrics:
            cell = row.cells.get(metric)
            if cell is None:
                cells += [NONE, NONE, NONE]
            else:
                cells += [number(cell.value), _interval(cell), str(cell.n)]
            if board.reference:
                cells.append(_delta_text(board, row, cell))
        p = row.provenance
        cells += [
            p.sample_run or NONE,
            p.eval_run,
            _short(p.config_sha256),
            _git_text(p.git_commit, p.git_dirty),
            _short(p.weights_sha256),
            p.source or NONE,
        ]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines += [
        "",
        "## Notes",
        "",
        *(f"- {_md(n)}" for n in all_notes(board) if n),
        "",
        "## Protocol cards",
        "",
    ]
    for card in board.cards:
        lines += [f"### {_md(card.metric)} ({_md(', '.join(card.systems))})", ""]
        lines += [f"- {_md(line)}" for line in _card_lines(card)] + [""]
    return "\n".join(lines)


def csv_header(board: Leaderboard) -> list[str]:
    header = ["rank", "system", "complete", "clips", "expected_clips", "missing_clips", "extra_clips"]
    for metric in board.metrics:
        header += [
            f"{metric} {part}" for part in ("value", "ci_low", "ci_high", "confidence", "n", "eval_run")
        ]
        if board.reference:
            header += [
                f"{metric} {part}"
                for part in ("delta", "delta_ci_low", "delta_ci_high", "delta_p_value", "compare_run")
            ]
    return header + [
        "sample_run",
        "eval_run",
        "config_sha256",
        "git_commit",
        "git_dirty",
        "weights_sha256",
        "source",
        "eval_config_sha256",
        "eval_git_commit",
        "eval_git_dirty",
    ]


def csv_text(board: Leaderboard) -> str:
    """One line per row with full numbers, full hashes and every missing or extra clip id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(board))
    blank = lambda value: "" if value is None else value  # noqa: E731
    for row in board.rows:
        c = row.coverage
        line: list[Any] = [
            blank(row.rank),
            row.system,
            c.complete,
            "" if c.clips is None else len(c.clips),
            "" if board.expected is None else len(board.expected),
            " ".join(c.missing),
            " ".join(c.extra),
        ]
        for metric in board.metrics:
            cell = row.cells.get(metric)
            parts = ("value", "ci_low", "ci_high", "confidence", "n", "eval_run")
            line += [getattr(cell, part) for part in parts] if cell else [""] * len(parts)
            if board.reference:
                d = cell.delta if cell else None
                line += [d.value, d.ci_low, d.ci_high, blank(d.p_value), d.compare_run] if d else [""] * 5
        p = row.provenance
        line += [
            blank(p.sample_run),
            p.eval_run,
            blank(p.config_sha256),
            blank(p.git_commit),
            blank(p.git_dirty),
            blank(p.weights_sha256),
            blank(p.source),
            blank(p.eval_config_sha256),
            blank(p.eval_git_commit),
            blank(p.eval_git_dirty),
        ]
        writer.writerow(line)
    return buffer.getvalue()


STYLE = """
th[data-key] { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
tr.incomplete { background: #fff3f3; }
tr.incomplete td.clips { color: #b00; font-weight: 600; }
td.delta { white-space: nowrap; }
div.wide { overflow-x: auto; }
dl.card { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; font-size: 12px; }
dl.card dt { color: #555; }
"""

# Sorts the rows on a header's click by each cell's data-value: numbers as numbers, else as text, empty
# cells last; a second click reverses. Rows that miss or add clips stay below the complete ones either way.
SORT = """
(() => {
  const table = document.getElementById("leaderboard");
  const body = table.tBodies[0];
  const headers = Array.from(table.querySelectorAll("th[data-key]"));
  const compare = (x, y, col, up) => {
    const flagged = x.classList.contains("incomplete") - y.classList.contains("incomplete");
    if (flagged) return flagged;
    const a = x.cells[col].dataset.value, b = y.cells[col].dataset.value;
    if (a === "" || b === "") return (a === "") - (b === "");
    const na = Number(a), nb = Number(b);
    const order = !Number.isNaN(na) && !Number.isNaN(nb) ? na - nb : a.localeCompare(b);
    return up ? order : -order;
  };
  for (const th of headers) {
    th.addEventListener("click", () => {
      const up = th.getAttribute("aria-sort") !== "ascending";
      for (const other of headers) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      const col = Number(th.dataset.col);
      const rows = Array.from(body.rows).sort((x, y) => compare(x, y, col, up));
      for (const row of rows) body.appendChild(row);
    });
  }
})();
"""


def _js_number(value: float | int | None) -> str:
    """A number as data-value: what JavaScript's Number() reads back exactly; "" for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _td(text: str, value: str = "", css: str = "", title: str | None = None) -> str:
    attributes = f' class="{css}"' if css else ""
    attributes += f' title="{escape(title)}"' if title else ""
    return f'<td{attributes} data-value="{escape(value)}">{escape(text)}</td>'


def _columns(board: Leaderboard) -> tuple[list[str], list[str]]:
    """The two header rows. A sortable header carries data-key (what it sorts) and data-col (the index of
    its cells in every row)."""
    top: list[str] = []
    sub: list[str] = []
    col = 0

    def sortable(key: str, label: str, span: str = "") -> str:
        nonlocal col
        col += 1
        return f'<th{span} data-key="{escape(key)}" data-col="{col - 1}">{escape(label)}</th>'

    for key, label in (("rank", "rank"), ("system", "system"), ("clips", "clips")):
        top.append(sortable(key, label, ' rowspan="2"'))
    for metric in board.metrics:
        parts = 4 if board.reference else 3
        way = _better(metric)
        arrow = {"lower": " (lower is better)", "higher": " (higher is better)"}.get(way or "", "")
        top.append(f'<th colspan="{parts}">{escape(metric + arrow)}</th>')
        sub.append(sortable(f"{metric}:value", "value"))
        sub.append(f"<th>{escape(_confidence(board, metric))} interval</th>")
        col += 1
        sub.append(sortable(f"{metric}:n", "n"))
        if board.reference:
            sub.append(sortable(f"{metric}:delta", f"Δ vs {board.reference}"))
    for key, label in (
        ("sample_run", "sample run"),
        ("eval_run", "eval run"),
        ("config", "config sha256"),
        ("git", "git"),
        ("weights", "weights sha256"),
        ("source", "source"),
    ):
        top.append(sortable(key, label, ' rowspan="2"'))
    return top, sub


def _row_html(board: Leaderboard, row: Row) -> str:
    c, p = row.coverage, row.provenance
    flagged = not c.complete
    rank_title = "not ranked: its clips differ from the expected ones" if flagged else None
    cells = [
        _td(_rank_text(row), _js_number(row.rank), "num", rank_title),
        f'<th scope="row" data-value="{escape(row.system)}">{escape(row.system)}</th>',
        _td(c.text(), "" if c.clips is None else str(len(c.clips)), "num clips"),
    ]
    for metric in board.metrics:
        cell = row.cells.get(metric)
        if cell is None:
            cells += [_td(NONE), _td(NONE), _td(NONE)]
        else:
            run = f"eval {cell.eval_run}" + (f" · sample {cell.sample_run}" if cell.sample_run else "")
            cells += [
                _td(number(cell.value), _js_number(cell.value), "num ours", run),
                _td(_interval(cell), _js_number(cell.ci_low), "num ci"),
                _td(str(cell.n), str(cell.n), "num"),
            ]
        if board.reference:
            d = cell.delta if cell else None
            value = "0" if row.system == board.reference else _js_number(d.value if d else None)
            title = f"compare run {d.compare_run}, {d.clips} clips" if d else None
            cells.append(_td(_delta_text(board, row, cell), value, "num delta", title))
    git = _git_text(p.git_commit, p.git_dirty)
    cells += [
        _td(p.sample_run or NONE, p.sample_run or ""),
        _td(p.eval_run, p.eval_run),
        _td(_short(p.config_sha256), p.config_sha256 or "", "sha", p.config_sha256),
        _td(git, p.git_commit or "", "sha", p.git_commit),
        _td(_short(p.weights_sha256), p.weights_sha256 or "", "sha", p.weights_sha256),
        _td(p.source or NONE, p.source or ""),
    ]
    css = ' class="incomplete"' if flagged else ""
    return f'<tr{css} data-system="{escape(row.system)}">' + "".join(cells) + "</tr>"


def _card_html(card: Card) -> str:
    if not card.fields:
        body = f'<p class="note">{escape(_card_lines(card)[0])}</p>'
    else:
        body = (
            '<dl class="card">'
            + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in card.fields)
            + "</dl>"
        )
    return f"<h3>{escape(card.metric)}</h3><p class='note'>rows: {escape(', '.join(card.systems))}</p>{body}"


def html_page(board: Leaderboard) -> str:
    """The leaderboard as one self-contained page; every text from a run is escaped."""
    title = f"Leaderboard: {board.dataset}"
    top, sub = _columns(board)
    body = "".join(_row_html(board, row) for row in board.rows)
    notes = "".join(f'<li class="note">{escape(n)}</li>' for n in all_notes(board) if n)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{html.STYLE}{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p><strong>{escape(OURS)}</strong> Click a column's header to sort by it.</p>"
        f'<div class="wide"><table id="leaderboard"><thead><tr>{"".join(top)}</tr><tr>{"".join(sub)}</tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
        f"<h2>Notes</h2><ul>{notes}</ul>"
        f"<h2>Protocol cards</h2>{''.join(_card_html(card) for card in board.cards)}"
        f"<script>{SORT}</script></body></html>\n"
    )


def write(board: Leaderboard, out: str | Path) -> list[Path]:
    """leaderboard.html, .md and .csv under `out`, each written atomically."""
    out = Path(out)
    texts = (html_page(board), markdown(board), csv_text(board))
    return [atomic.write_text(out / name, text) for name, text in zip(FILES, texts, strict=True)]
