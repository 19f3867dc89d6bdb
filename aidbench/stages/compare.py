"""Paired comparison of two systems' sample runs on the same clips: each metric's difference with its
paired interval and p-value (metrics/paired.py), kept in a compare run's differences.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from aidbench import atomic, runs
from aidbench.config import Config
from aidbench.errors import UserError
from aidbench.metrics.paired import Difference, difference
from aidbench.stages.eval import context, metric_objects, run_sets
from aidbench.stages.sample import finished_clips

# What decides which real clips a sample run is scored against: both runs must agree on all of it.
SAME_DATA = ("dataset", "eval_split", "root", "resolution", "num_frames", "num_ref_frames", "chain")


def _data(run: Path) -> dict:
    config = runs.load_run(run.parent.parent.parent, "sample", run.name).config.data
    return {key: getattr(config, key) for key in SAME_DATA}


def check_pair(run_a: Path, run_b: Path) -> None:
    """One sentence when two sample runs cannot be compared clip by clip."""
    data_a, data_b = _data(run_a), _data(run_b)
    differ = [f"{k} {data_a[k]} vs {data_b[k]}" for k in SAME_DATA if data_a[k] != data_b[k]]
    if differ:
        raise UserError(f"{run_a.name} and {run_b.name} sampled different data ({'; '.join(differ)}).")
    clips_a, clips_b = set(finished_clips(run_a)), set(finished_clips(run_b))
    if clips_a != clips_b:
        raise UserError(
            f"{run_a.name} and {run_b.name} cover different clips ({len(clips_a - clips_b)} only in the first, "
            f"{len(clips_b - clips_a)} only in the second); a paired comparison needs the same clips."
        )


def differences(
    cfg: Config, run_a: Path, run_b: Path, explicit: dict[str, str] | None = None, device: str | None = None
) -> list[Difference]:
    """Every metric of cfg.eval.metrics on both runs against the same real clips, differenced (a − b)."""
    return against(cfg, [run_a], run_b, explicit, device)[run_a]


def against(
    cfg: Config,
    others: list[Path],
    reference: Path,
    explicit: dict[str, str] | None = None,
    device: str | None = None,
) -> dict[Path, list[Difference]]:
    """Each run's differences from one reference run (run − reference), the reference measured once."""
    for other in others:
        check_pair(other, reference)
    metrics = metric_objects(list(cfg.eval.metrics))
    ctx = context(cfg, metrics, explicit or {}, device)
    real, fake_ref = run_sets(cfg, reference)
    base = [m.measure(real, fake_ref, ctx) for m in metrics]
    groups, confidence = cfg.eval.jackknife_groups, cfg.eval.confidence
    found = {}
    for other in others:
        fake = run_sets(cfg, other)[1]
        found[other] = [
            difference(m.measure(real, fake, ctx), b, groups, confidence, cfg.seed)
            for m, b in zip(metrics, base, strict=True)
        ]
    return found


def run_compare(
    cfg: Config, run_a: Path, run_b: Path, explicit: dict[str, str] | None = None, device: str | None = None
) -> tuple[list[Difference], Path]:
    """`aidbench compare`: the differences in a new compare run; returns them and their file."""
    run = runs.open_run("compare", cfg, label=f"{run_a.name}-vs-{run_b.name}"[:100])
    found: list[Difference] = []

    def work() -> str:
        found.extend(differences(cfg, run_a, run_b, explicit, device))
        path = run.path / "differences.jsonl"
        if run.writer:
            atomic.write_text(path, "".join(json.dumps(d.to_dict()) + "\n" for d in found))
        run.update_state(a=str(run_a), b=str(run_b))
        return str(path)

    return found, Path(runs.execute(run, work, key="differences"))
