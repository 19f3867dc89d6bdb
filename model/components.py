"""Everything AID is made of, built for a config: real weights from local files, or tiny random twins.

paper: SVD (diffusers folder: vae, image_encoder, unet, scheduler, feature_extractor) from the `svd`
weights, the CLIP ViT-H/14 text tower from `clip-vit-h14`; tiny: the same classes at test sizes, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aidbench import weights
from aidbench.config import Config
from aidbench.data.open import open_dataset
from aidbench.environment import quiet_loading
from aidbench.errors import UserError
from aidbench.model import encoders
from aidbench.model.aid import AIDDenoiser, build_unet, dqformer_config
from aidbench.model.encoders import TEXT_TOWER
from aidbench.model.text import TextEncoder, WordFeatures, tiny_clip
from aidbench.weights import check_safetensors

TINY_VAE = dict(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2, layers_per_block=1)
TINY_IMAGE_ENCODER = dict(
    hidden_size=32,
    intermediate_size=37,
    num_hidden_layers=1,
    num_attention_heads=2,
    image_size=224,
    patch_size=32,
    projection_dim=32,
)


@dataclass
class AIDComponents:
    svd: object  # diffusers StableVideoDiffusionPipeline (vae, image_encoder, unet, scheduler, feature_extractor)
    denoiser: AIDDenoiser
    text_encoder: TextEncoder


def tiny_svd(seed: int = 0, size: str = "tiny", latent_space: str = "vae"):
    """SVD's classes at test sizes, random and seeded; `latent_space: pixels` swaps the VAE for the identity."""
    from diffusers import AutoencoderKLTemporalDecoder
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from aidbench.model.pixelspace import PixelSpace

    torch.manual_seed(seed)
    vae = AutoencoderKLTemporalDecoder(**TINY_VAE, latent_channels=4)
    if latent_space == "pixels":  # drawn all the same, so the other components' random weights do not move
        vae = PixelSpace()
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_IMAGE_ENCODER))
    return _pipeline(vae, encoder, build_unet(size, latent_space))


def _pipeline(vae, image_encoder, unet):
    """diffusers' SVD pipeline around built components, with SVD's scheduler and image processor."""
    from diffusers import StableVideoDiffusionPipeline
    from transformers import CLIPImageProcessor

    from aidbench.model import edm

    processor = CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224})
    pipe = StableVideoDiffusionPipeline(vae, image_encoder, unet, edm.scheduler(), processor)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def random_svd(seed: int = 0):
    """SVD's real architecture (VAE, CLIP ViT-H/14 image encoder, UNet) with random weights: timing and
    memory need no download. Build it under `torch.device(...)` to initialise on that device."""

    torch.manual_seed(seed)
    return _pipeline(encoders.build_vae(), encoders.build_image_encoder(), build_unet("paper"))


def random_text_encoder() -> TextEncoder:
    import logging

    import open_clip

    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns that no weights were loaded: intended
    return TextEncoder(open_clip.create_model(TEXT_TOWER, pretrained=None))


def svd_for(config: Config, seed: int | None = None, random_weights: bool = False):
    """SVD for a config: the released weights (paper; its architecture with random weights when
    `random_weights`, for benchmarks) or the tiny twin, with `model.base_weights` (a pretrained base UNet,
    smoke) loaded over the UNet when given."""

    seed = config.seed if seed is None else seed
    model = config.model
    if model.size == "paper" and random_weights:
        svd = random_svd(seed)
    elif model.size == "paper":
        svd = load_svd(weights.resolve_for(config, "svd"))
    else:
        svd = tiny_svd(seed, model.size, model.latent_space)
    if model.base_weights:
        load_base_unet(svd.unet, model.base_weights)
    return svd


def load_base_unet(unet, path) -> None:
    """A base pretraining run's UNet weights (its `unet.*` trainable weights) into `unet`; a mismatch is
    one clear error."""
    from pathlib import Path

    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / "trainable.safetensors"
    if not path.is_file():
        raise UserError(f"model.base_weights {path} does not exist; run the base pretraining stage first.")
    stored = {k.removeprefix("unet."): v for k, v in load_file(str(path)).items()}
    expected = unet.state_dict()
    if set(stored) != set(expected) or any(stored[k].shape != expected[k].shape for k in stored):
        raise UserError(
            f"model.base_weights {path} is not a UNet of this size and latent space; "
            "it comes from another config."
        )
    unet.load_state_dict(stored)


# The weight files of SVD's diffusers folder, as Stability publishes it: full precision, an fp16 variant, or both.
SVD_FILES = {
    "unet": "diffusion_pytorch_model",
    "vae": "diffusion_pytorch_model",
    "image_encoder": "model",
}


def svd_variant(folder) -> str | None:
    """SVD's variant (published_variant)."""
    return published_variant(
        folder, SVD_FILES, "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid"
    )


def published_variant(folder, files: dict[str, str], source: str) -> str | None:
    """Which variant of a diffusers folder to read: None when every part (`files`: part → file stem) has its
    full-precision safetensors, "fp16" when some part has only its fp16 variant; a part with neither (or only
    a pickled `.bin`) is one clear error naming `source`."""
    from pathlib import Path

    folder, variant = Path(folder), None
    for part, stem in files.items():
        full, half = folder / part / f"{stem}.safetensors", folder / part / f"{stem}.fp16.safetensors"
        if full.is_file():
            continue
        if not half.is_file():
            raise UserError(
                f"{folder / part} holds neither {full.name} nor {half.name}; aidbench reads safetensors "
                f"files only (a .bin file is a pickle): download them from {source}."
            )
        variant = "fp16"
    for part, stem in files.items():  # the files diffusers will read
        half = folder / part / f"{stem}.fp16.safetensors"
        check_safetensors(half if variant and half.is_file() else folder / part / f"{stem}.safetensors")
    return variant


def load_svd(folder):
    """SVD from its diffusers folder: full precision or the fp16 variant alone, safetensors only, every part
    in float32 whatever `torch_dtype` its config.json carries (the device and train.frozen_dtype decide the
    computation's precision, later)."""
    from diffusers import StableVideoDiffusionPipeline

    variant = svd_variant(folder)
    quiet_loading()
    pipe = StableVideoDiffusionPipeline.from_pretrained(
        str(folder), local_files_only=True, use_safetensors=True, variant=variant, dtype=torch.float32
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_text_encoder(path) -> TextEncoder:
    """The CLIP ViT-H/14 text tower from LAION's open_clip file (`open_clip_model.safetensors` or
    `open_clip_pytorch_model.bin`, the latter read with weights_only), in the architecture of the
    `open_clip_config.json` published beside it (else ViT-H-14's), loaded strictly in float32."""
    import json
    from pathlib import Path

    import open_clip

    path = Path(path)
    config = path.parent / "open_clip_config.json"
    if not config.is_file():
        return TextEncoder(open_clip.create_model(TEXT_TOWER, pretrained=str(path)))
    try:
        model_cfg = json.loads(config.read_text())["model_cfg"]
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{config} is not open_clip's config file ({err}).") from None
    if path.suffix == ".safetensors":
        weights.check_safetensors(path)
    model = open_clip.model.CLIP(**model_cfg)
    try:
        open_clip.load_checkpoint(model, str(path), strict=True, weights_only=True)
    except (RuntimeError, OSError, ValueError) as err:
        raise UserError(f"{path} does not match {config} ({str(err).splitlines()[0]}).") from None
    return TextEncoder(model.float())


def build(config: Config, seed: int | None = None, random_weights: bool = False) -> AIDComponents:
    """AID for a config; `model.size: tiny` needs no weights (random, seeded by `seed` or config.seed), nor
    does `random_weights` (the paper's architecture for benchmarks)."""

    seed = config.seed if seed is None else seed
    model = config.model
    if model.size == "paper":
        svd = svd_for(config, seed, random_weights)
        text = (
            random_text_encoder()
            if random_weights
            else load_text_encoder(weights.resolve_for(config, "clip-vit-h14"))
        )
    else:
        svd = svd_for(config, seed)
        torch.manual_seed(seed + 1)
        width = svd.unet.config.cross_attention_dim
        text = TextEncoder(tiny_clip(width)) if model.text_tower == "clip" else WordFeatures(width)
    for frozen in (svd.vae, svd.image_encoder):
        frozen.requires_grad_(False).eval()
    settings = model.mcondition
    dq = dqformer_config(settings, model.size, svd.unet.config.cross_attention_dim, config.data.num_frames)
    torch.manual_seed(seed + 2)
    denoiser = AIDDenoiser(svd.unet, model.adapters, dq, model.train_cross_attention, model.full_finetune)
    return AIDComponents(svd, denoiser, text)


def preflight(config: Config, split: str) -> None:
    """The clear errors, before any run folder or heavy work: missing or unreadable weights, a dataset that
    cannot be read, a missing state cache."""
    from pathlib import Path

    if config.model.size == "paper":
        svd_variant(weights.resolve_for(config, "svd"))  # SVD's files, readable, before anything loads
        weights.resolve_for(config, "clip-vit-h14")
    dataset = open_dataset(config, split)
    settings = config.model.mcondition
    if config.model.name == "aid" and settings.use_states and settings.states_source == "cache":
        cache = Path(settings.states_cache or (dataset.root or Path(".")) / "states.jsonl")
        if not cache.is_file():
            raise UserError(
                f"no state cache at {cache}: run `aidbench data states --dataset {config.data.dataset}` "
                "first, or set model.mcondition.use_states=false."
            )
