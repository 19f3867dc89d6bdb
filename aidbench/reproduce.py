"""`aidbench reproduce`: every stage, in order, for the systems of a preset, resumable stage by stage.

data → base (a text-blind SVD base, when `train.base_steps` asks) → train (each trainable system) →
sample (each system) → eval (each system) → compare (each system against AID, clip by clip) → bench (the
training speed of the preset's `bench` systems, when it names any) → summary
(`<results>/reports/<preset>/summary.json`) → report.
With `seeds` (`--seeds 0,1,2,3,4`), data → … → eval runs once per seed, each seed a reproduce run of its
own, and the summary holds every seed's numbers and their mean, sd and interval over the seeds.

Finished stages are recorded in the reproduce run's state, and inside a stage each system's train, sample
and eval run is recorded as soon as it starts, so `--resume` continues an interrupted training from its
last checkpoint and skips what has finished. A stage that fails names itself and the resume command.
The base pretraining run is shared: its run id is a hash of everything that shapes it, so any reproduce
(or test) with the same settings reuses a finished base instead of training it again.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aidbench import atomic, environment, layout, runs, systems
from aidbench.config import Config, config_sha256, from_dict, with_changes
from aidbench.errors import UsageError, UserError
from aidbench.report import records
from aidbench.report.build import build_report
from aidbench.runs import Run
from aidbench.stages.compare import against
from aidbench.stages.data import eval_split
from aidbench.stages.eval import score_samples


class StageFailed(UserError):
    """A stage of `aidbench reproduce` failed: the message names it and the command that resumes."""


@dataclass(frozen=True)
class Stage:
    name: str
    # Runs the stage and returns what it produced (recorded in the run's state); None: not built yet.
    run: Callable[..., dict[str, Any]] | None
    issue: int | None = None
    # Runs stages of its own: also given `on_stage`, so they are announced as they start.
    nested: bool = False


@dataclass(frozen=True)
class Outcome:
    stage: str
    status: str
    seconds: float | None = None


# --------------------------------------------------------------------------- configs of the sub-runs


def base_config(config: Config) -> Config:
    """The base pretraining's config: SVD's objective on every UNet weight of a random tiny SVD, the
    training split without text, `train.base_steps` steps."""
    return with_changes(
        config,
        "aidbench reproduce",
        model={"name": "svd-fullft", "base_weights": None},
        train={"max_steps": config.train.base_steps, "base_steps": 0, "validation_clips": 0},
    )


def base_run_id(config: Config) -> str:
    """Names the base run by what shapes it (its settings, without the reproduce-only keys and the parts of
    the model the text-blind base does not have)."""
    settings = base_config(config).to_dict()
    for key in ("systems", "preset", "eval", "sample", "jobs", "variants", "variant", "bench"):
        settings.pop(key)
    for key in ("adapters", "mcondition", "train_cross_attention", "full_finetune"):
        settings["model"].pop(key)
    return f"base-{config_sha256(settings)[:16]}"


def _base_of(config: Config, system: str) -> Config | None:
    """The config whose base `system` is built on: its own, or for a transfer its checkpoint's (a model
    keeps the base it was trained on); None for a system that takes no base."""
    source = config.for_system(_checkpoint_of(config, system))
    return source if systems.on_base(source.model.name) else None


def system_config(config: Config, system: str, run: Run) -> Config:
    """The config of one of the preset's systems (a variant with its settings), on its base: the one
    pretrained on its own training data."""
    produced = run.state.get("stages", {}).get("base", {})
    source = _base_of(config, system) if produced.get("weights") else None
    base = None
    if source is not None:
        base = (produced.get("bases") or {}).get(base_run_id(source), produced["weights"])
    return with_changes(config.for_system(system), "aidbench reproduce", model={"base_weights": base})


# --------------------------------------------------------------------------- one sub-run at a time


def _open_sub_run(parent: Run, stage: str, key: str, config: Config, label: str) -> tuple[Run, bool]:
    """The `stage` run of `key`: the one the parent recorded (resumed; True when it had finished), or a new
    one, recorded in the parent as soon as it exists."""
    record = parent.state.get("runs", {}).get(stage, {}).get(key)
    if record is not None:
        sub = runs.resume_run(config.paths.results, stage, record)
        return sub, sub.status == "done"
    sub = runs.start_run(stage, config, label=label)
    done = parent.state.get("runs", {})
    parent.update_state(runs={**done, stage: {**done.get(stage, {}), key: sub.run_id}})
    return sub, False


def _sub_run(parent: Run, stage: str, key: str, config: Config, label: str, work) -> tuple[str, Any]:
    """Start (or resume, when the parent recorded an unfinished one) the `stage` run of `key`, and do
    `work(config, sub_run)` inside it; a finished one is skipped. Returns (run id, what work returned)."""
    sub, finished = _open_sub_run(parent, stage, key, config, label)
    if finished:
        return sub.run_id, sub.state.get("result")
    return sub.run_id, runs.execute(sub, lambda: work(config, sub))


# --------------------------------------------------------------------------- systems side by side


def _train_system(config: Config, sub: Run) -> dict[str, Any]:
    return systems.load(config.model.name, "train").train(config, sub)


def _sample_system(config: Config, sub: Run, checkpoint: str | None, split: str):
    sub.update_state(checkpoint=checkpoint, split=split)
    path = Path(checkpoint) if checkpoint else None
    return systems.load(config.model.name, "sample").sample(config, sub, path, split)


def _in_child(stage: str, values: dict[str, Any], run_id: str, task, args: tuple, threads: int):
    """One system's sub-run in a process of its own (`jobs` > 1): the parent opened and recorded it."""
    import torch

    torch.set_num_threads(threads)
    config = from_dict(values, source="aidbench reproduce")
    sub = runs.load_run(config.paths.results, stage, run_id)
    return runs.execute(sub, lambda: task(config, sub, *args))


def _each_system(parent: Run, stage: str, config: Config, todo: list[tuple[str, Config, str, Any, tuple]]):
    """Run `task(config, sub_run, *args)` for every (key, config, label, task, args) in its own sub-run:
    in this process one after another, or with `jobs` > 1 that many systems side by side, each in a
    spawned process with its share of the CPU threads. Returns {key: (run id, result)}."""
    if config.jobs == 1 or len(todo) <= 1:
        return {
            key: _sub_run(parent, stage, key, cfg, label, lambda c, r, t=task, a=args: t(c, r, *a))
            for key, cfg, label, task, args in todo
        }
    threads = max(1, (os.cpu_count() or 1) // config.jobs)
    out, pending = {}, {}
    with ProcessPoolExecutor(config.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for key, cfg, label, task, args in todo:
            sub, finished = _open_sub_run(parent, stage, key, cfg, label)
            if finished:
                out[key] = (sub.run_id, sub.state.get("result"))
            else:
                future = pool.submit(_in_child, stage, cfg.to_dict(), sub.run_id, task, args, threads)
                pending[key] = (sub.run_id, future)
        for key, (run_id, future) in pending.items():
            out[key] = (run_id, future.result())
    return {key: out[key] for key, *_ in todo}


def _base(config: Config, run: Run) -> dict[str, Any]:
    """The text-blind base of the preset's data, and one for each variant that trains on other data (the
    full task, another domain); each trained once per distinct setting, or the finished one reused."""
    if config.train.base_steps == 0:
        return {"run": None, "weights": None}
    sources = [config] + [c for s in config.systems if (c := _base_of(config, s)) is not None]
    wanted = {base_run_id(c): c for c in sources}
    trained = {run_id: _one_base(c, run_id) for run_id, c in wanted.items()}
    first = trained[base_run_id(config)]
    return {**first, "bases": {run_id: t["weights"] for run_id, t in trained.items()}}


def _one_base(config: Config, run_id: str) -> dict[str, Any]:
    cfg = base_config(config)
    folder = runs.stage_dir(cfg.paths.results, "train") / run_id
    if (folder / "manifest.json").is_file():
        base = runs.resume_run(cfg.paths.results, "train", run_id)
        reused = base.status == "done"
    else:
        base, reused = runs.start_run("train", cfg, run_id=run_id), False
    if not reused:
        from aidbench.baselines import svd_fullft

        runs.execute(base, lambda: svd_fullft.train(cfg, base), key="output")
    weights = base.path / "output" / "trainable.safetensors"
    return {"run": run_id, "weights": str(weights), "reused": reused, "steps": cfg.train.max_steps}


def _train(config: Config, run: Run) -> dict[str, Any]:
    todo = []
    for system in config.systems:
        cfg = system_config(config, system, run)
        if systems.trained(cfg.model.name) and _checkpoint_of(config, system) == system:
            todo.append((system, cfg, f"{system}-{cfg.data.dataset}", _train_system, ()))
    return {
        system: {"run": run_id, "output": result["output"], "final_loss": result["final_loss"]}
        for system, (run_id, result) in _each_system(run, "train", config, todo).items()
    }


def _checkpoint_of(config: Config, system: str) -> str:
    """The entry of `systems` whose training `system` samples from: itself, unless it is a variant that
    transfers another's checkpoint."""
    variant = config.variants.get(system)
    return variant.checkpoint_of if variant is not None and variant.checkpoint_of else system


def _sample(config: Config, run: Run) -> dict[str, Any]:
    trained = run.state["stages"].get("train", {})
    split = config.data.eval_split
    todo = []
    for system in config.systems:
        cfg = system_config(config, system, run)
        source = _checkpoint_of(config, system)
        checkpoint = trained[source]["output"] if source in trained else None
        label = f"{system}-{cfg.data.dataset}-{split}"
        todo.append((system, cfg, label, _sample_system, (checkpoint, split)))
    return {
        system: {"run": run_id, "samples": result["samples"]}
        for system, (run_id, result) in _each_system(run, "sample", config, todo).items()
    }


def _eval(config: Config, run: Run) -> dict[str, Any]:
    sampled = run.state["stages"]["sample"]
    produced = {}
    for system in config.systems:
        sample_run = runs.stage_dir(config.paths.results, "sample") / sampled[system]["run"]
        cfg = system_config(config, system, run)

        def work(c, r, sample_run=sample_run):
            return score_samples(c, r, sample_run)

        run_id, result = _sub_run(run, "eval", system, cfg, f"eval-{system}", work)
        produced[system] = {"run": run_id, "records": result["records"]}
    return produced


def reference_system(config: Config) -> str | None:
    """The system every other is differenced against: AID when the preset runs it."""
    return "aid" if "aid" in config.systems else None


def _compare(config: Config, run: Run) -> dict[str, Any]:
    """Each system against the reference on the same clips: every metric's paired difference, system −
    reference. Systems scored on other data (a variant on the full task or another domain) are differenced
    against AID on that data when the preset runs it there (its name under `reference`), else not at all."""
    reference = reference_system(config)
    if reference is None:
        return {}
    sampled = run.state["stages"]["sample"]
    folder = runs.stage_dir(config.paths.results, "sample")
    model = config.for_system(reference).model
    by_data: dict[str, list[str]] = {}
    for system in config.systems:
        by_data.setdefault(
            json.dumps(config.for_system(system).to_dict()["data"], sort_keys=True), []
        ).append(system)
    produced = {}
    for members in by_data.values():
        same = [s for s in members if config.for_system(s).model == model]  # AID itself, on this data
        if not same:
            continue
        ours = same[0]
        others = {system: folder / sampled[system]["run"] for system in members if system != ours}
        found = against(
            system_config(config, ours, run), list(others.values()), folder / sampled[ours]["run"]
        )
        for system, path in others.items():
            produced[system] = {d.metric: {**d.to_dict(), "reference": ours} for d in found[path]}
    return produced


def _bench(config: Config, run: Run) -> dict[str, Any]:
    """Time the training of the preset's `bench` systems at its sizes and batch (`aidbench bench train`);
    the record goes beside the summary, where the report reads Table 3's miniature."""
    if not config.bench:
        return {}
    from aidbench.bench import measure

    record = measure.run("train", config, list(config.bench), batch=config.train.batch_size_per_device)
    path = layout.reports_dir(config.paths.results, config.preset or run.run_id) / layout.BENCH_FILE
    atomic.write_text(path, json.dumps(record, indent=2) + "\n")
    return {"path": str(path), "ratios": record.get("ratios")}


def summary_path(config: Config, run: Run) -> Path:
    return layout.summary_file(config.paths.results, config.preset or run.run_id)


def summarise(config: Config, run: Run) -> dict[str, Any]:
    """summary.json (schema in report/records.py): for every system its runs and each metric's value and
    interval, read back from this reproduce's own eval runs; with several seeds, each seed's numbers and
    their mean, standard deviation and interval over the seeds."""
    if not config.seeds:
        return _with_differences(config, _summarise_runs(config, run, run.state["stages"]["eval"]), run)
    per_seed = {}
    for seed in config.seeds:
        sub = _seed_run(config, run, seed)
        per_seed[seed] = _summarise_runs(config, run, sub.state["stages"]["eval"])
    return records.over_seeds(per_seed, config.preset or run.run_id, run.run_id)


def _with_differences(config: Config, summary: dict[str, Any], run: Run) -> dict[str, Any]:
    """The summary with each system's paired difference from the reference under `vs_reference` per metric."""
    compared = run.state["stages"].get("compare") or {}
    if compared:
        summary["reference"] = reference_system(config)
    for system, by_metric in compared.items():
        for metric, found in by_metric.items():
            cell = summary["systems"].get(system, {}).get("metrics", {}).get(metric)
            if cell is not None:
                cell["vs_reference"] = found
    return summary


def _summarise_runs(config: Config, run: Run, evaluated: dict[str, Any]) -> dict[str, Any]:
    summary = records.summary_from_runs(
        config.paths.results,
        config.preset or run.run_id,
        config.data.dataset,
        list(config.systems),
        list(config.eval.metrics),
        eval_runs=[entry["run"] for entry in evaluated.values()],
    )
    missing = [s for s in config.systems if s not in summary["systems"]]
    if missing:
        raise UserError(f"no eval records of {', '.join(missing)} among this reproduce's eval runs.")
    return summary


def _summary(config: Config, run: Run) -> dict[str, Any]:
    summary = summarise(config, run)
    path = atomic.write_text(summary_path(config, run), json.dumps(summary, indent=2) + "\n")
    return {"path": str(path)}


# --------------------------------------------------------------------------- several seeds


def seed_config(config: Config, seed: int) -> Config:
    """One seed's share of a several-seed reproduce: every stage as if `seed` were the only one."""
    return with_changes(config, "aidbench reproduce", seed=seed, seeds=[])


def _seed_run(config: Config, run: Run, seed: int) -> Run:
    return runs.load_run(config.paths.results, "reproduce", run.state["runs"]["reproduce"][f"seed-{seed}"])


def _seeds(config: Config, run: Run, on_stage=None) -> dict[str, Any]:
    """data → base → train → sample → eval → compare once per seed, each seed a reproduce run of its own (recorded
    in this one as it starts, so `--resume` continues the seed that was interrupted)."""
    produced = {}
    for seed in config.seeds:
        cfg = seed_config(config, seed)

        def work(c, sub, seed=seed):
            sub.update_state(part_of=run.run_id)  # resumed through this run, never alone
            shown = None if on_stage is None else (lambda name: on_stage(f"seed {seed}: {name}"))
            try:
                done = reproduce(c, sub, PER_SEED_STAGES, shown)
            except StageFailed as failed:  # this run's resume command is the one to give
                raise RuntimeError(f"seed {seed}: {failed.__cause__ or failed}") from failed.__cause__
            return {"stages": [o.stage for o in done]}

        label = f"{config.preset or 'reproduce'}-seed{seed}"
        run_id, _ = _sub_run(run, "reproduce", f"seed-{seed}", cfg, label, work)
        produced[str(seed)] = {
            "run": run_id,
            "seconds": _seed_run(config, run, seed).state.get("seconds", {}),
        }
    return produced


def _report(config: Config, run: Run) -> dict[str, Any]:
    out = layout.reports_dir(config.paths.results, config.preset or run.run_id)
    written = build_report(out, preset=config.preset, results=config.paths.results, config=config)
    return {"files": [str(p) for p in written]}


STAGES: tuple[Stage, ...] = (
    Stage("data", eval_split),
    Stage("base", _base),
    Stage("train", _train),
    Stage("sample", _sample),
    Stage("eval", _eval),
    Stage("compare", _compare),
    Stage("bench", _bench),
    Stage("summary", _summary),
    Stage("report", _report),
)
# What each seed of a several-seed reproduce runs; the timing, the summary over the seeds and the report
# follow once.
PER_SEED_STAGES = STAGES[:6]
SEEDED_STAGES: tuple[Stage, ...] = (Stage("seeds", _seeds, nested=True), *STAGES[6:])


def stages_for(config: Config) -> tuple[Stage, ...]:
    return SEEDED_STAGES if config.seeds else STAGES


def reproduce(
    config: Config, run: Run, stages: tuple[Stage, ...] | None = None, on_stage=None
) -> list[Outcome]:
    """Run the stages not finished yet (default: the config's, `stages_for`); `on_stage(name)` is called
    as each one starts."""
    outcomes = []
    stages = stages_for(config) if stages is None else stages
    for stage in stages:
        finished = run.state.get("stages", {})
        if stage.name in finished:
            outcomes.append(Outcome(stage.name, "done (earlier attempt)"))
            continue
        if stage.run is None:
            outcomes.append(Outcome(stage.name, f"not built yet (issue #{stage.issue})"))
            continue
        if on_stage is not None:
            on_stage(stage.name)
        started = time.perf_counter()
        try:
            produced = stage.run(config, run, on_stage) if stage.nested else stage.run(config, run)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:
            raise StageFailed(
                f"stage '{stage.name}' failed ({type(err).__name__}: {err}); after fixing the cause, continue "
                f"with `aidbench reproduce --resume {run.run_id}`"
                + (f" --set paths.results={config.paths.results}" if _nondefault_results(config) else "")
                + "."
            ) from err
        seconds = time.perf_counter() - started
        timings = {**run.state.get("seconds", {}), stage.name: round(seconds, 2)}
        run.update_state(stages={**finished, stage.name: produced}, seconds=timings)
        outcomes.append(Outcome(stage.name, "done", seconds))
    return outcomes


def resume_run(results: str, run_id: str) -> Run:
    """The reproduce run RUN_ID (or 'latest') reopened with its stored config; a finished one comes back
    unchanged. One seed of a several-seed run is resumed through that run, never alone."""
    run = runs.resume_run(results, "reproduce", run_id)
    if run.state.get("part_of"):
        raise UsageError(
            f"run {run.run_id} is one seed of the several-seed run {run.state['part_of']}; resume that "
            f"one: aidbench reproduce --resume {run.state['part_of']}."
        )
    return run


def record(config: Config, run: Run, seconds: float, load_before: list[float] | None) -> dict[str, Any]:
    """What `--record` keeps of an invocation: wall time, stage times, machine and load, the summary."""
    finished = runs.load_run(config.paths.results, "reproduce", run.run_id)
    summary_file = summary_path(config, run)
    return {
        "benchmark": "reproduce",
        "preset": config.preset,
        "run": run.run_id,
        "wall_seconds_this_invocation": round(seconds, 1),
        "stage_seconds": finished.state.get("seconds", {}),
        "attempts": len(finished.manifest["attempts"]),
        "load_average_before": load_before,
        "load_average_after": environment.load_average(),
        "cpu_count": os.cpu_count(),
        "config_sha256": config.sha256(),
        "git": finished.manifest["git"],
        "device": finished.manifest["device"],
        "packages": finished.manifest["packages"],
        "summary": json.loads(summary_file.read_text()) if summary_file.is_file() else None,
        "command": sys.argv,
    }


def _nondefault_results(config: Config) -> bool:
    return config.paths.results != (os.environ.get("AIDBENCH_RESULTS") or "results")


def table(summary: dict[str, Any]) -> str:
    """System × metric, value and interval, as plain text; over several seeds the mean ± sd [t-interval],
    then each seed's values."""
    metrics = sorted({m for s in summary["systems"].values() for m in s["metrics"]})
    bare = [m.split("@")[0] for m in metrics]
    short = [m if bare.count(b) > 1 else b for m, b in zip(metrics, bare, strict=True)]  # psnr@… twice
    seeded = bool(summary.get("seeds"))
    widths = [max(len(s), 34 if seeded else 26) for s in short]
    first = max([14, *(len(system) + 2 for system in summary["systems"])])
    lines = ["system".ljust(first) + "".join(s.ljust(w + 2) for s, w in zip(short, widths, strict=True))]
    for system, entry in summary["systems"].items():
        cells = []
        for metric, width in zip(metrics, widths, strict=True):
            m = entry["metrics"].get(metric)
            spread = f" ± {m['sd']:.3f}" if m is not None and m.get("sd") is not None else ""
            cell = "-" if m is None else f"{m['value']:.3f}{spread} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
            cells.append(cell.ljust(width + 2))
        lines.append(system.ljust(first) + "".join(cells))
    if seeded:
        lines.append(
            f"mean ± sd [95% t-interval] over seeds {', '.join(map(str, summary['seeds']))}; each seed:"
        )
        for system, entry in summary["systems"].items():
            for metric, m in entry["metrics"].items():
                values = " ".join(f"{c['value']:.3f}" for c in m.get("seeds", {}).values())
                lines.append(f"  {system:<14}{metric:<36}{values}")
    return "\n".join(lines)
