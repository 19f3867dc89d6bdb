"""Parameter counts by component, from the config alone: everything is built on the meta device."""

from __future__ import annotations

from typing import Any

from aidbench.config import Config
from aidbench.model import encoders


def _count(module, predicate=lambda name: True) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if predicate(n))


def aid_parameters(config: Config) -> dict[str, Any]:
    import torch

    from aidbench.model.aid import AIDDenoiser, build_unet, dqformer_config

    model = config.model
    with torch.device("meta"):
        unet = build_unet(model.size, model.latent_space)
        settings = model.mcondition
        dq = None
        if settings.multimodal or settings.decomposed:
            dq = dqformer_config(
                settings, model.size, unet.config.cross_attention_dim, config.data.num_frames
            )
        aid = AIDDenoiser(unet, model.adapters, dq, model.train_cross_attention)
    components: dict[str, dict[str, int]] = {}

    def add(name: str, total: int, trainable: int) -> None:
        components[name] = {"total": total, "trainable": trainable}

    cross = _count(unet, lambda n: ".attn2." in n)
    if model.full_finetune:
        add("unet (SVD 3D UNet, all trained)", _count(unet), _count(unet))
    else:
        add("unet (SVD 3D UNet, frozen)", _count(unet) - cross, 0)
        add("unet cross-attention", cross, cross if model.train_cross_attention else 0)
    for kind in ("spatial", "short_term", "long_term"):
        n = sum(_count(m) for k, m in aid.adapters.items() if k.startswith(kind))
        add(f"adapters {kind.replace('_', '-')}", n, n)
    if aid.dqformer is not None:
        for part in ("multimodal", "decomposed"):
            n = _count(aid.dqformer, lambda name, part=part: name.startswith(part + "."))
            add(f"dqformer {part} branch", n, n)
        rest = _count(aid.dqformer, lambda name: not name.startswith(("multimodal.", "decomposed.")))
        add("dqformer queries and projections", rest, rest)
    if model.size == "paper":
        with torch.device("meta"):
            add("vae (frozen)", _count(encoders.build_vae()), 0)
            add("image encoder CLIP ViT-H/14 (frozen)", _count(encoders.build_image_encoder()), 0)
        add("text encoder CLIP ViT-H/14 text tower (frozen)", encoders.text_tower_parameters(), 0)
    return {
        "model": model.name,
        "total": sum(c["total"] for c in components.values()),
        "trainable": sum(c["trainable"] for c in components.values()),
        "components": components,
    }
