"""The data stage: check a split as training reads it (in a data run), write the embedded benchmark to disk
in a real dataset's layout, and describe each clip's states with the MLLM into the state cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aidbench import environment, registry, runs, weights
from aidbench.config import Config
from aidbench.data import synthtvp
from aidbench.data.clips import ClipSampling
from aidbench.data.export import export_synthtvp
from aidbench.data.open import EMBEDDED, open_dataset
from aidbench.data.ssv2 import SSv2
from aidbench.data.verify import verify
from aidbench.errors import UsageError, UserError, did_you_mean
from aidbench.model import mllm
from aidbench.runs import Run

STATE_BACKENDS = ("llava", "oracle", "none")


def verify_split(config: Config, split: str, root: Path | None = None) -> tuple[dict[str, Any], Run]:
    """`aidbench data verify`: read every clip of a split in a data run; returns the verify report (counts,
    frame sizes, skipped clips) and the run whose manifest keeps it."""
    data = open_dataset(config, split, root=root)
    run = runs.start_run("data", config, label=f"verify-{config.data.dataset}-{data.split}")
    return runs.execute(run, lambda: verify(data), key="verify"), run


def unusable(report: dict[str, Any], run: Run) -> UserError | None:
    """The error for a split with more unusable clips than data.max_corrupt_fraction allows, else None."""
    if report["bad_fraction"] <= report["max_bad_fraction"]:
        return None
    return UserError(
        f"{report['bad_fraction']:.1%} of the clips are unusable, more than data.max_corrupt_fraction="
        f"{report['max_bad_fraction']}; the list is in {run.path / 'manifest.json'}."
    )


def export(
    config: Config, dataset: str, out: Path, n: int, seed: int, splits: list[str] | None = None
) -> dict[str, Any]:
    """`aidbench data export`: an embedded dataset's clips on disk in the SSv2 rawframes layout
    (resolution, length and task from the config)."""
    if registry.get("dataset", dataset).name not in EMBEDDED:
        raise UsageError(f"only synthtvp is generated in code; '{dataset}' already lives on disk.")
    chosen = tuple(splits or synthtvp.SPLITS)
    for name in chosen:
        if name not in synthtvp.SPLITS:
            raise UsageError(f"synthtvp has no split '{name}'{did_you_mean(name, synthtvp.SPLITS)}.")
    data = config.data
    return export_synthtvp(
        out, n, seed, data.resolution, data.num_frames, chosen, data.synthtvp_task, data.synthtvp_domain
    )


def eval_split(config: Config, run: Run) -> dict[str, Any]:
    """reproduce's data stage: check the evaluation split; synthtvp is first exported into the run folder
    and read back as SSv2, as a user's own dataset would be."""
    split = config.data.eval_split
    produced: dict[str, Any] = {}
    if config.data.dataset in EMBEDDED:
        out = run.path / "data" / config.data.dataset
        n = config.data.max_clips or synthtvp.SPLIT_SIZES[split]
        produced["export"] = export_synthtvp(
            out,
            n,
            config.seed,
            config.data.resolution,
            config.data.num_frames,
            splits=(split,),
            task=config.data.synthtvp_task,
        )
        dataset = SSv2(out, split, ClipSampling.from_config(config.data), max_bad_fraction=0.0)
    else:
        dataset = open_dataset(config, split)
    report = verify(dataset)
    if report["bad_fraction"] > report["max_bad_fraction"]:
        run.update_state(data_verify=report)  # the failed run keeps the list of unusable clips
        dataset.check_bad_fraction()  # raises TooManyBadClips
    return {**produced, "verify": report}


def describe_states(
    config: Config,
    split: str,
    backend: str,
    *,
    root: Path | None = None,
    out: Path | None = None,
    llava: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """`aidbench data states`: the MLLM's four state sentences for every clip of a split not yet in the
    state cache (`out`, default <root>/states.jsonl; synthtvp's under paths.data)."""
    if backend not in STATE_BACKENDS:
        raise UsageError(f"unknown states backend '{backend}'{did_you_mean(backend, STATE_BACKENDS)}.")
    data = open_dataset(config, split, root=root)
    if out is None:
        embedded = config.data.dataset in EMBEDDED
        out = (
            Path(config.paths.data) / "synthtvp" / "states.jsonl" if embedded else data.root / "states.jsonl"
        )
    generate, producer = None, ""
    if backend == "llava":
        folder = weights.resolve("llava", config.paths.weights, llava)
        generate = mllm.Llava(folder, environment.device(device or config.device)["kind"])
        producer = generate.name
    return mllm.write_states(data, backend, Path(out), generate, producer)
