"""The speed and memory switches of `train.*`, applied to built modules; each is measured by `aidbench bench`.

attention     sdpa (PyTorch's fused kernels, diffusers' default) or math (the plain processor)
frozen_dtype  frozen weights cast to bf16/fp16 (they never get gradients, so no precision is lost to
              optimisation); trainable weights stay float32 for AdamW, autocast mixes the two
channels_last NHWC memory layout for the UNet's convolutions
Gradient checkpointing and mixed precision are diffusers' and accelerate's own switches.
"""

from __future__ import annotations

import torch
from torch import nn

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def set_attention(model: nn.Module, kind: str) -> None:
    """Every diffusers attention in `model` uses the `kind` processor."""
    from diffusers.models.attention_processor import Attention, AttnProcessor, AttnProcessor2_0

    processor = {"sdpa": AttnProcessor2_0, "math": AttnProcessor}[kind]
    for module in model.modules():
        if isinstance(module, Attention):
            module.set_processor(processor())


def hold_frozen(model: nn.Module, dtype: torch.dtype) -> int:
    """Cast the parameters that do not train (and floating buffers of fully frozen modules) to `dtype`;
    return how many parameters were cast."""
    cast = 0
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        for parameter in own:
            if not parameter.requires_grad and parameter.dtype != dtype:
                parameter.data = parameter.data.to(dtype)
                cast += parameter.numel()
        if own and not any(p.requires_grad for p in own):
            for name, buffer in module.named_buffers(recurse=False):
                if buffer.is_floating_point():
                    setattr(module, name, buffer.to(dtype))
    return cast


def to_channels_last(model: nn.Module) -> None:
    """NHWC weights for the 2D convolutions (the video UNet's convolutions run on frames as images)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last)


def apply(train_config, denoiser: nn.Module, frozen: list[nn.Module]) -> dict[str, int]:
    """Apply the config's switches to the denoiser (trainable parts) and the frozen modules around it."""
    unet = getattr(denoiser, "unet", denoiser)
    set_attention(unet, train_config.attention)
    if train_config.gradient_checkpointing and hasattr(unet, "enable_gradient_checkpointing"):
        unet.enable_gradient_checkpointing()
    if train_config.channels_last:
        to_channels_last(unet)
    cast = 0
    dtype = DTYPES[train_config.frozen_dtype]
    if dtype != torch.float32:
        for module in (denoiser, *frozen):
            if module is not None:
                cast += hold_frozen(module, dtype)
    return {"frozen_parameters_cast": cast}
