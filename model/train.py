"""`aidbench train aid`: AID's training on accelerate, resumable to the exact step.

Each step draws its batch, noise levels, noise and condition dropout from a generator seeded by
(run seed, step) alone, so a run resumed from `checkpoint-<step>` continues exactly as if it had never
stopped, whatever the number of processes. A checkpoint holds only what trains (adapters, DQFormer,
cross-attention: safetensors) and the optimizer state; the frozen SVD weights come from their own files.
Condition dropout [ours, as InstructPix2Pix]: 5% of clips lose the text condition, 5% the visual one,
5% both, so dual guidance has its unconditional branches.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aidbench.config import Config
from aidbench.data.clips import to_model
from aidbench.errors import UserError
from aidbench.model import speed
from aidbench.model.components import AIDComponents
from aidbench.model.edm import EDMLoss, reference_conditioning

FPS, MOTION_BUCKET, NOISE_AUG = 7, 127, 0.02  # SVD's micro-conditioning defaults


@dataclass(frozen=True)
class ConditionDropout:
    text: float = 0.05
    visual: float = 0.05
    both: float = 0.05


@functools.lru_cache(maxsize=8)
def _resize_maps(height: int, width: int, size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """SVD's resize to size² (diffusers' `_resize_with_antialiasing`: a Gaussian blur, then bicubic) is
    linear and separable, so it is two fixed matrices for an input size, read off by resizing the
    identity one axis at a time (the other axis kept, where the resize is exactly the identity)."""
    from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
        _resize_with_antialiasing,
    )

    def along_height(n: int, keep: int) -> torch.Tensor:
        basis = torch.eye(n, dtype=torch.float64).view(n, 1, n, 1).expand(n, 1, n, keep).contiguous()
        return _resize_with_antialiasing(basis, (size, keep))[:, 0, :, 0].T  # (size, n)

    return along_height(height, 4).float().to(device), along_height(width, 4).float().to(device)


def first_frame_embedding(svd, frames: torch.Tensor) -> torch.Tensor:
    """SVD's CLIP image embedding of frames in [-1, 1] (B, 3, H, W) → (B, 1, C), as its pipeline computes it
    (resize to 224², to [0, 1], CLIP's normalisation), with the resize as two matrix products: the
    bicubic kernel alone cost a small training step a tenth of its time."""
    rows, cols = _resize_maps(*frames.shape[-2:], 224, str(frames.device))
    processor = svd.feature_extractor
    # (x + 1) / 2 to [0, 1], then CLIP's (· − mean) / std, as one scale and shift per channel
    std = torch.tensor(processor.image_std, device=frames.device).view(1, 3, 1, 1)
    mean = torch.tensor(processor.image_mean, device=frames.device).view(1, 3, 1, 1)
    pixels = torch.addcmul((0.5 - mean) / std, rows @ frames.float() @ cols.T, 0.5 / std)
    encoder = svd.image_encoder
    return encoder(pixels.to(next(encoder.parameters()).dtype)).image_embeds[:, None]


class StateSource:
    """The four state sentences of a clip: synthtvp's ground truth, or the state cache."""

    def __init__(self, config: Config, dataset_root: Path | None):
        from aidbench.data import states

        self.kind = config.model.mcondition.states_source
        self.records: dict[str, Any] = {}
        if not config.model.mcondition.use_states:
            self.kind = "none"
        elif self.kind == "cache":
            path = Path(config.model.mcondition.states_cache or (dataset_root or Path(".")) / "states.jsonl")
            self.records = states.read(path).records
        elif config.data.dataset != "synthtvp":
            raise UserError(
                "model.mcondition.states_source=oracle exists only for synthtvp; use the state cache."
            )

    def __call__(self, clip) -> list[str] | None:
        if self.kind == "none":
            return None
        if self.kind == "oracle":
            from aidbench.data import synthtvp

            meta = clip.meta
            return synthtvp.episode(
                meta["seed"], meta["split"], meta["index"], meta.get("task", "full")
            ).state_sentences()
        record = self.records.get(clip.clip_id)
        if record is None:
            raise UserError(
                f"no MLLM states for clip {clip.clip_id} in the state cache; run `aidbench data states`."
            )
        return list(record.states)


@dataclass
class EncodedClips:
    """A batch as the denoiser's training sees it (frozen encoders, no gradients)."""

    latents: torch.Tensor  # (B, T, 4, h, w), scaled by the VAE's scaling factor
    references: torch.Tensor  # (B, K, 4, h, w), noise-augmented as SVD conditions
    visual: torch.Tensor  # (B, 1, C) the first frame's CLIP embedding
    num_reference: int


@torch.no_grad()
def encode_clips(svd, clips: list, generator: torch.Generator, device) -> EncodedClips:
    frames = to_model(np.stack([c.frames for c in clips])).to(device)
    b, t = frames.shape[:2]
    k = clips[0].num_ref_frames
    latents = svd.vae.encode(frames.flatten(0, 1)).latent_dist.mode().unflatten(0, (b, t))
    noise = torch.randn(frames[:, :k].shape, generator=generator).to(device)
    references = svd.vae.encode((frames[:, :k] + NOISE_AUG * noise).flatten(0, 1)).latent_dist.mode()
    return EncodedClips(
        latents * svd.vae.config.scaling_factor,
        references.unflatten(0, (b, k)),
        first_frame_embedding(svd, frames[:, 0]),
        k,
    )


def svd_time_ids(batch: int, device) -> torch.Tensor:
    """SVD's micro-conditioning (fps − 1, motion bucket, noise augmentation) for a batch."""
    return torch.tensor([[FPS - 1, MOTION_BUCKET, NOISE_AUG]], device=device).repeat(batch, 1)


def denoising_loss(
    edm: EDMLoss, model, encoded: EncodedClips, references: torch.Tensor, generator
) -> torch.Tensor:
    """EDM loss of the batch; `references` are the (possibly dropped) reference latents."""
    b, t = encoded.latents.shape[:2]
    device = encoded.latents.device
    sigma = edm.sample_sigma(b, generator).to(device)
    noise = torch.randn(encoded.latents.shape, generator=generator).to(device)
    condition = reference_conditioning(references, t)
    return edm(model, encoded.latents, condition, encoded.num_reference, sigma, noise)


class AIDObjective:
    """The training loss of a batch of clips, all randomness from one generator."""

    def __init__(
        self,
        parts: AIDComponents,
        states: StateSource,
        dropout: ConditionDropout = ConditionDropout(),
        edm: EDMLoss = EDMLoss(),
    ):
        self.parts, self.states, self.dropout, self.edm = parts, states, dropout, edm

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        svd, denoiser, text = self.parts.svd, self.parts.denoiser, self.parts.text_encoder
        device = next(denoiser.parameters()).device
        b = len(clips)
        u = torch.rand(b, generator=generator)
        p = self.dropout
        both = (u >= p.text + p.visual) & (u < p.text + p.visual + p.both)
        drop_text = ((u < p.text) | both).tolist()
        drop_visual = ((u >= p.text) & (u < p.text + p.visual)) | both
        encoded = encode_clips(svd, clips, generator, device)
        with torch.no_grad():
            t1 = text(["" if drop else c.instruction for c, drop in zip(clips, drop_text, strict=True)])
            sentences = [self.states(c) for c in clips]
            t2 = None
            if sentences[0] is not None:
                t2 = text.states(
                    [[""] * 4 if drop else s for s, drop in zip(sentences, drop_text, strict=True)]
                )
        keep = (~drop_visual).to(device, encoded.latents.dtype)
        visual = encoded.visual * keep.view(-1, 1, 1)
        mcondition = denoiser.dqformer(t1, visual, t2, encoded.latents.shape[1])
        ids = svd_time_ids(b, device)
        return denoising_loss(
            self.edm,
            lambda x, c_noise: denoiser(x, c_noise, ids, mcondition=mcondition),
            encoded,
            encoded.references * keep.view(-1, 1, 1, 1, 1),
            generator,
        )


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


def _set_rate(optimizer, cfg, step: int) -> None:
    """The rate of step `step` (0-based): a linear warm-up over train.lr_warmup_steps, then constant."""
    for group in optimizer.param_groups:
        group["lr"] = cfg.learning_rate * min(1.0, (step + 1) / (cfg.lr_warmup_steps + 1))


def _save_checkpoint(folder: Path, denoiser, optimizer, step: int, losses: list[float], ema=None) -> Path:
    """`checkpoint-<step>`, written under a name no other attempt uses and renamed into place when whole:
    a folder named checkpoint-<step> is always complete."""
    import secrets

    from safetensors.torch import save_file

    from aidbench import atomic

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


def train(
    config: Config, run, parts: AIDComponents, on_step=None, objective=None, generate_for=None
) -> dict[str, Any]:
    """Train per config.train (AID unless another objective is given); resumes from the run's last checkpoint.

    generate_for(config, parts) → generate(clip, seed) makes the validation previews (default: AID's sampler).
    """
    from accelerate import Accelerator

    from aidbench.data.open import open_dataset
    from aidbench.progress import track

    cfg = config.train
    # Mixed precision is a GPU setting, except that frozen half-precision weights need autocast anywhere.
    mixed = cfg.mixed_precision if torch.cuda.is_available() or cfg.frozen_dtype != "float32" else "no"
    accelerator = Accelerator(cpu=config.device == "cpu", mixed_precision=mixed)
    dataset = open_dataset(config, config.data.train_split)
    if config.data.num_ref_frames >= config.data.num_frames:
        raise UserError("data.num_ref_frames leaves no frame to predict.")
    objective = objective or AIDObjective(
        parts, StateSource(config, dataset.root), edm=EDMLoss.from_config(cfg)
    )
    generate_for = generate_for or aid_generator
    denoiser = parts.denoiser.to(accelerator.device)
    for module in (parts.svd, parts.text_encoder):
        if module is not None:
            module.to(accelerator.device)
    frozen = (getattr(parts.svd, "vae", None), getattr(parts.svd, "image_encoder", None), parts.text_encoder)
    speed.apply(cfg, denoiser, [m for m in frozen if isinstance(m, torch.nn.Module)])
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
    _set_rate(optimizer, cfg, start)
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
            loss = objective(clips, generator)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        _set_rate(optimizer, cfg, done)
        if ema is not None:
            ema.step(trainable)
        losses.append(float(loss.detach()))
        if (done % cfg.checkpoint_every == 0 or done == cfg.max_steps) and accelerator.is_main_process:
            path = _save_checkpoint(
                checkpoints, accelerator.unwrap_model(denoiser), optimizer, done, losses, ema
            )
            if cfg.validation_clips:
                with accelerator.autocast():  # frozen half-precision weights need it
                    validation_previews(
                        config, generate_for(config, parts), parts, run.path / "validation" / f"step-{done}"
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


def aid_generator(config: Config, parts: AIDComponents):
    """generate(clip, seed) → uint8 clip: AID's sampler with the config's sampling settings."""
    from aidbench.data.clips import quantisation
    from aidbench.data.open import open_dataset
    from aidbench.model.pipeline import AIDPipeline, to_uint8
    from aidbench.model.sample import sampling_settings

    pipeline = AIDPipeline(parts.svd, parts.denoiser, parts.text_encoder)
    settings = sampling_settings(config)
    states = StateSource(config, open_dataset(config, config.data.eval_split).root)

    def generate(clip, seed):
        k, t = clip.num_ref_frames, clip.frames.shape[0]
        generator = torch.Generator().manual_seed(seed)
        frames = pipeline(clip.frames[:k], t, clip.instruction, states(clip), settings, generator)
        return to_uint8(frames, quantisation(config.data))

    generate.states = states
    return generate


def validation_previews(config: Config, generate, parts: AIDComponents, folder: Path) -> list[Path]:
    """Sample the first `train.validation_clips` clips of the evaluation split with fixed seeds; mp4 previews
    (the true clip, then the prediction) so a person can watch training progress."""
    from aidbench.data.open import open_dataset
    from aidbench.data.video import write_video
    from aidbench.model.sample import sample_seed

    dataset = open_dataset(config, config.data.eval_split)
    dataset.refs = dataset.refs[: config.train.validation_clips]
    written = []
    parts.denoiser.eval()
    try:
        for clip in dataset:
            video = generate(clip, sample_seed(config.seed, clip.clip_id))
            frames = np.concatenate([clip.frames, video])
            written.append(write_video(folder / f"{clip.clip_id}.mp4", frames, fps=4))
    finally:
        parts.denoiser.train()
    return written


def write_output(folder: Path, denoiser, config: Config, losses: list[float]) -> dict[str, Any]:
    """The trained model: trainable weights (safetensors), the config, a model card."""
    from safetensors.torch import save_file

    from aidbench import atomic

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
