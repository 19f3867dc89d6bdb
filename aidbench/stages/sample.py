"""The sampling stage every system shares: one generated clip per clip of a split, resumable, sharded across
processes; and the one reader and writer of the samples folder.

<run>/samples/<clip id>/frame_00000.png …  lossless frames, what `aidbench eval --run` scores
<run>/samples/<clip id>/meta.json           instruction, seed, sample index, reference count, system
                                            (written last: marks done)
<run>/samples-<k>/<clip id>/…               each clip's k-th further sample (sample.num_samples > 1)
<run>/previews/<clip id>.mp4                H.264 preview for people, never scored
Each sample's seed is derived from (run seed, clip id, k) alone (k = 0: from (run seed, clip id), as with
one sample), so sharding, resuming, the number of processes and of samples never change a sample. The first K frames of a sample are the true reference frames followed by
the K…T−1 predicted ones, as Seer scores cat(reference, prediction) [ours: the pipeline's own
reconstruction of the reference positions is discarded].
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aidbench import atomic, runs, systems
from aidbench.config import Config, from_dict
from aidbench.data.dataset import UnsafePath, safe_join
from aidbench.data.open import open_dataset
from aidbench.data.video import write_png_frames, write_video
from aidbench.errors import UsageError, UserError
from aidbench.metrics.videoset import VideoSet, load_folder
from aidbench.predictor import Context, Predictor, frames_of
from aidbench.progress import track

SAMPLES, PREVIEWS, META = "samples", "previews", "meta.json"


def sample_seed(run_seed: int, clip_id: str, k: int = 0) -> int:
    """The seed of a clip's k-th sample, from (run seed, clip id, k) alone."""
    key = f"{run_seed}:{clip_id}" if k == 0 else f"{run_seed}:{clip_id}:{k}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def samples_folder(run_dir: Path, k: int = 0) -> Path:
    """Where a run keeps its k-th sample of every clip: `samples/` (k = 0, what eval scores), `samples-<k>/`."""
    return run_dir / (SAMPLES if k == 0 else f"{SAMPLES}-{k}")


def checkpoint_config(checkpoint: Path) -> dict[str, Any]:
    """The training config stored with a checkpoint (output/config.json or the train run's manifest)."""
    for candidate in (checkpoint / "config.json", checkpoint.parent.parent / "manifest.json"):
        if candidate.is_file():
            data = json.loads(candidate.read_text())
            return data.get("config", data)
    raise UserError(
        f"{checkpoint} has no config.json and no train run manifest above it; is it an aidbench checkpoint?"
    )


def sample_config(config: Config, checkpoint: Path | None, system: str | None = None) -> Config:
    """The config a sample run uses: with a checkpoint, its architecture (model settings and clip length,
    which shape DQFormer's queries) over `config`; without one, `config`, whose system must need no
    training (or sample released weights)."""
    if checkpoint is None:
        found = systems.load(config.model.name)
        if found.train is not None and not (found.ready and found.ready(config)):
            raise UsageError(f"'{config.model.name}' is trained: give --checkpoint from its train run.")
        return config
    if not checkpoint.exists():
        raise UserError(
            f"checkpoint {checkpoint} does not exist; pass a train run's output or checkpoint-<step> folder."
        )
    trained = checkpoint_config(checkpoint)
    if system is not None and system != trained["model"]["name"]:
        raise UsageError(f"{checkpoint} is a '{trained['model']['name']}' checkpoint, not '{system}'.")
    values = config.to_dict()
    values["model"] = trained["model"]
    values["data"]["num_frames"] = trained["data"]["num_frames"]
    values["variant"] = values.get("variant") or trained.get("variant")  # an ablation keeps its name
    return from_dict(values, source=f"{checkpoint}'s config")


def run_sample(
    config: Config,
    *,
    checkpoint: Path | None = None,
    split: str | None = None,
    resume: str | None = None,
    run_id: str | None = None,
    on_run=None,
):
    """`aidbench sample`: a new sample run of `config` (from `sample_config`) on `split` (default: the
    evaluation split), or with `resume` the unfinished run RUN_ID (or 'latest') with its stored config,
    checkpoint and split. `on_run(run)` is called once the run exists. Returns (run, the sampling
    summary; None when the resumed run had already finished)."""
    if not resume:
        split = split or config.data.eval_split
        check = systems.load(config.model.name, "sample").check
        if check is not None:
            check(config, split)
    state = {"checkpoint": str(checkpoint) if checkpoint else None, "split": split}
    label = f"{config.model.name}-{config.data.dataset}-{split}"
    run = runs.open_run("sample", config, resume=resume, label=label, run_id=run_id, state=state)
    if on_run is not None:
        on_run(run)
    if run.status == "done":
        return run, None
    stored = run.state.get("checkpoint")
    system = systems.load(run.config.model.name, "sample")
    work = lambda: system.sample(run.config, run, Path(stored) if stored else None, run.state["split"])  # noqa: E731
    return run, runs.execute(run, work)


def sample_clips(
    config: Config,
    run,
    split: str,
    predict: Predictor,
    device_state,
    about: Callable[[Context], dict[str, Any]],
    *,
    annotations: bool = True,
    truth: bool = False,
) -> dict[str, Any]:
    """The loop every system shares: this process's share of the split, sample.num_samples samples of each
    clip, skipping finished ones.

    predict(context) → uint8 (T, H, W, 3) or (T − K, H, W, 3) (predictor.py); the true reference frames
    come first in what is stored. `annotations`: the context carries the dataset's annotations (aidbench's
    own systems); `truth`: the true clip too (oracles). about(context) → what the sample's meta.json
    records besides the clip.
    """
    dataset = open_dataset(config, split)
    mine = dataset.refs[device_state.process_index :: device_state.num_processes]
    samples = config.sample.num_samples
    done = skipped = 0
    for ref in track(mine, f"sampling {dataset.name}/{dataset.split}"):
        try:  # a clip id names a folder of ours: never the samples folder itself, never outside it
            folders = [safe_join(samples_folder(run.path, k), ref.clip_id) for k in range(samples)]
            safe_join(run.path / PREVIEWS, f"{ref.clip_id}.mp4")
        except UnsafePath:
            skipped += 1
            continue
        todo = [
            k for k in range(samples) if not (folders[k] / META).is_file()
        ]  # others: an earlier attempt's
        if not todo:
            continue
        clip = dataset.try_load(ref)
        if not hasattr(clip, "frames"):
            skipped += 1
            continue
        refs = clip.num_ref_frames
        for k in todo:
            seed = sample_seed(config.seed, clip.clip_id, k)
            context = Context.of(clip, seed, device_state.device, annotations=annotations, truth=truth)
            frames = frames_of(predict(context), context, config.model.name)
            write_png_frames(folders[k], frames)
            preview = f"{ref.clip_id}.mp4" if k == 0 else f"{ref.clip_id}.sample-{k}.mp4"
            write_video(run.path / PREVIEWS / preview, frames, fps=8)
            meta = {
                "clip_id": clip.clip_id,
                "instruction": clip.instruction,
                "seed": seed,
                "sample": k,
                "num_ref_frames": refs,
                **about(context),
            }
            atomic.write_json(folders[k] / META, meta)
            done += 1
    return {"generated": done, "skipped": skipped, "clips": len(mine), "samples": str(run.path / SAMPLES)}


def finished_clips(run_dir: Path) -> list[str]:
    """The clip ids a sampling run has finished (those whose meta.json was written), sorted."""
    return sorted(p.parent.name for p in (run_dir / SAMPLES).glob(f"*/{META}"))


def read_meta(run_dir: Path, clip_id: str) -> dict[str, Any]:
    """A sample's meta.json; {} when it is missing or unreadable."""
    try:
        meta = json.loads((run_dir / SAMPLES / clip_id / META).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def read_frames(run_dir: Path, clip_id: str) -> list[np.ndarray]:
    from PIL import Image

    folder = run_dir / SAMPLES / clip_id
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def system_of(run_dir: Path) -> str | None:
    """The system a sampling run's samples name (the first finished sample's meta.json)."""
    for clip_id in finished_clips(run_dir)[:1]:
        return read_meta(run_dir, clip_id).get("system")
    return None


def load_samples(run_dir: Path):
    """A sampling run's samples as a VideoSet to score (instructions from each meta.json), its further
    samples of the same clips (sample.num_samples > 1) in `more`."""
    first = load_folder(run_dir / SAMPLES, "generated videos")
    k = 1
    while samples_folder(run_dir, k).is_dir():
        further = load_folder(samples_folder(run_dir, k), f"generated videos (sample {k})").by_name()
        missing = [n for n in first.names if n not in further]
        if missing:
            raise UserError(
                f"{run_dir.name}: sample {k} of {len(missing)} clips is missing ({', '.join(missing[:3])}); finish "
                f"the run with `aidbench sample --resume {run_dir.name}`."
            )
        first.more.append(
            VideoSet(first.root, first.names, [further[n] for n in first.names], first.instructions)
        )
        k += 1
    return first
