"""Our numbers: every finished eval run's records, traced to the sampling (and train) run behind them.

An eval run's state names its sampling run (`sources.generated`: a run id or folder); the system is the
sampling run's `meta.json` "system" (else its config's model.name), the dataset the eval config's
data.dataset. For each (system, dataset, metric, settings) the newest finished eval run wins, unless a
preset's summary pins another.

The summary, `results/reports/<preset>/summary.json` (written by `reproduce`, read by `report` and
`check`):
    {"preset": str,
     "systems": {system: {"train_run": id | null, "sample_run": id, "eval_run": id,
                          "metrics": {metric: {"value", "ci_low", "ci_high", "confidence", "n",
                                               "eval_run"}}}}}
`n` is the number of generated clips scored; `eval_run` per metric names the run when a system's
metrics come from more than one.

A reproduce over several seeds (`--seeds 0,1,2`) adds `"seeds": [0, 1, 2]` at the top, each system's
`"runs": {seed: {"train_run", "sample_run", "eval_run"}}` (the system's own run keys are the first
seed's), and in every metric:
    "value": the mean over the seeds, "sd": their sample standard deviation, "n_seeds",
    "ci_low"/"ci_high": the 95% t-interval of that mean over the seeds ("interval": "t over seeds"),
    "eval_run": "seeds:<reproduce run id>" (not one eval run),
    "seeds": {seed: {"value", "ci_low", "ci_high", "n", "eval_run"}}: each seed's number and its
             bootstrap interval over clips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aidbench import atomic, runs
from aidbench.errors import UserError

SEED_CONFIDENCE = 0.95
OVER_SEEDS = "t over seeds"
# A `trained_on` condition meaning: the dataset the run is scored on (not a zero-shot transfer).
TRAINED_HERE = "<the scored dataset>"


@dataclass(frozen=True)
class Measurement:
    """One of our numbers with everything needed to trace it and to place it in a table."""

    system: str
    dataset: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    eval_run: str
    sample_run: str | None = None
    train_run: str | None = None
    created_at: str = ""
    # The eval run's resolved config, flattened to dotted keys, plus `trained_on`.
    settings: dict[str, Any] = field(default_factory=dict, compare=False)
    warnings: tuple[str, ...] = ()
    # The sampling run's folder, for the gallery.
    sample_dir: Path | None = field(default=None, compare=False)
    # Over several seeds: `value` is their mean, this their standard deviation, `seeds` each seed's value.
    sd: float | None = None
    seeds: tuple[tuple[int, float], ...] = ()
    # The record's protocol card (steps, clip counts, detector sha256), as (field, text) pairs.
    card: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # Per-horizon metrics: (horizon, value, ci_low, ci_high) for each predicted frame.
    curve: tuple[tuple[int, float, float, float], ...] = field(default=(), compare=False)
    # Set-level metrics: the real-vs-real noise floor (mean over half splits), when the record has one.
    noise_floor: float | None = field(default=None, compare=False)
    # The preset's variant of `system` the runs were made for (an ablation, a task), when one was.
    variant: str | None = None

    @property
    def name(self) -> str:
        """What our own tables call it: the variant's name, else the system's."""
        return self.variant or self.system

    def matches(self, where: tuple[tuple[str, Any], ...]) -> bool:
        for key, value in where:
            if key == "trained_on" and value == TRAINED_HERE:
                # trained on the dataset it is scored on, or on an unknown one (a checkpoint from elsewhere)
                if self.settings.get("trained_on") not in (None, self.dataset):
                    return False
            elif key not in self.settings or self.settings[key] != value:
                return False
        return True

    def summary_entry(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "n": self.n,
            "eval_run": self.eval_run,
        }


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _sample_dir(results: Path, source: str | None) -> Path | None:
    if not source:
        return None
    path = Path(source)
    if (path / "manifest.json").is_file():
        return path
    candidate = runs.stage_dir(results, "sample") / source
    return candidate if (candidate / "manifest.json").is_file() else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _sample_system(sample_dir: Path, manifest: dict[str, Any]) -> str | None:
    from aidbench.stages.sample import system_of

    return system_of(sample_dir) or (manifest.get("config") or {}).get("model", {}).get("name")


def _train_run(sample_manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    """The train run behind a sampling run's checkpoint (…/runs/train/<id>/…) and its dataset."""
    checkpoint = (sample_manifest.get("state") or {}).get("checkpoint")
    if not checkpoint:
        return None, None
    parts = Path(checkpoint).parts
    for i in range(len(parts) - 2):
        if parts[i] == "runs" and parts[i + 1] == "train":
            root = Path(*parts[: i + 3])
            train = _read_json(root / "manifest.json") or {}
            return parts[i + 2], (train.get("config") or {}).get("data", {}).get("dataset")
    return None, None


RECORD_FIELDS = ("metric", "value", "ci_low", "ci_high", "confidence", "n_fake")


def read_records(path: Path) -> list[dict[str, Any]]:
    """An eval run's records.jsonl; a torn or foreign line (a crash mid-write, an edit) is skipped and
    counted in one warning, never a crash."""
    records, torn = [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or any(k not in record for k in RECORD_FIELDS):
                raise ValueError("fields missing")
            float(record["value"]), int(record["n_fake"])
        except (ValueError, TypeError):
            torn += 1
            continue
        records.append(record)
    if torn:
        from aidbench.progress import warn

        warn(f"{torn} unreadable line(s) in {path} skipped.")
    return records


def scan(results: str | Path) -> list[Measurement]:
    """Every record of every finished eval run under `<results>/runs/eval/`, oldest run first."""
    results = Path(results)
    found: list[Measurement] = []
    for run in runs.list_runs(results, "eval"):
        if run.status != "done" or not (run.path / "records.jsonl").is_file():
            continue
        config = run.manifest.get("config") or {}
        sample_dir = _sample_dir(results, (run.state.get("sources") or {}).get("generated"))
        sample_manifest = _read_json(sample_dir / "manifest.json") if sample_dir else None
        system = _sample_system(sample_dir, sample_manifest) if sample_manifest else None
        system = system or config.get("model", {}).get("name")
        train_run, trained_on = _train_run(sample_manifest or {})
        settings = {**flatten(config), "trained_on": trained_on}
        for record in read_records(run.path / "records.jsonl"):
            found.append(
                Measurement(
                    system=system,
                    dataset=config.get("data", {}).get("dataset", ""),
                    metric=record["metric"],
                    value=float(record["value"]),
                    ci_low=float(record["ci_low"]),
                    ci_high=float(record["ci_high"]),
                    confidence=float(record["confidence"]),
                    n=int(record["n_fake"]),
                    eval_run=run.run_id,
                    sample_run=sample_dir.name if sample_dir else None,
                    train_run=train_run,
                    created_at=run.manifest.get("created_at") or "",
                    settings=settings,
                    warnings=tuple(record.get("warnings") or ()),
                    sample_dir=sample_dir,
                    card=tuple((record.get("card") or {}).items()),
                    curve=tuple(
                        (int(p["horizon"]), float(p["value"]), float(p["ci_low"]), float(p["ci_high"]))
                        for p in record.get("curve") or ()
                    ),
                    noise_floor=(record.get("noise_floor") or {}).get("value"),
                    variant=config.get("variant"),
                )
            )
    return found


def choose(
    measurements: list[Measurement],
    system: str,
    dataset: str,
    metric: str,
    where: tuple[tuple[str, Any], ...] = (),
    pinned: set[tuple[str, str]] = frozenset(),
) -> Measurement | None:
    """The measurement that fills a cell: a pinned (eval run, metric) first, else the newest run. With
    `where` (a paper table's row), `system` is the system and the settings pick the configuration; without,
    it is the name our tables use (a variant's, else the system's)."""
    candidates = [
        m
        for m in measurements
        if (m.system == system and m.matches(where) if where else m.name == system)
        and m.dataset == dataset
        and m.metric == metric
    ]
    if not candidates:
        return None
    chosen = [m for m in candidates if (m.eval_run, m.metric) in pinned]
    return max(chosen or candidates, key=lambda m: (m.created_at, m.eval_run))


def summarize(
    measurements: list[Measurement],
    preset: str,
    dataset: str,
    systems: list[str] | None = None,
    metrics: list[str] | None = None,
) -> dict[str, Any]:
    """The summary dict (schema above) for the newest runs of each system and metric on `dataset`."""
    systems = systems or sorted({m.name for m in measurements if m.dataset == dataset})
    out: dict[str, Any] = {"preset": preset, "systems": {}}
    for system in systems:
        wanted = metrics or sorted(
            {m.metric for m in measurements if m.name == system and m.dataset == dataset}
        )
        picked = [
            m for m in (choose(measurements, system, dataset, metric) for metric in wanted) if m is not None
        ]
        if not picked:
            continue
        newest = max(picked, key=lambda m: (m.created_at, m.eval_run))
        out["systems"][system] = {
            "train_run": newest.train_run,
            "sample_run": newest.sample_run,
            "eval_run": newest.eval_run,
            "metrics": {m.metric: m.summary_entry() for m in picked},
        }
    return out


def summary_from_runs(
    results: str | Path,
    preset: str,
    dataset: str,
    systems: list[str] | None = None,
    metrics: list[str] | None = None,
    eval_runs: list[str] | None = None,
) -> dict[str, Any]:
    """The summary of the eval runs under `results` (only `eval_runs` when given): what `reproduce`
    writes to results/reports/<preset>/summary.json and what `check` compares when there is none."""
    found = scan(results)
    if eval_runs is not None:
        found = [m for m in found if m.eval_run in set(eval_runs)]
    return summarize(found, preset, dataset, systems, metrics)


def over_seeds(per_seed: dict[int, dict[str, Any]], preset: str, run_id: str) -> dict[str, Any]:
    """One summary from each seed's (schema above): per metric the mean, standard deviation and t-interval
    over the seeds, and every seed's own number."""
    import numpy as np
    from scipy import stats

    seeds = sorted(per_seed)
    systems = list(dict.fromkeys(s for seed in seeds for s in per_seed[seed]["systems"]))
    out: dict[str, Any] = {"preset": preset, "seeds": seeds, "systems": {}}
    for system in systems:
        entries = {
            seed: per_seed[seed]["systems"][system] for seed in seeds if system in per_seed[seed]["systems"]
        }
        first = next(iter(entries.values()))
        runs_of = {
            str(seed): {k: e.get(k) for k in ("train_run", "sample_run", "eval_run")}
            for seed, e in entries.items()
        }
        metrics: dict[str, Any] = {}
        for metric in dict.fromkeys(m for e in entries.values() for m in e["metrics"]):
            cells = {seed: e["metrics"][metric] for seed, e in entries.items() if metric in e["metrics"]}
            values = np.array([c["value"] for c in cells.values()], dtype=float)
            mean = float(values.mean())
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            half = 0.0
            if len(values) > 1:
                half = (
                    float(stats.t.ppf(0.5 + SEED_CONFIDENCE / 2, len(values) - 1)) * sd / np.sqrt(len(values))
                )
            metrics[metric] = {
                "value": mean,
                "sd": sd,
                "n_seeds": len(values),
                "ci_low": mean - half,
                "ci_high": mean + half,
                "confidence": SEED_CONFIDENCE,
                "interval": OVER_SEEDS,
                "n": min(int(c.get("n") or 0) for c in cells.values()),
                "eval_run": f"seeds:{run_id}",
                "seeds": {
                    str(seed): {k: c.get(k) for k in ("value", "ci_low", "ci_high", "n", "eval_run")}
                    for seed, c in cells.items()
                },
            }
        out["systems"][system] = {
            "train_run": first.get("train_run"),
            "sample_run": first.get("sample_run"),
            "eval_run": first.get("eval_run"),
            "runs": runs_of,
            "metrics": metrics,
        }
    return out


def write_summary(path: str | Path, summary: dict[str, Any]) -> Path:
    return atomic.write_text(Path(path), json.dumps(summary, indent=2) + "\n")


def load_summary(path: str | Path) -> dict[str, Any]:
    """A summary file, checked against the schema above (one clear error naming the file and key)."""
    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except OSError as err:
        raise UserError(f"cannot read the summary {path}: {err.strerror or err}.") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not JSON ({err.msg}, line {err.lineno}).") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("systems"), dict):
        raise UserError(f'{path} is not a summary: it needs {{"preset": …, "systems": {{…}}}}.')
    for system, entry in summary["systems"].items():
        metrics = entry.get("metrics") if isinstance(entry, dict) else None
        if not isinstance(metrics, dict):
            raise UserError(f"{path}: systems.{system} has no 'metrics' object.")
        for metric, cell in metrics.items():
            for key in ("value", "ci_low", "ci_high"):
                if not isinstance(cell, dict) or not isinstance(cell.get(key), (int, float)):
                    raise UserError(f"{path}: systems.{system}.metrics.{metric}.{key} is not a number.")
    return summary


def differences(summary: dict[str, Any]) -> tuple[str | None, dict[tuple[str, str], dict[str, Any]]]:
    """The summary's reference system and each (system, metric)'s paired difference from it."""
    found = {
        (system, metric): cell["vs_reference"]
        for system, entry in summary.get("systems", {}).items()
        for metric, cell in entry.get("metrics", {}).items()
        if cell.get("vs_reference")
    }
    return summary.get("reference"), found


def pinned_by(summary: dict[str, Any]) -> set[tuple[str, str]]:
    """The (eval run, metric) pairs a summary chose."""
    pins = set()
    for entry in summary.get("systems", {}).values():
        for metric, cell in entry.get("metrics", {}).items():
            pins.add((cell.get("eval_run") or entry.get("eval_run"), metric))
    return pins


def from_summary(summary: dict[str, Any], dataset: str, known: list[Measurement]) -> list[Measurement]:
    """Measurements for a summary's cells whose eval runs are gone (numbers kept, settings unknown), and
    for every cell over several seeds (its mean, with the first seed's settings and samples)."""
    have = {(m.eval_run, m.metric): m for m in known}
    extra = []
    for system, entry in summary.get("systems", {}).items():
        for metric, cell in entry.get("metrics", {}).items():
            eval_run = cell.get("eval_run") or entry.get("eval_run")
            if (eval_run, metric) in have:
                continue
            seeds = tuple((int(seed), float(c["value"])) for seed, c in (cell.get("seeds") or {}).items())
            like = have.get((next(iter(cell["seeds"].values())).get("eval_run"), metric)) if seeds else None
            extra.append(
                Measurement(
                    system=like.system if like else system,
                    dataset=dataset,
                    metric=metric,
                    value=float(cell["value"]),
                    ci_low=float(cell["ci_low"]),
                    ci_high=float(cell["ci_high"]),
                    confidence=float(cell.get("confidence", 0.95)),
                    n=int(cell.get("n") or 0),
                    eval_run=eval_run or "?",
                    sample_run=entry.get("sample_run"),
                    train_run=entry.get("train_run"),
                    created_at=like.created_at if like else "",
                    settings=like.settings if like else {},
                    sample_dir=like.sample_dir if like else None,
                    sd=cell.get("sd") if seeds else None,
                    seeds=seeds,
                    card=like.card if like else (),
                    variant=like.variant if like else None,
                )
            )
    return extra
