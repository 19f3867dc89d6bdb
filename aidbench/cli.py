"""The `aidbench` command line: parse, resolve a config, call one plain function per command.

Only light modules are imported at the top (config, registry, errors), so `aidbench --help` and
`aidbench ls` never import torch. A user mistake raised as UserError becomes one sentence on stderr and
its exit code (1 bad input, 2 usage, 3 not built yet, 4 a regression found by `aidbench check`);
Ctrl-C exits 130.
"""

from __future__ import annotations

import errno
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aidbench import distributed, registry
from aidbench.errors import NotBuiltError, UsageError, UserError, did_you_mean

app = typer.Typer(
    name="aidbench",
    help="AID reference implementation and benchmark harness: data → train → sample → eval → report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Prepare and check datasets.", no_args_is_help=True)
weights_app = typer.Typer(
    help="The weights aidbench knows: where they are looked for, and whether they check out."
)
app.add_typer(data_app, name="data")
app.add_typer(weights_app, name="weights", invoke_without_command=True)

# ------------------------------------------------------------------ shared options

Preset = Annotated[
    str | None, typer.Option("--preset", "-p", help="Named preset (see `aidbench ls presets`).")
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file; beats the preset.")
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="KEY=VALUE override, e.g. data.resolution=64; repeatable; beats --config."
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and stop.")]
Resume = Annotated[
    str | None, typer.Option("--resume", help="Continue an unfinished run: RUN_ID or 'latest'.")
]
RunId = Annotated[
    str | None, typer.Option("--run-id", help="Name the new run folder (default: time-label-random).")
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
WeightFiles = Annotated[
    list[str] | None,
    typer.Option(
        "--weights", help="NAME=PATH of a weight file or folder (see `aidbench weights`); repeatable."
    ),
]
Root = Annotated[
    Path | None, typer.Option("--root", help="The dataset's root, in its official layout (data.root).")
]


def _resolve(preset, config_file, overrides, cli: dict[str, Any] | None = None):
    from aidbench import config

    return config.resolve(preset=preset, config_file=config_file, overrides=overrides or (), cli=cli)


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _print_config(cfg) -> None:
    from aidbench.config import to_yaml

    typer.echo(f"# resolved config, sha256 {cfg.sha256()}")
    typer.echo(to_yaml(cfg), nl=False)


def _on_run_config(run_config, overrides, metrics: list[str]):
    """A run's stored config with the command line's `--set` values and metrics on top."""
    from aidbench import config

    layers = [config.Layer("the sample run's config", run_config.to_dict())]
    if overrides:
        layers.append(config.Layer("--set", config.parse_overrides(overrides)))
    layers.append(config.Layer("the command line", {"eval": {"metrics": list(metrics)}}))
    return config.build(layers)


def _check_names(cfg) -> None:
    """Every name a config mentions must be registered: fail before any work starts."""
    registry.get("dataset", cfg.data.dataset)
    registry.get("model", cfg.model.name)
    for system in cfg.systems:
        registry.get("model", system)
    for metric in cfg.eval.metrics:
        registry.get("metric", metric)


def _parse_weights(items: list[str] | None) -> dict[str, str]:
    from aidbench import weights

    parsed = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise UsageError(
                f"--weights expects NAME=PATH (e.g. i3d=/data/i3d_pretrained_400.pt), got '{item}'."
            )
        weights.get(name)
        parsed[name] = path
    return parsed


# ------------------------------------------------------------------ data


@data_app.command("verify", epilog="Example: aidbench data verify ssv2 --root /data/ssv2 --split validation")
def data_verify(
    dataset: Annotated[str, typer.Argument(help="Registered dataset name.")],
    root: Annotated[
        Path | None, typer.Option("--root", help="The dataset's root, in its official layout.")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Split to check.")] = "validation",
    as_json: Json = False,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
) -> None:
    """Read every clip of a split as training would: counts found, missing, corrupt, too short; frame sizes."""
    from aidbench import runs
    from aidbench.data.open import open_dataset
    from aidbench.data.verify import verify

    registry.get("dataset", dataset)
    cfg = _resolve(preset, config_file, overrides, {"data.dataset": dataset})
    data = open_dataset(cfg, split, root=root)
    run = runs.start_run("data", cfg, label=f"verify-{dataset}-{data.split}")
    with runs.running(run):
        report_ = verify(data)
        run.update_state(verify=report_)
    if as_json:
        typer.echo(json.dumps(report_))
    else:
        counts = ", ".join(f"{k} {v}" for k, v in report_["counts"].items())
        typer.echo(f"{dataset}/{report_['split']} at {report_['root']}: {counts}")
        for key in ("frames", "height", "width"):
            if report_[key]:
                typer.echo(
                    f"  {key}: min {report_[key]['min']}, median {report_[key]['median']}, max {report_[key]['max']}"
                )
        for skipped in report_["skipped"][:20]:
            typer.echo(f"  {skipped['kind']}: {skipped['clip_id']}: {skipped['detail']}")
        if len(report_["skipped"]) > 20:
            typer.echo(f"  … {len(report_['skipped']) - 20} more in {run.path / 'manifest.json'}")
    if report_["bad_fraction"] > report_["max_bad_fraction"]:
        raise UserError(
            f"{report_['bad_fraction']:.1%} of the clips are unusable, more than data.max_corrupt_fraction="
            f"{report_['max_bad_fraction']}; the list is in {run.path / 'manifest.json'}."
        )


@data_app.command(
    "export", epilog="Example: aidbench data export synthtvp --out /tmp/synthtvp --n 64 --seed 0"
)
def data_export(
    dataset: Annotated[str, typer.Argument(help="Embedded dataset to write to disk (synthtvp).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write, in the SSv2 rawframes layout.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Clips per split.")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 0,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Split to write; repeatable (default: all three).")
    ] = None,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
) -> None:
    """Write an embedded benchmark to disk in a real dataset layout (resolution and length from the config)."""
    from aidbench.data import synthtvp
    from aidbench.data.export import export_synthtvp

    if registry.get("dataset", dataset).name != "synthtvp":
        raise UsageError(f"only synthtvp is generated in code; '{dataset}' already lives on disk.")
    splits = tuple(split or synthtvp.SPLITS)
    for name in splits:
        if name not in synthtvp.SPLITS:
            raise UsageError(f"synthtvp has no split '{name}'{did_you_mean(name, synthtvp.SPLITS)}.")
    cfg = _resolve(preset, config_file, overrides)
    task = cfg.data.synthtvp_task
    summary = export_synthtvp(out, n, seed, cfg.data.resolution, cfg.data.num_frames, splits, task)
    typer.echo(
        f"wrote {summary['clips_written']} new clips to {out} "
        f"({', '.join(f'{k} {v}' for k, v in summary['splits'].items())}; "
        f"{cfg.data.resolution}px, {cfg.data.num_frames} frames, task {task}, seed {seed})"
    )


@data_app.command(
    "states", epilog="Example: aidbench data states --dataset ssv2 --root /data/ssv2 --backend llava"
)
def data_states(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Registered dataset.")],
    backend: Annotated[str, typer.Option("--backend", help="llava, oracle (synthtvp) or none.")] = "llava",
    root: Annotated[Path | None, typer.Option("--root", help="The dataset's root.")] = None,
    split: Annotated[str, typer.Option("--split", help="Split to describe.")] = "train",
    out: Annotated[
        Path | None, typer.Option("--out", help="State cache (default: <root>/states.jsonl).")
    ] = None,
    weights_opt: Annotated[list[str] | None, typer.Option("--weights", help="llava=FOLDER.")] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda (default: the config's device, auto).")
    ] = None,
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """Write the MLLM's four state sentences per clip into the state cache (resumable)."""
    from aidbench import environment, weights
    from aidbench.data.open import open_dataset
    from aidbench.model import mllm

    if backend not in ("llava", "oracle", "none"):
        raise UsageError(
            f"unknown states backend '{backend}'{did_you_mean(backend, ['llava', 'oracle', 'none'])}."
        )
    registry.get("dataset", dataset)
    cfg = _resolve(preset, None, overrides, {"data.dataset": dataset})
    data = open_dataset(cfg, split, root=root)
    target = out or (
        data.root / "states.jsonl"
        if dataset != "synthtvp"
        else Path(cfg.paths.data) / "synthtvp" / "states.jsonl"
    )
    generate, producer = None, ""
    if backend == "llava":
        folder = weights.resolve("llava", cfg.paths.weights, _parse_weights(weights_opt).get("llava"))
        generate = mllm.Llava(folder, environment.device(device or cfg.device)["kind"])
        producer = generate.name
    result = mllm.write_states(data, backend, Path(target), generate, producer)
    typer.echo(json.dumps(result))
    if result.get("failed"):
        typer.echo(f"{len(result['failed'])} clips got no usable answer; run again to retry them.", err=True)


# ------------------------------------------------------------------ train / sample / eval


@app.command(epilog="Example: aidbench train aid --dataset ssv2 --preset paper-ssv2")
def train(
    model: Annotated[str, typer.Argument(help="Registered model (see `aidbench ls models`).")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registered dataset.")] = None,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    resume: Resume = None,
    run_id: RunId = None,
    weights_opt: WeightFiles = None,
    root: Root = None,
) -> None:
    """Train a model (AID or a baseline) on a dataset; writes a run folder with checkpoints."""
    registry.get("model", model)
    files = _parse_weights(weights_opt) or None
    cli = {"model.name": model, "data.dataset": dataset, "paths.files": files, "data.root": _text(root)}
    cfg = _resolve(preset, config_file, overrides, cli)
    _check_names(cfg)
    if dry_run:
        return _print_config(cfg)
    from aidbench import runs

    spec = _model_spec(model, "train")
    if resume:
        run = distributed.shared(
            lambda: runs.resume_run(cfg.paths.results, "train", resume),
            cfg.paths.results,
            "train",
            cpu=cfg.device == "cpu",
        )
        if run.status == "done":
            typer.echo(f"run {run.run_id} already finished; its model is in {run.path / 'output'}.")
            return
        cfg = run.config
    else:
        if spec.check is not None:
            spec.check(cfg, cfg.data.train_split)
        run = distributed.shared(
            lambda: runs.start_run("train", cfg, label=f"{model}-{cfg.data.dataset}", run_id=run_id),
            cfg.paths.results,
            "train",
            cpu=cfg.device == "cpu",
        )
    typer.echo(f"run {run.run_id} → {run.path}")
    with runs.running(run):
        result = spec.train(cfg, run)
        run.update_state(output=result)
    typer.echo(f"trained {model}: {json.dumps(result)}")


@app.command(
    epilog="Example: aidbench sample --checkpoint results/runs/train/RUN/checkpoint-1000 --dataset ssv2"
)
def sample(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A train run's output or checkpoint-<step> folder.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="A system that needs no training (svd-zeroshot, vae-recon).")
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registered dataset.")] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Split to sample (default: data.eval_split).")
    ] = None,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    resume: Resume = None,
    run_id: RunId = None,
    weights_opt: WeightFiles = None,
    root: Root = None,
) -> None:
    """Generate one video per clip of a split from a checkpoint (or a zero-shot system); resumable, sharded."""
    from aidbench import runs
    from aidbench.config import from_dict
    from aidbench.stages.train import checkpoint_config

    if resume:
        if (
            any(v is not None for v in (checkpoint, model, dataset, split, config_file, run_id, root))
            or overrides
            or weights_opt
        ):
            raise UsageError("--resume continues with the run's stored settings; drop the other options.")
        results = _resolve(preset, None, ()).paths.results
        run = distributed.shared(lambda: runs.resume_run(results, "sample", resume), results, "sample")
        if run.status == "done":
            typer.echo(f"run {run.run_id} already finished: {run.path / 'samples'}.")
            return
        stored = run.state.get("checkpoint")
        cfg, checkpoint, split = run.config, Path(stored) if stored else None, run.state["split"]
    else:
        if checkpoint is None and model is None:
            raise UsageError(
                "give --checkpoint (a train run's output or checkpoint-<step>), --model for a system that needs "
                "no training, or --resume RUN_ID."
            )
        files = _parse_weights(weights_opt) or None
        cfg = _resolve(
            preset,
            config_file,
            overrides,
            {"data.dataset": dataset, "model.name": model, "paths.files": files, "data.root": _text(root)},
        )
        if checkpoint is not None:
            if not checkpoint.exists():
                raise UserError(
                    f"checkpoint {checkpoint} does not exist; pass a train run's output or checkpoint-<step> folder."
                )
            trained = checkpoint_config(checkpoint)
            if model is not None and model != trained["model"]["name"]:
                raise UsageError(f"{checkpoint} is a '{trained['model']['name']}' checkpoint, not '{model}'.")
            # The architecture is the checkpoint's: its model settings and clip length (DQFormer's queries).
            values = cfg.to_dict()
            values["model"] = trained["model"]
            values["data"]["num_frames"] = trained["data"]["num_frames"]
            cfg = from_dict(values, source=f"{checkpoint}'s config")
        elif _model_spec(cfg.model.name, "sample").train is not None:
            raise UsageError(f"'{cfg.model.name}' is trained: give --checkpoint from its train run.")
        split = split or cfg.data.eval_split
        _check_names(cfg)
        if dry_run:
            return _print_config(cfg)
        check = _model_spec(cfg.model.name, "sample").check
        if check is not None:
            check(cfg, split)

        def create():
            run = runs.start_run(
                "sample", cfg, label=f"{cfg.model.name}-{cfg.data.dataset}-{split}", run_id=run_id
            )
            run.update_state(checkpoint=str(checkpoint) if checkpoint else None, split=split)
            return run

        run = distributed.shared(create, cfg.paths.results, "sample", cpu=cfg.device == "cpu")
    spec = _model_spec(cfg.model.name, "sample")
    typer.echo(f"run {run.run_id} → {run.path}")
    with runs.running(run):
        result = spec.sample(cfg, run, checkpoint, split)
        run.update_state(result=result)
    typer.echo(f"sampled: {json.dumps(result)}")


@app.command(
    "eval", epilog="Example: aidbench eval --real real_videos/ --fake samples/ --metric fvd@seer --json"
)
def eval_(
    metric: Annotated[list[str], typer.Option("--metric", "-m", help="Registered metric; repeatable.")],
    run: Annotated[str | None, typer.Option("--run", help="A sampling run (id or folder) to score.")] = None,
    real: Annotated[
        Path | None, typer.Option("--real", help="Folder of real videos (files or frame folders).")
    ] = None,
    fake: Annotated[Path | None, typer.Option("--fake", help="Folder of generated videos.")] = None,
    weights_opt: Annotated[
        list[str] | None, typer.Option("--weights", help="NAME=PATH for a metric's weights; repeatable.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda (default: the config's device, auto).")
    ] = None,
    as_json: Json = False,
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Score an unfinished sample run's samples.")
    ] = False,
) -> None:
    """Score samples with metrics whose names carry their protocol (fvd@seer, fid@clean-frames, …)."""
    from aidbench import runs
    from aidbench.metrics import evaluate
    from aidbench.metrics.videoset import load_folder

    for name in metric:
        registry.get("metric", name)
        if registry.canonical("metric", name) != name:
            typer.echo(f"{name} is {registry.canonical('metric', name)}, the paper's protocol.", err=True)
    metric = [registry.canonical("metric", name) for name in metric]
    explicit = _parse_weights(weights_opt)
    if (run is None) == (real is None and fake is None):
        raise UsageError("give either --run SAMPLES_RUN, or both --real DIR and --fake DIR.")
    if run is None and (real is None or fake is None):
        raise UsageError("--real and --fake go together: give both folders.")
    for folder in (real, fake):
        if folder is not None and not folder.is_dir():
            raise UserError(
                f"{folder} is not a folder; --real and --fake take folders of videos or frame folders."
            )
    cfg = _resolve(preset, config_file, overrides, {"eval.metrics": list(metric)})
    run_dir = None
    if run is not None:
        run_dir = Path(run) if Path(run).is_dir() else runs.stage_dir(cfg.paths.results, "sample") / run
        sampled = runs.load_run(run_dir.parent.parent.parent, "sample", run_dir.name)
        if sampled.status != "done" and not allow_partial:
            raise UserError(
                f"sample run {sampled.run_id} is {sampled.status}: its samples are not all there. Finish it "
                f"with `aidbench sample --resume {sampled.run_id}`, or score what is there with --allow-partial."
            )
        cfg = _on_run_config(sampled.config, overrides, metric)
    _check_names(cfg)
    if dry_run:
        return _print_config(cfg)
    metrics = evaluate.metric_objects(list(metric))
    # a missing weight, or a GPU asked for where there is none, fails here: before any reading
    ctx = evaluate.context(cfg, metrics, explicit, device)
    if run_dir is not None:
        real_set, fake_set = evaluate.run_sets(cfg, run_dir)
    else:
        real_set, fake_set = load_folder(real, "real videos"), load_folder(fake, "generated videos")
    records, path = evaluate.recorded(
        cfg, metrics, real_set, fake_set, ctx, {"real": str(real or run), "generated": str(fake or run)}
    )
    lines = "".join(r.to_json() + "\n" for r in records)
    if as_json:
        typer.echo(lines, nl=False)
        return
    for r in records:
        typer.echo(
            f"{r.metric:<34} {r.value:.4f}  [{r.ci_low:.4f}, {r.ci_high:.4f}] {r.confidence:.0%}  "
            f"n_real {r.n_real}, n_fake {r.n_fake}"
        )
        for note in r.warnings:
            typer.echo(f"  warning: {note}")
    typer.echo(f"records: {path}")


# ------------------------------------------------------------------ report / bench / reproduce


@app.command(epilog="Example: aidbench report --preset smoke --out results/reports/smoke")
def report(
    preset: Preset = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write (default results/reports/<preset>).")
    ] = None,
    max_clips: Annotated[
        int, typer.Option("--max-clips", min=0, help="Clips in the HTML page's gallery.")
    ] = 16,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
) -> None:
    """Render the report: Markdown, CSV, LaTeX and one HTML page; our numbers beside the paper's."""
    from aidbench.report.build import build_report

    cfg = _resolve(preset, config_file, overrides)
    out = out or Path(cfg.paths.results) / "reports" / (cfg.preset or "default")
    for path in build_report(out, preset=cfg.preset, config=cfg, max_clips=max_clips):
        typer.echo(f"wrote {path}")


@app.command(
    epilog="Examples: aidbench check --against results/curated/smoke --tolerance 5%\n\n"
    "aidbench check --against results/curated/smoke --update --preset smoke   (make the curated records)"
)
def check(
    against: Annotated[
        Path, typer.Option("--against", help="Curated records: a folder with summary.json, or the file.")
    ],
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary", help="The new numbers (default: the preset's summary.json, else its eval runs)."
        ),
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            "--tolerance",
            "-t",
            help="Allowed extra worsening beyond the curated interval: 0.5, 5%, or METRIC=0.5; repeatable.",
        ),
    ] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Make the new numbers the curated records instead.")
    ] = False,
    preset: Preset = None,
    overrides: Overrides = None,
) -> None:
    """Compare new numbers with curated ones; exit 4 with a diff when one is worse beyond its margin."""
    from aidbench.errors import RegressionFound
    from aidbench.report import check as checking
    from aidbench.report import records

    default, per_metric = checking.parse_tolerances(tolerance)
    curated = None if update else checking.load_curated(against)
    if summary is not None:
        new, source = records.load_summary(summary), str(summary)
    else:
        preset = preset or (curated or {}).get("preset")
        if not preset:
            raise UsageError("say which preset's runs to check: --preset P (or --summary FILE).")
        cfg = _resolve(preset, None, overrides)
        written = Path(cfg.paths.results) / "reports" / preset / records.SUMMARY_FILE
        if written.is_file():
            new, source = records.load_summary(written), str(written)
        else:
            new = records.summary_from_runs(
                cfg.paths.results, preset, cfg.data.dataset, list(cfg.systems), list(cfg.eval.metrics)
            )
            source = f"the newest eval runs under {cfg.paths.results}"
        if not new["systems"]:
            raise UserError(
                f"no finished eval runs of the preset '{preset}' under {cfg.paths.results}; "
                f"run `aidbench reproduce --preset {preset}` first."
            )
    if update:
        path = checking.write_curated(against, new, source)
        typer.echo(f"wrote the curated records {path} from {source}; review and commit it.")
        return
    comparisons = checking.compare(curated, new, default, per_metric)
    typer.echo(f"new: {source}\ncurated: {checking.curated_path(against)}")
    typer.echo(checking.diff_table(comparisons))
    failed = [c for c in comparisons if c.failed]
    if failed:
        raise RegressionFound(
            f"{len(failed)} of {len(comparisons)} numbers regressed or are missing against {against} "
            "(table above; margin = the curated interval on the worse side, or the seeds' prediction "
            "interval, + --tolerance)."
        )
    typer.echo(f"no regression: {len(comparisons)} numbers within their margins.")


BENCHMARKS = {
    "decode": "video decoding",
    "frechet": "the Fréchet distance",
    "i3d": "I3D features",
    "precision": "the metric detectors' GPU arithmetic against the CPU's",
}


@app.command(
    epilog="Example: aidbench bench train -m aid -m aid-fullft --preset paper-ssv2 --json\n\n"
    "Also: aidbench bench step --preset smoke --steps 10   (a training step against the bare UNet)"
)
def bench(
    what: Annotated[str, typer.Argument(help="train, sample, step, decode, frechet, i3d or precision.")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="System to measure (train, sample, step); repeatable. Default: all."
        ),
    ] = None,
    preset: Preset = None,
    overrides: Overrides = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Clips per step (train, sample).")] = 1,
    frames: Annotated[int | None, typer.Option("--frames", min=2, help="Default: data.num_frames.")] = None,
    resolution: Annotated[
        int | None, typer.Option("--resolution", min=8, help="Default: data.resolution.")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Timed steps (train) or clips (sample).")] = 5,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed steps first.")] = 2,
    max_batch: Annotated[
        bool, typer.Option("--max-batch", help="Also find the largest batch under the memory cap (Table 4).")
    ] = False,
    memory_cap_gb: Annotated[
        float | None,
        typer.Option("--memory-cap-gb", help="Cap for --max-batch (default: 90% of the GPU's memory)."),
    ] = None,
    clips: Annotated[
        int | None, typer.Option("--clips", min=2, help="Clips to process (decode, i3d).")
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Timed rounds; the median is kept.")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="Write the record to this JSON file.")] = None,
    as_json: Json = False,
) -> None:
    """Speed and memory: training s/iter, peak memory, largest batch (Tables 3-4); sampling; decoding; metrics."""
    import importlib

    from aidbench import atomic

    if what not in ("train", "sample", "step", *BENCHMARKS):
        raise UsageError(f"bench measures train, sample, step, {', '.join(BENCHMARKS)}; not '{what}'.")
    if what in ("train", "sample", "step"):
        from aidbench.bench import step as bench_step
        from aidbench.bench import systems as bench_systems

        known = {
            "train": list(bench_systems.SYSTEMS),
            "sample": list(bench_systems.SAMPLERS),
            "step": list(bench_step.SYSTEMS),
        }[what]
        chosen = model or known
        for name in chosen:
            if name not in known:
                raise UsageError(
                    f"bench {what} measures {', '.join(known)}; not '{name}'{did_you_mean(name, known)}."
                )
        cfg = _resolve(preset, None, overrides)
        module = importlib.import_module(f"aidbench.bench.{what}")
        options = dict(batch=batch, frames=frames, resolution=resolution, steps=steps, warmup=warmup)
        if what == "step":  # the config's own batch and sizes: what a train run steps
            if batch != 1 or frames or resolution or max_batch:
                raise UsageError(
                    "bench step measures the config's own batch and sizes: set them with --set "
                    "(train.batch_size_per_device, data.num_frames, data.resolution), not --batch/--frames."
                )
            options = dict(steps=steps, warmup=warmup)
        if what == "train":
            options.update(memory_cap_gb=memory_cap_gb, max_batch=max_batch)
        record = module.run(cfg, chosen, **options)
    else:
        module = importlib.import_module(f"aidbench.bench.{what}")
        kwargs = {"rounds": rounds, **({"clips": clips} if clips else {})}
        if what == "decode":
            import tempfile

            with tempfile.TemporaryDirectory(prefix="aidbench-decode-") as work:
                record = module.run(Path(work), **kwargs)
        else:
            record = module.run(**kwargs)
    record["command"] = sys.argv
    if out is not None:
        atomic.write_text(out, json.dumps(record, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(record))
    elif what in ("train", "sample", "step"):
        _print_bench(record)
    else:
        summary = {k: v for k, v in record.items() if k not in ("device", "packages", "python", "command")}
        typer.echo(json.dumps(summary, indent=1))


def _print_bench(record: dict[str, Any]) -> None:
    typer.echo(f"{record['what']} on {', '.join(record['device'].get('gpus') or ['the CPU'])}")
    for r in record["systems"]:
        if "error" in r:
            typer.echo(f"  {r['system']:<16} error: {r['error']}")
            continue
        key = next(k for k in ("seconds_per_iter", "seconds_per_clip", "seconds_per_step") if k in r)
        line = f"  {r['system']:<16} {r[key]:.3f} s"
        if "overhead" in r:
            line += f"  bare UNet {r['bare_unet_seconds']:.3f} s  overhead {r['overhead']:.1%}"
        line += f"  peak {r['peak_memory_gb']} GB" if r.get("peak_memory_gb") is not None else ""
        if r.get("trainable_parameters") is not None:
            line += f"  trainable {r['trainable_parameters'] / 1e6:.1f}M"
        if r.get("largest_batch"):
            lb = r["largest_batch"]
            line += (
                f"  largest batch {lb['batch']} ({lb['seconds_per_iter']:.3f} s, {lb['peak_memory_gb']} GB)"
            )
        typer.echo(line)
    for key, value in (record.get("ratios") or {}).items():
        typer.echo(f"  {key}: {value}")


@app.command(epilog="Example: aidbench reproduce --preset smoke")
def reproduce(
    preset: Preset = "smoke",
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    dry_run: DryRun = False,
    resume: Resume = None,
    run_id: RunId = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record", help="Also write the wall time, machine load and results to this JSON file."
        ),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Run every stage once per seed (e.g. 0,1,2,3,4) and summarise over them (config key seeds).",
        ),
    ] = None,
) -> None:
    """Run every stage for every system of a preset (data → base → train → sample → eval → summary →
    report), resumably; prints a system × metric table and writes results/reports/<preset>/summary.json."""
    import time

    from aidbench import reproduce as pipeline
    from aidbench import runs

    started = time.perf_counter()
    load_before = _load_average()
    if resume:
        # The run's stored config decides everything; only the results folder may be named again.
        if config_file or run_id or seeds or any(not o.startswith("paths.results=") for o in overrides or ()):
            raise UsageError(
                "--resume continues with the run's stored config: drop --config, --run-id, --seeds and --set "
                "(except --set paths.results=DIR to say where the run lives)."
            )
        results = _resolve(None, None, overrides).paths.results
        run = runs.resume_run(results, "reproduce", resume)
        if run.state.get("part_of"):
            raise UsageError(
                f"run {run.run_id} is one seed of the several-seed run {run.state['part_of']}; resume that "
                f"one: aidbench reproduce --resume {run.state['part_of']}."
            )
        if run.status == "done":
            typer.echo(f"run {run.run_id} already finished; nothing to do ({run.path}).")
            return
        cfg = run.config
    else:
        cfg = _resolve(preset, config_file, overrides, {"seeds": _seed_list(seeds)})
        _check_names(cfg)
        if dry_run:
            return _print_config(cfg)
        run = runs.start_run("reproduce", cfg, run_id=run_id)
    typer.echo(f"run {run.run_id} → {run.path}")
    with runs.running(run):
        outcomes = pipeline.reproduce(cfg, run, on_stage=lambda name: typer.echo(f"  {name:<8} …"))
    for outcome in outcomes:
        took = f" ({outcome.seconds:.1f} s)" if outcome.seconds is not None else ""
        typer.echo(f"  {outcome.stage:<8} {outcome.status}{took}")
    missing = [o.stage for o in outcomes if o.status.startswith("not built")]
    if missing:
        typer.echo(f"stages not built yet, skipped: {', '.join(missing)} (see the issues named above).")
    summary_file = pipeline.summary_path(cfg, run)
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text())
        typer.echo(pipeline.table(summary))
        typer.echo(f"summary: {summary_file}")
    if record is not None:
        from aidbench import atomic

        finished = runs.load_run(cfg.paths.results, "reproduce", run.run_id)
        entry = {
            "benchmark": "reproduce",
            "preset": cfg.preset,
            "run": run.run_id,
            "wall_seconds_this_invocation": round(time.perf_counter() - started, 1),
            "stage_seconds": finished.state.get("seconds", {}),
            "attempts": len(finished.manifest["attempts"]),
            "load_average_before": load_before,
            "load_average_after": _load_average(),
            "cpu_count": _cpu_count(),
            "config_sha256": cfg.sha256(),
            "git": finished.manifest["git"],
            "device": finished.manifest["device"],
            "packages": finished.manifest["packages"],
            "summary": json.loads(summary_file.read_text()) if summary_file.is_file() else None,
            "command": sys.argv,
        }
        atomic.write_text(record, json.dumps(entry, indent=2) + "\n")
        typer.echo(f"record: {record}")


def _seed_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--seeds '{text}' is not a list of whole numbers such as 0,1,2,3,4.") from None


def _load_average() -> list[float] | None:
    import os

    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _cpu_count() -> int | None:
    import os

    return os.cpu_count()


# ------------------------------------------------------------------ inspection


@app.command("ls", epilog="Example: aidbench ls metrics")
def ls(
    kind: Annotated[
        str | None, typer.Argument(help="models, datasets, metrics, tables or presets (default: all).")
    ] = None,
) -> None:
    """List what is registered: models, datasets, metrics, report tables, presets."""
    from aidbench.config import preset_names

    kinds = {f"{k}s": k for k in registry.KINDS}
    if kind is not None and kind not in (*kinds, "systems", "presets"):
        from aidbench.errors import did_you_mean

        raise UsageError(
            f"unknown kind '{kind}'{did_you_mean(kind, [*kinds, 'systems', 'presets'])} "
            f"(kinds: {', '.join(kinds)}, systems, presets)"
        )
    for plural, singular in kinds.items():
        if kind in (None, plural):
            typer.echo(f"{plural}:")
            for entry in registry.CATALOGUE[singular].values():
                status = "" if entry.status == "ready" else f"  [{entry.status}]"
                typer.echo(f"  {entry.name:<34} {entry.summary}{status}")
    if kind in (None, "systems"):
        from aidbench.report.tables import paper_systems

        typer.echo("systems (runnable here):")
        for entry in registry.CATALOGUE["model"].values():
            if entry.built:
                typer.echo(
                    f"  {entry.name:<34} runnable{'' if entry.status == 'ready' else f' [{entry.status}]'}"
                )
        typer.echo("systems (paper-reported: numbers from results/paper only):")
        tables = [registry.load("table", name) for name in registry.names("table")]
        for name, where in paper_systems(tables).items():
            typer.echo(f"  {name:<34} paper-reported in {', '.join(where)}")
    if kind in (None, "presets"):
        typer.echo("presets:")
        for name in preset_names():
            typer.echo(f"  {name}")


@app.command(epilog="Example: aidbench protocols --markdown")
def protocols(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The README's table of protocols × steps.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Every metric's protocol card: frames, reference frames, resize, features, covariance, distance."""
    from aidbench.metrics import suite

    if markdown:
        typer.echo(suite.protocols_markdown(), nl=False)
        return
    cards = suite.protocol_cards()
    if as_json:
        typer.echo(json.dumps(cards))
        return
    for name, steps in cards.items():
        typer.echo(name)
        for key, value in steps.items():
            typer.echo(f"  {key:<17} {value}")


@app.command("model-info", epilog="Example: aidbench model-info aid --preset paper-ssv2 --json")
def model_info(
    model: Annotated[str, typer.Argument(help="Registered model.")],
    preset: Preset = None,
    config_file: ConfigFile = None,
    overrides: Overrides = None,
    as_json: Json = False,
) -> None:
    """Total and trainable parameters by component, from the config on the meta device (no weights)."""
    spec = _model_spec(model, "parameters")
    cfg = _resolve(preset, config_file, overrides, {"model.name": model})
    report_ = spec.parameters(cfg)
    if as_json:
        typer.echo(json.dumps(report_))
        return
    typer.echo(f"{'component':<48} {'parameters':>14} {'trainable':>14}")
    for name, counts in report_["components"].items():
        typer.echo(f"{name:<48} {counts['total'] / 1e6:>13.2f}M {counts['trainable'] / 1e6:>13.2f}M")
    typer.echo(f"{'total':<48} {report_['total'] / 1e6:>13.2f}M {report_['trainable'] / 1e6:>13.2f}M")


def _model_spec(name: str, operation: str):
    """The registered model's spec, or a clear error when the operation has not landed."""
    spec = registry.load("model", name)
    if operation == "train" and spec.train is None and spec.sample is not None:
        raise UsageError(f"'{name}' needs no training: sample it with `aidbench sample --model {name}`.")
    if getattr(spec, operation) is None:
        issue = registry.get("model", name).issue or 5
        raise NotBuiltError(f"'{operation}' for the model '{name}' is not built yet (issue #{issue}).")
    return spec


@weights_app.callback()
def weights_default(ctx: typer.Context) -> None:
    """List known weights (the default), or verify them."""
    if ctx.invoked_subcommand is None:
        weights_list(preset=None, as_json=False)


@weights_app.command("list", epilog="Example: aidbench weights list --json")
def weights_list(preset: Preset = None, as_json: Json = False) -> None:
    """Each known weight: file name, where it is looked for, whether it is there, where to get it."""
    from aidbench import weights

    cfg = _resolve(preset, None, ())
    rows = []
    for name, weight in weights.KNOWN.items():
        found = weights.locate(name, cfg.paths.weights)
        rows.append(
            {
                "name": name,
                "found": str(found) if found else None,
                "expected": str(weights.candidates(weight, cfg.paths.weights)[0]),
                "sha256": weight.sha256,
                "source": weight.source,
                "used_by": weight.used_by,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        where = f"found at {row['found']}" if row["found"] else f"missing (expected at {row['expected']})"
        typer.echo(f"{row['name']:<16} {where}\n{'':<16} used by {row['used_by']}; from {row['source']}")


@weights_app.command(
    "verify", epilog="Example: aidbench weights verify clip --weights clip=/data/ViT-B-32.pt"
)
def weights_verify(
    names: Annotated[
        list[str] | None, typer.Argument(help="Weights to check (default: every one found).")
    ] = None,
    weights_opt: Annotated[list[str] | None, typer.Option("--weights", help="NAME=PATH; repeatable.")] = None,
    preset: Preset = None,
) -> None:
    """Check found weights against their recorded sha256 (folders: the files they need)."""
    from aidbench import weights

    cfg = _resolve(preset, None, ())
    explicit = _parse_weights(weights_opt)
    chosen = list(names or []) or [
        n for n in weights.KNOWN if n in explicit or weights.locate(n, cfg.paths.weights)
    ]
    if not chosen:
        typer.echo(
            f"no known weights found under {cfg.paths.weights}; `aidbench weights list` says where to get them."
        )
        return
    failed = False
    for name in chosen:
        path = weights.resolve(name, cfg.paths.weights, explicit.get(name))
        ok, detail = weights.verify(name, path)
        failed |= ok is False
        mark = {True: "ok", False: "MISMATCH", None: "unchecked"}[ok]
        typer.echo(f"{name:<16} {mark:<9} {path}: {detail}")
    if failed:
        raise UserError(
            "some weights do not match their recorded sha256; fetch them again from their source."
        )


@weights_app.command(
    "trust",
    epilog="Example: aidbench weights trust inception --weights inception=/data/inception-2015-12-05.pt",
)
def weights_trust(
    names: Annotated[list[str], typer.Argument(help="Weights you downloaded yourself from their source.")],
    weights_opt: Annotated[list[str] | None, typer.Option("--weights", help="NAME=PATH; repeatable.")] = None,
    preset: Preset = None,
) -> None:
    """Pin files you got from their publisher: their sha256 is written beside them (NAME.sha256), and a
    TorchScript weight loads only when pinned or its recorded sha256 matches."""
    from aidbench import weights

    cfg = _resolve(preset, None, ())
    explicit = _parse_weights(weights_opt)
    for name in names:
        path = weights.resolve(name, cfg.paths.weights, explicit.get(name))
        typer.echo(f"{name:<16} pinned {weights.pin(path)} for {path}")


@weights_app.command("fetch", epilog="Example: aidbench weights fetch i3d")
def weights_fetch(
    names: Annotated[list[str], typer.Argument(help="Weights to download (single files only).")],
    url: Annotated[
        str | None, typer.Option("--url", help="Download from this URL instead (one name).")
    ] = None,
    preset: Preset = None,
) -> None:
    """Download weights into the weights folder (needs internet), checking the recorded sha256."""
    from aidbench import weights

    cfg = _resolve(preset, None, ())
    if url and len(names) != 1:
        raise UsageError("--url goes with exactly one weights name.")
    for name in names:
        weights.get(name)
    for name in names:
        typer.echo(f"{name:<16} {weights.fetch(name, cfg.paths.weights, url)}")


stats_app = typer.Typer(
    help="The feature cache: features stored by extractor and clip content.", no_args_is_help=True
)
app.add_typer(stats_app, name="stats")


@stats_app.command("ls", epilog="Example: aidbench stats ls")
def stats_ls(preset: Preset = None, as_json: Json = False) -> None:
    """List cached feature sets: key, family, protocol, clips, size."""
    from aidbench.metrics.cache import FeatureCache

    cfg = _resolve(preset, None, ())
    entries = FeatureCache(Path(cfg.paths.results) / "cache" / "features").entries()
    if as_json:
        typer.echo(json.dumps(entries))
        return
    if not entries:
        typer.echo("the feature cache is empty.")
    for e in entries:
        protocol = e.get("protocol", {}).get("name", e.get("resize", ""))
        typer.echo(
            f"{e['key']}  {e['family']:<17} {protocol:<16} {e['clips']:>6} clips  {e['bytes'] / 1e6:.1f} MB"
        )


@stats_app.command("rm", epilog="Example: aidbench stats rm 3fa2c1")
def stats_rm(
    key: Annotated[str | None, typer.Argument(help="Key or key prefix to remove.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every cached feature set.")] = False,
    preset: Preset = None,
) -> None:
    """Remove cached features by key prefix, or all of them."""
    from aidbench.metrics.cache import FeatureCache

    if (key is None) == (not all_):
        raise UsageError("give a KEY prefix or --all.")
    cfg = _resolve(preset, None, ())
    removed = FeatureCache(Path(cfg.paths.results) / "cache" / "features").remove(None if all_ else key)
    if not removed:
        raise UserError(
            "the feature cache is empty."
            if all_
            else f"no cached features match '{key}'; see `aidbench stats ls`."
        )
    typer.echo(f"removed {len(removed)}: {', '.join(removed)}")


@app.command(epilog="Example: aidbench doctor --json")
def doctor(preset: Preset = None, as_json: Json = False) -> None:
    """Versions, devices, and which weights and datasets are found where."""
    from aidbench import doctor as checks

    report_ = checks.diagnose(_resolve(preset, None, ()))
    if as_json:
        typer.echo(json.dumps(report_, indent=2))
    else:
        checks.render(report_)


# ------------------------------------------------------------------ entry point


def _raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: runs are marked failed, not left running
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = app(args=argv, prog_name="aidbench", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C (and so SIGTERM) into this exit code without a word
            typer.echo("interrupted.", err=True)
    except typer.Abort:
        typer.echo("aborted.", err=True)
        code = 130
    except typer.TyperException as err:  # usage errors found by the parser: its own message and exit code
        show = getattr(err, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"error: {err}", err=True)
        code = getattr(err, "exit_code", 2)
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        code = err.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted.", err=True)
        code = 130
    except OSError as err:  # disk full, permissions, a name too long: the system's words and the file
        typer.echo(f"error: {os_error_sentence(err)}", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def os_error_sentence(err: OSError) -> str:
    where = f" ({err.filename})" if err.filename else ""
    advice = {
        errno.ENOSPC: "free some space (or point paths.results elsewhere) and resume the run",
        errno.EDQUOT: "free some space (or point paths.results elsewhere) and resume the run",
        errno.EACCES: "check the folder's permissions",
        errno.EROFS: "the file system is read-only: point paths.results elsewhere",
        errno.ENAMETOOLONG: "use shorter names",
    }.get(err.errno, "see the message above and resume the run once it is fixed")
    return f"{err.strerror or err}{where}; {advice}."
