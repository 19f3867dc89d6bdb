"""The training stage every trainable system shares: one accelerate loop, resumable to the exact step.

Each step draws its batch, noise levels, noise and condition dropout from a generator seeded by
(run seed, step) alone, so a run resumed from `checkpoint-<step>` continues exactly as if it had never
stopped, whatever the number of processes. A checkpoint holds only what trains (safetensors) and the
optimizer state (and the weights' moving average); frozen weights come from their own files.

<run>/checkpoints/checkpoint-<step>/  trainable.safetensors, optimizer.pt, [ema.pt], state.json
<run>/validation/step-<step>/         mp4 previews (the true clip, then the prediction)
<run>/output/                         trainable.safetensors, config.json, README.md (the trained system)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aidbench import atomic, runs, systems
from aidbench.config import Config
from aidbench.data.open import open_dataset
from aidbench.data.video import write_video
from aidbench.errors import UserError
from aidbench.predictor import Context, frames_of
from aidbench.progress import track
from aidbench.stages import speed
from aidbench.stages.sample import sample_seed


def run_train(config: Config, *, resume: str | None = None, run_id: str | None = None, on_run=None):
    """`aidbench train`: a new train run of the config's system, or with `resume` the unfinished run
    RUN_ID (or 'latest') with its stored config, trained to the end. `on_run(run)` is called once the run
    exists. Returns (run, what training returned; None when the resumed run had already finished)."""
    if not resume:
        system = systems.load(config.model.name, "train")
        if system.check is not None:
            system.check(config, config.data.train_split)
    label = f"{config.model.name}-{config.data.dataset}"
    run = runs.open_run("train", config, resume=resume, label=label, run_id=run_id)
    if on_run is not None:
        on_run(run)
    if run.status == "done":
        return run, None
    system = systems.load(run.config.model.name, "train")
    return run, runs.execute(run, lambda: system.train(run.config, run), key="output")


@dataclass
class Trainee:
    """What a system hands the loop: `model` holds every trainable parameter (and saves them with
    `trainable_state_dict()`), `frozen` the modules it needs on the device (the speed switches apply to
    them too), `loss(clips, generator)` the batch's loss, and `previews()` a predictor (predictor.py) for the
    validation previews."""

    model: torch.nn.Module
    loss: Callable[[list, torch.Generator], torch.Tensor]
    frozen: tuple[torch.nn.Module, ...] = field(default_factory=tuple)
    previews: Callable[[], Callable] | None = None


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def optimizer_for(cfg, trainable: list) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW per supplementary Table 7 over the trained parameters, and their moving average (diffusers'
    EMAModel) when train.ema_decay asks for one, else None."""
    optimizer = torch.optim.AdamW(
        trainable,
        lr=cfg.learning_rate,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_epsilon,
        weight_decay=cfg.weight_decay,
        fused=True,  # one kernel for all weights; the default loops over tensors on the CPU
    )
    if not cfg.ema_decay:
        return optimizer, None
    from diffusers.training_utils import EMAModel

    return optimizer, EMAModel(trainable, decay=cfg.ema_decay, foreach=True)


def set_rate(optimizer, cfg, step: int) -> None:
    """The rate of step `step` (0-based): a linear warm-up over train.lr_warmup_steps, then constant."""
    for group in optimizer.param_groups:
        group["lr"] = cfg.learning_rate * min(1.0, (step + 1) / (cfg.lr_warmup_steps + 1))


def _save_checkpoint(folder: Path, denoiser, optimizer, step: int, losses: list[float], ema=None) -> Path:
    """`checkpoint-<step>`, written under a name no other attempt uses and renamed into place when whole:
    a folder named checkpoint-<step> is always complete."""
    import secrets

    from safetensors.torch import save_file

    target = folder / f"checkpoint-{step}"
    tmp = folder / f".checkpoint-{step}.{os.getpid()}-{secrets.token_hex(3)}.tmp"
    tmp.mkdir(parents=True)
    try:
        save_file(
            {k: v.contiguous() for k, v in denoiser.trainable_state_dict().items()},
            tmp / "trainable.safetensors",
        )
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if ema is not None:
            torch.save(ema.state_dict(), tmp / "ema.pt")
        atomic.write_json(tmp / "state.json", {"step": step, "losses": list(losses)})
        if target.exists():  # the same step from an attempt that died before recording it
            _discard(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _discard(path: Path) -> None:
    """Renamed out of the checkpoint names first, then removed: a kill midway leaves no half checkpoint."""
    import secrets

    hidden = path.parent / f".{path.name}.{secrets.token_hex(3)}.old"
    path.rename(hidden)
    shutil.rmtree(hidden, ignore_errors=True)


def _checkpoint_step(path: Path) -> int | None:
    step = path.name.removeprefix("checkpoint-")
    return int(step) if step.isdigit() and (path / "state.json").is_file() else None


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint on disk: the manifest may lag one behind a checkpoint written just
    before a crash, or name one a crash removed."""
    found = (
        [p for p in folder.glob("checkpoint-*") if _checkpoint_step(p) is not None] if folder.is_dir() else []
    )
    return max(found, key=_checkpoint_step) if found else None


def _rotate(folder: Path, keep: Path, limit: int | None) -> None:
    """Keep the newest `limit` checkpoints, `keep` (the one the manifest names) always among them."""
    if not limit:
        return
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if _checkpoint_step(p) is not None), key=_checkpoint_step
    )
    for old in found[:-limit]:
        if old != keep:
            _discard(old)


def checkpoint_weights(checkpoint: Path) -> Path:
    """The trainable weights of a train run's output or checkpoint-<step> folder; one clear error when it
    holds none (checked before any model is built)."""
    weights = checkpoint / "trainable.safetensors"
    if not weights.is_file():
        raise UserError(
            f"{checkpoint} holds no trainable.safetensors; pass a train run's output or checkpoint-<step>."
        )
    return weights


def load_trainable(denoiser, path: Path) -> None:
    """Load trainable weights; a checkpoint of another model or config is one clear error."""
    from safetensors.torch import load_file

    stored = load_file(str(path))
    expected = {k: v.shape for k, v in denoiser.trainable_state_dict().items()}
    if set(stored) != set(expected) or any(stored[k].shape != expected[k] for k in stored):
        missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
        raise UserError(
            f"{path} does not fit this model and config ({len(missing)} weights missing, {len(extra)} unexpected, "
            "or shapes differ); it comes from another model or config."
        )
    denoiser.load_state_dict(stored, strict=False)


def train(config: Config, run, trainee: Trainee, on_step=None) -> dict[str, Any]:
    """Train per config.train; resumes from the run's last checkpoint."""
    from accelerate import Accelerator

    cfg = config.train
    # Mixed precision is a GPU setting, except that frozen half-precision weights need autocast anywhere.
    mixed = cfg.mixed_precision if torch.cuda.is_available() or cfg.frozen_dtype != "float32" else "no"
    accelerator = Accelerator(cpu=config.device == "cpu", mixed_precision=mixed)
    dataset = open_dataset(config, config.data.train_split)
    if config.data.num_ref_frames >= config.data.num_frames:
        raise UserError("data.num_ref_frames leaves no frame to predict.")
    denoiser = trainee.model.to(accelerator.device)
    for module in trainee.frozen:
        module.to(accelerator.device)
    speed.apply(cfg, denoiser, list(trainee.frozen))
    trainable = [p for p in denoiser.parameters() if p.requires_grad]
    optimizer, ema = optimizer_for(cfg, trainable)
    denoiser, optimizer = accelerator.prepare(denoiser, optimizer)
    checkpoints = run.path / "checkpoints"
    start = 0
    losses: list[float] = []
    last = latest_checkpoint(checkpoints)
    if last is not None:
        load_trainable(accelerator.unwrap_model(denoiser), last / "trainable.safetensors")
        optimizer.load_state_dict(torch.load(last / "optimizer.pt", weights_only=True))
        stored = json.loads((last / "state.json").read_text())
        start = stored["step"]
        losses = list(stored.get("losses", run.state.get("losses", [])))[:start]  # later steps are redone
        if ema is not None:
            ema.load_state_dict(
                torch.load(last / "ema.pt", map_location=accelerator.device, weights_only=True)
            )
        if accelerator.is_main_process and run.state.get("checkpoint") != str(last):
            run.update_state(step=start, checkpoint=str(last), losses=list(losses))  # the manifest caught up
    set_rate(optimizer, cfg, start)
    for step in track(
        range(start, cfg.max_steps), f"training {config.model.name}", total=cfg.max_steps - start
    ):
        # Process r > 0 of several draws its own clips and noise; process 0 draws as a single process does.
        generator = step_generator(config.seed + 7919 * accelerator.process_index, step)
        clips = []
        while len(clips) < cfg.batch_size_per_device:
            index = int(torch.randint(len(dataset.refs), (1,), generator=generator))
            clip = dataset.try_load(dataset.refs[index])
            if hasattr(clip, "frames"):
                clips.append(clip)
        with accelerator.autocast():
            loss = trainee.loss(clips, generator)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        set_rate(optimizer, cfg, done)
        if ema is not None:
            ema.step(trainable)
        losses.append(float(loss.detach()))
        if (done % cfg.checkpoint_every == 0 or done == cfg.max_steps) and accelerator.is_main_process:
            path = _save_checkpoint(
                checkpoints, accelerator.unwrap_model(denoiser), optimizer, done, losses, ema
            )
            if cfg.validation_clips and trainee.previews is not None:
                with accelerator.autocast():  # frozen half-precision weights need it
                    validation_previews(
                        config, trainee.previews(), denoiser, run.path / "validation" / f"step-{done}"
                    )
            run.update_state(step=done, checkpoint=str(path), losses=list(losses))
            _rotate(
                checkpoints, path, cfg.checkpoints_total_limit
            )  # only once the manifest names the new one
        if done % cfg.checkpoint_every == 0 or done == cfg.max_steps:
            accelerator.wait_for_everyone()  # no process runs ahead of a checkpoint being written
        if on_step is not None:
            on_step(done, losses[-1])
    if not accelerator.is_main_process:  # the weights are the main process's (DDP keeps them equal)
        return {"output": str(run.path / "output"), "final_loss": losses[-1] if losses else None}
    if ema is not None:
        ema.copy_to(trainable)  # the output holds the averaged weights
    return write_output(run.path / "output", accelerator.unwrap_model(denoiser), config, losses)


def validation_previews(config: Config, generate, model: torch.nn.Module, folder: Path) -> list[Path]:
    """Sample the first `train.validation_clips` clips of the evaluation split with fixed seeds; mp4 previews
    (the true clip, then the prediction) so a person can watch training progress."""
    dataset = open_dataset(config, config.data.eval_split)
    dataset.refs = dataset.refs[: config.train.validation_clips]
    written = []
    model.eval()
    try:
        for clip in dataset:
            context = Context.of(clip, sample_seed(config.seed, clip.clip_id))
            video = frames_of(generate(context), context, config.model.name)
            frames = np.concatenate([clip.frames, video])
            written.append(write_video(folder / f"{clip.clip_id}.mp4", frames, fps=4))
    finally:
        model.train()
    return written


def write_output(folder: Path, denoiser, config: Config, losses: list[float]) -> dict[str, Any]:
    """The trained model: trainable weights (safetensors), the config, a model card."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in denoiser.trainable_state_dict().items()},
        folder / "trainable.safetensors",
    )
    atomic.write_json(folder / "config.json", config.to_dict())
    trainable = sum(v.numel() for v in denoiser.trainable_state_dict().values())
    atomic.write_text(
        folder / "README.md",
        f"# {config.model.name} checkpoint\n\nTrained by aidbench on {config.data.dataset} "
        f"({config.data.train_split}), {config.train.max_steps} steps, seed {config.seed}, model size "
        f"{config.model.size}.\nHolds the {trainable:,} trainable parameters; the frozen weights load from "
        f"their own files. Final training loss {losses[-1]:.4f}.\n",
    )
    return {
        "output": str(folder),
        "trainable_parameters": trainable,
        "final_loss": losses[-1] if losses else None,
    }
