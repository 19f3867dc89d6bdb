"""`aidbench reproduce`: every stage, in order, for the systems of a preset, resumable stage by stage.

A stage whose code has not landed yet is reported as such and skipped, never faked. Finished stages are
recorded in the run's state, so `--resume` continues after the last one that finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aidbench.config import Config
from aidbench.runs import Run


@dataclass(frozen=True)
class Stage:
    name: str
    # Runs the stage and returns what it produced (recorded in the run's state); None: not built yet.
    run: Callable[[Config, Run], dict[str, Any]] | None
    issue: int | None = None


@dataclass(frozen=True)
class Outcome:
    stage: str
    status: str


def _data(config: Config, run: Run) -> dict[str, Any]:
    """Check the evaluation split; synthtvp is first exported to disk and read back as SSv2."""
    from aidbench.data.clips import ClipSampling
    from aidbench.data.open import EMBEDDED, open_dataset
    from aidbench.data.verify import verify

    split = config.data.eval_split
    produced: dict[str, Any] = {}
    if config.data.dataset in EMBEDDED:
        from aidbench.data import synthtvp
        from aidbench.data.export import export_synthtvp
        from aidbench.data.ssv2 import SSv2

        out = run.path / "data" / config.data.dataset
        n = config.data.max_clips or synthtvp.SPLIT_SIZES[split]
        produced["export"] = export_synthtvp(
            out, n, config.seed, config.data.resolution, config.data.num_frames, splits=(split,)
        )
        dataset = SSv2(out, split, ClipSampling.from_config(config.data), max_bad_fraction=0.0)
    else:
        dataset = open_dataset(config, split)
    report = verify(dataset)
    if report["bad_fraction"] > report["max_bad_fraction"]:
        run.update_state(data_verify=report)  # the failed run keeps the list of unusable clips
        dataset.check_bad_fraction()  # raises TooManyBadClips
    return {**produced, "verify": report}


def _report(config: Config, run: Run) -> dict[str, Any]:
    from aidbench.report.build import build_report

    out = Path(config.paths.results) / "reports" / (config.preset or run.run_id)
    written = build_report(out, preset=config.preset, results=config.paths.results, config=config)
    return {"files": [str(p) for p in written]}


STAGES: tuple[Stage, ...] = (
    Stage("data", _data),
    # Training, sampling and scoring are built (`aidbench train|sample|eval`); running them for every
    # system of a preset, within the smoke preset's time budget, is issue 7.
    Stage("train", None, issue=7),
    Stage("sample", None, issue=7),
    Stage("eval", None, issue=7),
    Stage("report", _report),
)


def reproduce(config: Config, run: Run, stages: tuple[Stage, ...] = STAGES) -> list[Outcome]:
    outcomes = []
    for stage in stages:
        finished = run.state.get("stages", {})
        if stage.name in finished:
            outcomes.append(Outcome(stage.name, "done (earlier attempt)"))
            continue
        if stage.run is None:
            outcomes.append(Outcome(stage.name, f"not built yet (issue #{stage.issue})"))
            continue
        produced = stage.run(config, run)
        run.update_state(stages={**finished, stage.name: produced})
        outcomes.append(Outcome(stage.name, "done"))
    return outcomes
