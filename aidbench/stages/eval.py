"""The evaluation stage: score generated videos against real ones with registered metrics, in an eval run
whose records.jsonl holds one record per metric.

Two sources: two folders of videos (`--real`, `--fake`, like clean-fid's folder mode), or a sample run
(`--run`), whose real clips are read from the run's dataset and split with its clip sampling. Weights are
resolved before any video is read; features go through the cache, so an interrupted evaluation resumes clip
by clip, and with several processes each extracts its share of the features the cache lacks.
"""

from __future__ import annotations

import math
from pathlib import Path

from aidbench import atomic, config, environment, layout, registry, runs, weights
from aidbench.config import Config
from aidbench.data.clips import quantisation
from aidbench.data.open import open_dataset
from aidbench.errors import UsageError, UserError
from aidbench.metrics.cache import FeatureCache
from aidbench.metrics.protocols import Context, Record
from aidbench.metrics.videoset import VideoSet, load_folder
from aidbench.stages.sample import load_samples


def metric_objects(names: list[str]) -> list:
    return [registry.load("metric", name) for name in names]


def context(config: Config, metrics: list, explicit: dict[str, str], device: str | None = None) -> Context:
    """Resolve every weight the metrics need (one clear error for a missing one), the device (`device`, else
    the config's: auto is CUDA where torch sees a GPU) and the feature cache."""
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
        jackknife_groups=config.eval.jackknife_groups,
        noise_floor_splits=config.eval.noise_floor_splits,
        confidence=config.eval.confidence,
        seed=config.seed,
        num_ref_frames=config.data.num_ref_frames,
        frames=config.eval.frames,
        real_offset=config.eval.real_offset,
        prefixes=config.eval.prefixes,
        cache=FeatureCache(layout.feature_cache(config.paths.results)),
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


def score(metrics: list, real: VideoSet, fake: VideoSet, ctx: Context) -> list[Record]:
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


def check_sources(samples_run, real: Path | None, fake: Path | None) -> None:
    """A sample run, or both folders: one clear error for anything else."""
    if (samples_run is None) == (real is None and fake is None):
        raise UsageError("give either --run SAMPLES_RUN, or both --real DIR and --fake DIR.")
    if samples_run is None and (real is None or fake is None):
        raise UsageError("--real and --fake go together: give both folders.")
    for folder in (real, fake):
        if folder is not None and not folder.is_dir():
            raise UserError(
                f"{folder} is not a folder; --real and --fake take folders of videos or frame folders."
            )


def samples_config(
    cfg: Config, samples_run: str, overrides: list[str], metrics: list[str], allow_partial: bool = False
) -> tuple[Config, Path]:
    """The config to score a sample run with (its stored config, `overrides` and `metrics`, when given, on
    top) and the run's folder (`samples_run`: a folder, or a run id under cfg.paths.results)."""
    folder = Path(samples_run)
    if not folder.is_dir():
        folder = runs.stage_dir(cfg.paths.results, "sample") / samples_run
    sampled = runs.load_run(folder.parent.parent.parent, "sample", folder.name)
    if sampled.status != "done" and not allow_partial:
        raise UserError(
            f"sample run {sampled.run_id} is {sampled.status}: its samples are not all there. Finish it "
            f"with `aidbench sample --resume {sampled.run_id}`, or score what is there with --allow-partial."
        )
    layers = [config.Layer("the sample run's config", sampled.config.to_dict())]
    if overrides:
        layers.append(config.Layer("--set", config.parse_overrides(overrides)))
    if metrics:
        layers.append(config.Layer("the command line", {"eval": {"metrics": list(metrics)}}))
    return config.build(layers), folder


def run_eval(
    cfg: Config,
    *,
    samples_run: Path | None = None,
    real: Path | None = None,
    fake: Path | None = None,
    explicit: dict[str, str] | None = None,
    device: str | None = None,
) -> tuple[list[Record], Path]:
    """`aidbench eval`: score a sample run (its config from `samples_config`) or a folder of generated
    videos against a folder of real ones with cfg.eval.metrics, in a new eval run shared by every process.
    Returns the records and the records.jsonl they were written to."""
    check_sources(samples_run, real, fake)
    metrics = metric_objects(list(cfg.eval.metrics))
    # a missing weight, or a GPU asked for where there is none, fails here: before any reading
    ctx = context(cfg, metrics, explicit or {}, device)
    if samples_run is not None:
        real_set, fake_set = run_sets(cfg, samples_run)
        sources = {"real": str(samples_run), "generated": str(samples_run)}
    else:
        real_set, fake_set = load_folder(real, "real videos"), load_folder(fake, "generated videos")
        sources = {"real": str(real), "generated": str(fake)}
    run = runs.open_run("eval", cfg, label="eval", cpu=ctx.device == "cpu")
    records: list[Record] = []

    def work() -> str:
        records.extend(score(metrics, real_set, fake_set, ctx))
        return str(write_records(run, records, real_set, fake_set, sources))

    return records, Path(runs.execute(run, work, key="records"))


def score_samples(cfg: Config, run: runs.Run, samples_run: Path) -> dict[str, str]:
    """Score a sample run inside an eval run already opened (reproduce's eval stage)."""
    metrics = metric_objects(list(cfg.eval.metrics))
    ctx = context(cfg, metrics, {})
    real, fake = run_sets(cfg, samples_run)
    records = score(metrics, real, fake, ctx)
    sources = {"real": samples_run.name, "generated": samples_run.name}
    return {"records": str(write_records(run, records, real, fake, sources))}


def write_records(
    run, records: list[Record], real: VideoSet, fake: VideoSet, sources: dict[str, str]
) -> Path:
    """An eval run's records.jsonl and the state that traces them (`sources`: the real and generated
    sets, as report/records.py reads them back)."""
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
