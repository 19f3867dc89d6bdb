"""seer: Seer (Gu et al., ICLR 2024), the text-guided video prediction baseline of the paper's tables, trained
and sampled here as Seer's code does it.

Model: SD 1.5's UNet inflated over time with causal temporal attention (seer_unet.py), its VAE frame by
frame (latents × its scaling factor 0.18215), its CLIP ViT-L/14 text encoder, and the FSText decomposer
(seer_text.py) turning the instruction into one sub-instruction per frame for the UNet's cross-attention.

Training (Seer's train.py): the reference frames' latents go in clean before the noised latents of the
frames to predict; timesteps uniform on 0…999 with SD 1.5's noise schedule; the UNet predicts the noise
(ε, SD 1.5's prediction type) and the loss is the MSE on the predicted frames only. Only the temporal
layers and FSText train; SD 1.5's layers stay frozen (model.seer.train_spatial trains them too, for tiny
models without image pretraining). model.seer.text_loss adds FSText's initialisation loss.

Sampling (Seer's inference defaults): DDIM, 30 steps (sample.num_inference_steps), η = 0, SD 1.5's
"leading" timesteps with offset 1 (the same timesteps as Seer's LDM sampler), text guidance 7.5
(sample.seer_guidance_scale) against the empty text's CLIP features repeated for every frame (not passed
through FSText, as Seer does); the initial noise and the VAE's posterior sample come from the clip's seed.

Weights: `sd15` (the diffusers folder, full or fp16 safetensors), `seer-fstext-init` (FSText's
initialisation checkpoint) and, with model.seer.init released, `seer` (a fine-tune's
learned_sdunet-steps-N folder: pytorch_model.bin for the UNet, pytorch_model_1.bin for FSText), read with
torch.load(weights_only=True) and loaded strictly. Tiny and smoke sizes need no files: a two-level UNet in
SD 1.5's layout, a two-layer FSText, and the smoke options (`model.latent_space: pixels`,
`model.text_tower: words`) as for AID.

Departures: training uses the shared loop's settings (train.*: AdamW, constant rate after its warm-up, no
gradient clipping), where Seer clips gradients at 0.3 and decays its rate on a cosine; set them per
preset. Seer's text encoder reads SD 1.5's tokenizer; at tiny sizes open_clip's copy of the same BPE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aidbench import distributed, weights
from aidbench.baselines.seer_text import RELEASED_FRAMES, FSText, initialisation_loss
from aidbench.baselines.seer_unet import SD15_UNET, SeerUNet, small_unet_config
from aidbench.data.clips import from_model, quantisation, to_model
from aidbench.data.open import open_dataset
from aidbench.errors import UserError
from aidbench.stages.sample import sample_clips
from aidbench.systems import System

# SD 1.5's scheduler/scheduler_config.json as published (a PNDMScheduler's; DDIM reads the same fields).
SD15_SCHEDULER: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
# SD 1.5's vae/config.json and CLIP ViT-L/14's text_encoder/config.json as published, their model arguments.
SD15_VAE: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
CLIP_VIT_L14_TEXT: dict[str, Any] = {
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "intermediate_size": 3072,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
    "vocab_size": 49408,
}
SD15_FILES = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "model"}
SD15_SOURCE = "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5"
SMALL_WIDTH = 32  # text features and cross-attention at tiny and smoke sizes


class SeerModel(nn.Module):
    """What trains: the inflated UNet (its temporal layers) and FSText."""

    def __init__(self, unet: SeerUNet, fstext: FSText):
        super().__init__()
        self.unet, self.fstext = unet, fstext

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}


class FrameLatents(nn.Module):
    """Seer's latent space: SD 1.5's VAE applied frame by frame, latents scaled by its scaling factor; or,
    with no VAE ([smoke] `model.latent_space: pixels`), the frames themselves."""

    def __init__(self, vae=None):
        super().__init__()
        self.vae = vae

    def encode(self, frames: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """frames (B, T, 3, H, W) in [-1, 1] → latents (B, C, T, h, w), a posterior sample as Seer draws."""
        if self.vae is None:
            return frames.transpose(1, 2)
        b, t = frames.shape[:2]
        posterior = self.vae.encode(frames.flatten(0, 1).to(self.vae.dtype)).latent_dist
        z = posterior.sample(generator).float() * self.vae.config.scaling_factor
        return z.unflatten(0, (b, t)).transpose(1, 2)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, C, T, h, w) → frames (B, T, 3, H, W) in [-1, 1]."""
        if self.vae is None:
            return latents.transpose(1, 2).clamp(-1, 1)
        b, t = latents.shape[0], latents.shape[2]
        z = latents.transpose(1, 2).flatten(0, 1) / self.vae.config.scaling_factor
        frames = self.vae.decode(z.to(self.vae.dtype)).sample.float().clamp(-1, 1)
        return frames.unflatten(0, (b, t))


class ClipText(nn.Module):
    """SD 1.5's CLIP text encoder: an instruction's last hidden state, 77 tokens (Seer's text features)."""

    def __init__(self, encoder, tokenize):
        super().__init__()
        self.encoder, self.tokenize = encoder.eval().requires_grad_(False), tokenize

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        ids, mask = self.tokenize(texts)
        device = next(self.encoder.parameters()).device
        return self.encoder(ids.to(device), attention_mask=mask.to(device))[0].float()


def _hf_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"), local_files_only=True)

    def tokenize(texts):
        out = tokenizer(
            texts,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        return out.input_ids, out.attention_mask

    return tokenize


def _openclip_tokenizer():
    """OpenAI CLIP's BPE as open_clip ships it (SD 1.5's vocabulary, offline), padded with the end-of-text
    token as SD 1.5's tokenizer pads."""
    import open_clip

    tokenizer = open_clip.get_tokenizer("ViT-L-14")
    end_of_text = tokenizer.eot_token_id

    def tokenize(texts):
        ids = tokenizer(texts)
        end = (ids == end_of_text).long().argmax(dim=-1)
        mask = (torch.arange(ids.shape[1])[None] <= end[:, None]).long()
        return ids.masked_fill(mask == 0, end_of_text), mask

    return tokenize


@dataclass
class SeerParts:
    model: SeerModel
    latents: FrameLatents
    text: nn.Module
    scheduler_config: dict[str, Any]

    def frozen_to(self, device) -> SeerParts:
        self.latents.to(device)
        self.text.to(device)
        return self


def _architecture(config) -> tuple[dict[str, Any], dict[str, int]]:
    """The UNet's config and FSText's arguments at a config's size: SD 1.5's and Seer's at the paper's,
    SD 1.5's layout at test widths at tiny and smoke sizes."""
    if config.model.size == "paper":
        return SD15_UNET, {"width": CLIP_VIT_L14_TEXT["hidden_size"]}
    channels = 3 if config.model.latent_space == "pixels" else 4
    return small_unet_config(channels, SMALL_WIDTH), {"width": SMALL_WIDTH, "heads": 2, "layers": 2}


def _small(config) -> SeerParts:
    """Tiny and smoke sizes: SD 1.5's layout at test widths, random weights seeded by config.seed."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from aidbench.model.text import WordFeatures

    pixels = config.model.latent_space == "pixels"
    unet_config, fstext_args = _architecture(config)
    torch.manual_seed(config.seed)
    unet = UNet2DConditionModel(**unet_config)
    torch.manual_seed(config.seed + 1)
    vae = (
        None
        if pixels
        else AutoencoderKL(
            block_out_channels=(32, 32),
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            latent_channels=4,
            layers_per_block=1,
        )
    )
    if config.model.text_tower == "words":
        text: nn.Module = WordFeatures(SMALL_WIDTH)
    else:
        torch.manual_seed(config.seed + 2)
        encoder = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=SMALL_WIDTH,
                intermediate_size=64,
                num_attention_heads=2,
                num_hidden_layers=1,
                projection_dim=SMALL_WIDTH,
            )
        )
        text = ClipText(encoder, _openclip_tokenizer())
    torch.manual_seed(config.seed + 3)
    inflated = SeerUNet(unet)
    fstext = FSText(**fstext_args)
    return SeerParts(SeerModel(inflated, fstext), FrameLatents(vae), text, dict(SD15_SCHEDULER))


def load_sd15(folder: Path):
    """SD 1.5's UNet, VAE and text encoder from its diffusers folder (full or fp16 safetensors, in float32)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    from aidbench.model.components import published_variant, quiet_loading

    variant = published_variant(folder, SD15_FILES, SD15_SOURCE)
    quiet_loading()
    common = {"local_files_only": True, "use_safetensors": True, "variant": variant}
    unet = UNet2DConditionModel.from_pretrained(
        str(folder), subfolder="unet", torch_dtype=torch.float32, **common
    )
    vae = AutoencoderKL.from_pretrained(str(folder), subfolder="vae", torch_dtype=torch.float32, **common)
    encoder = CLIPTextModel.from_pretrained(
        str(folder), subfolder="text_encoder", torch_dtype=torch.float32, **common
    )
    scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    return unet, vae, ClipText(encoder, _hf_tokenizer(folder)), scheduler


# Entries of rotary_embedding_torch's state that some of its versions save and none of them trains.
_ROTARY_CACHES = (".cached_freqs", ".cached_scales", ".dummy")


def load_pickled_state(module: nn.Module, path: Path, what: str) -> None:
    """A PyTorch state-dict file (read with weights_only: no code runs) loaded strictly into `module`;
    a file of another layout is one sentence naming the first keys it lacks or adds."""
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any damage or a non-tensor pickle: one sentence
        raise UserError(f"{path} is not a PyTorch state-dict file ({str(err).splitlines()[0]}).") from None
    if not isinstance(stored, dict):
        raise UserError(f"{path} holds a {type(stored).__name__}, not a state dict of {what}.")
    stored = {k.removeprefix("module."): v for k, v in stored.items() if not k.endswith(_ROTARY_CACHES)}
    expected = module.state_dict()
    fixed = {k for k in expected if k.endswith("rotary_emb.freqs")}  # fixed frequencies, ours if absent
    missing = sorted(set(expected) - set(stored) - fixed)
    extra = sorted(set(stored) - set(expected))
    shapes = sorted(k for k in set(stored) & set(expected) if stored[k].shape != expected[k].shape)
    if missing or extra or shapes:
        first = lambda keys: ", ".join(keys[:3]) + (" …" if len(keys) > 3 else "")  # noqa: E731
        parts = [f"{len(missing)} missing ({first(missing)})"] if missing else []
        parts += [f"{len(extra)} unexpected ({first(extra)})"] if extra else []
        parts += [f"{len(shapes)} of another shape ({first(shapes)})"] if shapes else []
        raise UserError(f"{path} does not fit {what}: {'; '.join(parts)} keys.")
    module.load_state_dict({**{k: expected[k] for k in fixed}, **stored}, strict=True)


def _random_sd15(config) -> SeerParts:
    """SD 1.5's architectures at random (`aidbench bench`: timing needs no download)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet_config, fstext_args = _architecture(config)
    torch.manual_seed(config.seed)
    vae = AutoencoderKL(**SD15_VAE)
    encoder = CLIPTextModel(CLIPTextConfig(**CLIP_VIT_L14_TEXT))
    inflated = SeerUNet(UNet2DConditionModel(**unet_config))
    fstext = FSText(**fstext_args)
    return SeerParts(SeerModel(inflated, fstext), FrameLatents(vae), ClipText(encoder, _openclip_tokenizer()),
                     dict(SD15_SCHEDULER))  # fmt: skip


def build(config, random_weights: bool = False) -> SeerParts:
    """Seer for a config: tiny and smoke sizes at random, or SD 1.5 inflated with FSText from Seer's
    initialisation checkpoint, or (model.seer.init released) Seer's own fine-tune; with `random_weights`
    the paper's architectures at random."""
    seer = config.model.seer
    if config.model.size != "paper":
        parts = _small(config)
    elif random_weights:
        parts = _random_sd15(config)
    else:
        unet, vae, text, scheduler = load_sd15(weights.resolve_for(config, "sd15"))
        torch.manual_seed(config.seed)
        inflated = SeerUNet(unet)
        fstext = FSText(text.encoder.config.hidden_size)
        if seer.init == "released":
            folder = weights.resolve_for(config, "seer")
            load_pickled_state(inflated.unet, folder / "pytorch_model.bin", "Seer's inflated UNet")
            load_pickled_state(fstext, folder / "pytorch_model_1.bin", "Seer's FSText")
        elif seer.fstext_init:
            load_pickled_state(fstext, weights.resolve_for(config, "seer-fstext-init"), "Seer's FSText")
        parts = SeerParts(SeerModel(inflated, fstext), FrameLatents(vae), text, scheduler)
    parts.model.requires_grad_(False)
    parts.latents.requires_grad_(False).eval()
    return parts


def trainable(model: SeerModel, config) -> SeerModel:
    """Mark what trains: the temporal layers and FSText (and with train_spatial the rest of the UNet), never
    the fixed rotary frequencies."""
    if config.model.seer.train_spatial:
        model.unet.requires_grad_(True)
    for p in model.unet.temporal_parameters():
        p.requires_grad_(True)
    model.fstext.requires_grad_(True)
    for name, p in model.named_parameters():
        if name.endswith("rotary_emb.freqs"):
            p.requires_grad_(False)
    return model


def _scheduler(parts: SeerParts, ddim: bool = False):
    from diffusers import DDIMScheduler, DDPMScheduler

    return (DDIMScheduler if ddim else DDPMScheduler).from_config(parts.scheduler_config)


class SeerObjective:
    """Seer's training loss; all randomness from the step's generator."""

    def __init__(self, parts: SeerParts, config):
        self.parts, self.config = parts, config
        self.noise = _scheduler(parts)

    def __call__(self, clips: list, generator: torch.Generator) -> torch.Tensor:
        model, seer = self.parts.model, self.config.model.seer
        device = next(model.parameters()).device
        frames = to_model(np.stack([c.frames for c in clips])).to(device)
        b, t = frames.shape[:2]
        k = clips[0].num_ref_frames
        drop = torch.rand(b, generator=generator) < seer.text_dropout
        with torch.no_grad():
            latents = self.parts.latents.encode(frames, generator)
            text = self.parts.text([c.instruction for c in clips])
        sub = model.fstext(text, t)
        context = sub
        if seer.text_dropout:
            with torch.no_grad():
                empty = self.parts.text([""])
            context = torch.where(drop.to(device)[:, None, None, None], empty[:, None], sub)
        future = latents[:, :, k:]
        noise = torch.randn(future.shape, generator=generator).to(device)
        steps = self.noise.config.num_train_timesteps
        timesteps = torch.randint(0, steps, (b,), generator=generator).to(device)
        noisy = self.noise.add_noise(future, noise, timesteps)
        predicted = model.unet(torch.cat([latents[:, :, :k], noisy], dim=2), timesteps, context, k)[:, :, k:]
        loss = F.mse_loss(predicted.float(), noise)
        if seer.text_loss:
            loss = loss + initialisation_loss(sub.float(), text)
        return loss


def generator_for(config, parts: SeerParts):
    """predict(context) → uint8 (T − K, H, W, 3): DDIM with text guidance, as Seer samples."""
    model = parts.model
    steps, scale = config.sample.num_inference_steps, config.sample.seer_guidance_scale
    prior = config.sample.seer_reference_prior

    @torch.no_grad()
    def generate(context):
        device = next(model.parameters()).device
        generator = context.generator()
        t, k = context.num_frames, context.num_ref_frames
        reference = to_model(context.reference[None]).to(device)
        held = parts.latents.encode(reference, generator)
        sub = model.fstext(parts.text([context.instruction]), t)
        shape = (1, held.shape[1], t - k, *held.shape[3:])
        x = torch.randn(shape, generator=generator).to(device)
        guided = scale != 1.0
        if guided:  # the empty text's features at every frame are the unconditional branch
            sub = torch.cat([parts.text([""])[:, None].expand_as(sub), sub])
        scheduler = _scheduler(parts, ddim=True)
        scheduler.set_timesteps(steps)
        if prior:  # [smoke] start from the last reference frame noised to the first timestep
            alpha = scheduler.alphas_cumprod[int(scheduler.timesteps[0])].to(device)
            x = alpha.sqrt() * held[:, :, -1:].expand_as(x) + (1 - alpha).sqrt() * x
        for step in scheduler.timesteps:
            latents = torch.cat([held, x], dim=2)
            if guided:
                latents = latents.repeat(2, 1, 1, 1, 1)
            timestep = torch.full((latents.shape[0],), int(step), device=device)
            with torch.autocast("cuda", torch.float16, enabled=device.type == "cuda"):  # Seer samples in fp16
                eps = model.unet(latents, timestep, sub, k)[:, :, k:].float()
            if guided:
                uncond, cond = eps.chunk(2)
                eps = uncond + scale * (cond - uncond)
            x = scheduler.step(eps, step, x).prev_sample
        predicted = parts.latents.decode(x)[0]
        return from_model(predicted, quantisation(config.data))

    return generate


def train(config, run, on_step=None) -> dict[str, Any]:
    from aidbench.stages.train import Trainee
    from aidbench.stages.train import train as run_training

    parts = build(config)
    model = trainable(parts.model, config)
    parts.frozen_to(distributed.state(config.device == "cpu").device)
    trainee = Trainee(
        model, SeerObjective(parts, config), (parts.latents, parts.text), lambda: generator_for(config, parts)
    )
    return run_training(config, run, trainee, on_step)


def sample(config, run, checkpoint, split) -> dict[str, Any]:
    """A train run's checkpoint of ours, or (model.seer.init released, no checkpoint) Seer's own fine-tune."""
    from aidbench.stages.train import checkpoint_weights, load_trainable

    about = {"system": "seer"}
    path = checkpoint_weights(checkpoint) if checkpoint is not None else None  # before any model is built
    parts = build(config)
    if path is not None:
        load_trainable(trainable(parts.model, config), path)
        about["checkpoint"] = str(checkpoint)
    else:
        about["weights"] = "released"
    state = distributed.state(config.device == "cpu")
    parts.frozen_to(state.device).model.to(state.device).eval()
    return sample_clips(config, run, split, generator_for(config, parts), state, lambda context: about)


def released(config) -> bool:
    """Seer's own fine-tune samples without a train run of ours."""
    return config.model.seer.init == "released"


def check(config, split) -> None:
    """Before any run starts: the weights this config reads (paper size) and a readable split."""
    if config.model.size == "paper":
        names = ["sd15"]
        if config.model.seer.init == "released":
            names.append("seer")
        elif config.model.seer.fstext_init:
            names.append("seer-fstext-init")
        for name in names:
            weights.resolve_for(config, name)
    elif config.model.seer.init == "released":
        raise UserError(
            "model.seer.init released needs model.size paper (Seer's fine-tunes are SD 1.5-sized)."
        )
    open_dataset(config, split)


def parameters(config) -> dict[str, Any]:
    """Counts on the meta device: SD 1.5's UNet (frozen unless train_spatial), the temporal layers and FSText,
    trained as `trainable` marks them; the VAE and text encoder are frozen and not counted, as Seer's paper
    counts."""
    from diffusers import UNet2DConditionModel

    unet_config, fstext_args = _architecture(config)
    with torch.device("meta"):
        model = SeerModel(SeerUNet(UNet2DConditionModel(**unet_config)), FSText(**fstext_args))
    trainable(model.requires_grad_(False), config)
    temporal = set(map(id, model.unet.temporal_parameters()))
    groups = {
        "spatial UNet (SD 1.5)": [p for p in model.unet.parameters() if id(p) not in temporal],
        "temporal attention": model.unet.temporal_parameters(),
        f"FSText ({RELEASED_FRAMES}-frame position table)": list(model.fstext.parameters()),
    }
    components = {
        name: {
            "total": sum(p.numel() for p in group),
            "trainable": sum(p.numel() for p in group if p.requires_grad),
        }
        for name, group in groups.items()
    }
    return {
        "model": "seer",
        "total": sum(c["total"] for c in components.values()),
        "trainable": sum(c["trainable"] for c in components.values()),
        "components": components,
    }


SEER = System("seer", parameters=parameters, train=train, sample=sample, check=check, ready=released)
