"""The frozen parts around the denoiser, as architectures (weights load from local files elsewhere):
SVD's VAE and CLIP ViT-H/14 image encoder, and the CLIP ViT-H/14 text tower for instructions and states."""

from __future__ import annotations

# stabilityai/stable-video-diffusion-img2vid: vae/config.json and image_encoder/config.json
SVD_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    sample_size=768,
    scaling_factor=0.18215,
)
SVD_IMAGE_ENCODER = dict(
    hidden_size=1280,
    intermediate_size=5120,
    num_hidden_layers=32,
    num_attention_heads=16,
    patch_size=14,
    image_size=224,
    projection_dim=1024,
    hidden_act="gelu",
)
TEXT_TOWER = "ViT-H-14"  # open_clip; its text width is 1024, the UNet's cross_attention_dim


def build_vae():
    from diffusers import AutoencoderKLTemporalDecoder

    return AutoencoderKLTemporalDecoder(**SVD_VAE)


def build_image_encoder():
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    return CLIPVisionModelWithProjection(CLIPVisionConfig(**SVD_IMAGE_ENCODER))


def text_tower_parameters(device: str = "meta") -> int:
    """Parameters of open_clip's ViT-H/14 text tower (token and position embeddings, transformer, final norm,
    projection) — the whole model is built on `device` and the visual tower left out of the count."""
    import logging

    import open_clip
    import torch

    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns that no weights were loaded: expected here
    with torch.device(device):
        model = open_clip.create_model(TEXT_TOWER, pretrained=None, device=device)
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("visual."))
