"""`aidbench eval`: score generated videos against real ones with registered metrics.

Two sources: two folders of videos (`--real`, `--fake`, like clean-fid's folder mode), or a sampling run
(`--run`), whose samples are `<run>/samples/<clip id>/frame_*.png` (+ meta.json) and whose real clips are
read from the run's dataset and split with its clip sampling. Weights are resolved before any video is
read; features go through the cache, so an interrupted evaluation resumes clip by clip.
"""

from __future__ import annotations

from pathlib import Path

from aidbench import distributed, registry, weights
from aidbench.config import Config
from aidbench.errors import UserError
from aidbench.metrics.cache import FeatureCache
from aidbench.metrics.suite import Context, Record
from aidbench.metrics.videoset import VideoSet


def metric_objects(names: list[str]) -> list:
    return [registry.load("metric", name) for name in names]


def context(config: Config, metrics: list, explicit: dict[str, str], device: str | None = None) -> Context:
    """Resolve every weight the metrics need (one clear error for a missing one), the device (`device`, else
    the config's: auto is CUDA where torch sees a GPU) and the feature cache."""
    from aidbench import environment

    device = environment.device(device or config.device)["kind"]
    needed = {w for metric in metrics for w in metric.weights}
    if "i3d-torchscript" in explicit:
        needed.add("i3d-torchscript")
    resolved = {
        name: weights.resolve(name, config.paths.weights, explicit.get(name) or config.paths.files.get(name))
        for name in sorted(needed)
    }
    return Context(
        weights=resolved,
        device=device,
        bootstrap_samples=config.eval.bootstrap_samples,
        confidence=config.eval.confidence,
        seed=config.seed,
        num_ref_frames=config.data.num_ref_frames,
        frames=config.eval.frames,
        real_offset=config.eval.real_offset,
        cache=FeatureCache(Path(config.paths.results) / "cache" / "features"),
        synthtvp_seed=config.seed if config.data.dataset == "synthtvp" else None,
    )


# Where aidbench's own chain deliberately differs from Seer's, the card says so and names the option.
READING = {
    "aidbench": "aidbench's chain: frames in natural name order, short videos skipped, resized once "
    "(data.chain=seer reads as Seer's loader)",
    "seer": "Seer's loader (data.chain=seer): frames in Path.glob order, PIL Resize + CenterCrop, trilinear "
    "resampling over time, short videos zero-padded",
}
QUANTISATION = {
    "round": "rounded to uint8",
    "truncate": "truncated to uint8, (x · 255).astype(uint8) as Seer's evaluation",
}


def run_sets(config: Config, samples_run: Path) -> tuple[VideoSet, VideoSet]:
    """The real clips of a sampling run's dataset split, and its samples, matched by clip id."""
    from aidbench.data.clips import quantisation
    from aidbench.data.open import open_dataset
    from aidbench.stages.sample import load_samples

    fake = load_samples(samples_run)
    dataset = open_dataset(config, config.data.eval_split)
    wanted = set(fake.names)
    dataset.refs = [ref for ref in dataset.refs if ref.clip_id in wanted]
    clips = list(dataset)
    quantised = QUANTISATION[quantisation(config.data)] + f" (data.chain: {config.data.chain})"
    real = VideoSet(
        None,
        [c.clip_id for c in clips],
        [c.frames for c in clips],
        reading=READING[config.data.chain],
        quantisation=quantised,
    )
    fake.reading, fake.quantisation = "the sampling run's frame_*.png", quantised
    missing = wanted - set(real.names)
    if missing:
        raise UserError(
            f"{len(missing)} samples have no readable real clip in {dataset.name}/{dataset.split}."
        )
    return real, fake


def evaluate(metrics: list, real: VideoSet, fake: VideoSet, ctx: Context) -> list[Record]:
    """Every metric's record; inputs that could not be read are named in each record's warnings."""
    skipped = [
        f"{len(videos.skipped)} {what} skipped as unreadable: "
        + ", ".join(sorted(videos.skipped)[:5])
        + (" …" if len(videos.skipped) > 5 else "")
        for what, videos in (("real videos", real), ("generated videos", fake))
        if videos.skipped
    ]
    records = [metric.compute(real, fake, ctx) for metric in metrics]
    for record in records:
        record.warnings.extend(skipped)
    return records


def recorded(
    config: Config, metrics: list, real: VideoSet, fake: VideoSet, ctx: Context, sources: dict[str, str]
) -> tuple[list[Record], Path]:
    """Evaluate inside an eval run folder; the records go to its records.jsonl (one JSON object per line)."""
    from aidbench import runs

    run = distributed.shared(
        lambda: runs.start_run("eval", config, label="eval"),
        config.paths.results,
        "eval",
        cpu=ctx.device == "cpu",
    )
    with runs.running(run):
        records = evaluate(metrics, real, fake, ctx)
        path = write_records(run, records, real, fake, sources)
    return records, path


def write_records(
    run, records: list[Record], real: VideoSet, fake: VideoSet, sources: dict[str, str]
) -> Path:
    """An eval run's records.jsonl and the state that traces them (`sources`: the real and generated
    sets, as report/records.py reads them back)."""
    import math

    from aidbench import atomic

    for r in records:
        if not all(math.isfinite(v) for v in (r.value, r.ci_low, r.ci_high)):
            raise UserError(
                f"{r.metric} came out non-finite ({r.value}, [{r.ci_low}, {r.ci_high}]) on {r.n_fake} generated "
                "clips: no record is written; check the videos (blank or constant clips) and the clip count."
            )
    path = run.path / "records.jsonl"
    if run.writer:  # every process computed the same records; the main one writes them
        atomic.write_text(path, "".join(r.to_json() + "\n" for r in records))
    run.update_state(
        records=str(path), sources=sources, skipped={"real": real.skipped, "generated": fake.skipped}
    )
    return path
