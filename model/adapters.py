"""AID's spatial and temporal adapters, attached to diffusers' SVD UNet by forward hooks (no fork).

All three are residual bottlenecks whose up-projection starts at zero, so a fresh AID computes exactly
what SVD computes:
- spatial:    X + W_up(GELU(W_down X)), beside each spatial self-attention (BasicTransformerBlock.attn1);
- short-term: X + W_up(Conv3D(W_down X)), a depthwise 3×3×3 convolution over neighbouring frames, around
              each TransformerSpatioTemporalModel;
- long-term:  X + W_up(SelfAttn_time(W_down X)), beside each temporal self-attention
              (TemporalBasicTransformerBlock.attn1), attending over all frames.
The bottleneck width is not published: `bottleneck_ratio` (default 0.25 × width, as the first author's
SimDA) is ours. The adapters live in their own ModuleDict, so the UNet's state dict stays SVD's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aidbench.config import AdapterConfig


def _width(channels: int, ratio: float) -> int:
    return max(1, int(round(channels * ratio)))


class SpatialAdapter(nn.Module):
    def __init__(self, channels: int, ratio: float):
        super().__init__()
        hidden = _width(channels, ratio)
        self.down = nn.Linear(channels, hidden)
        self.up = nn.Linear(hidden, channels)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(F.gelu(self.down(x)))


class ShortTermAdapter(nn.Module):
    """Down-projection, depthwise 3D convolution over (frames, height, width), zero-initialised up-projection."""

    def __init__(self, channels: int, ratio: float):
        super().__init__()
        hidden = _width(channels, ratio)
        self.down = nn.Conv3d(channels, hidden, kernel_size=1)
        self.conv = nn.Conv3d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.up = nn.Conv3d(hidden, channels, kernel_size=1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """x: (B·T, C, H, W) as the spatio-temporal transformer sees it."""
        bt, c, h, w = x.shape
        video = x.reshape(bt // num_frames, num_frames, c, h, w).permute(0, 2, 1, 3, 4)
        out = self.up(self.conv(self.down(video)))
        return out.permute(0, 2, 1, 3, 4).reshape(bt, c, h, w)


class LongTermAdapter(nn.Module):
    """Down-projection, self-attention across all frames, zero-initialised up-projection."""

    def __init__(self, channels: int, ratio: float, head_dim: int):
        super().__init__()
        hidden = _width(channels, ratio)
        heads = max(1, hidden // head_dim)
        while hidden % heads:
            heads -= 1
        self.down = nn.Linear(channels, hidden)
        self.attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.up = nn.Linear(hidden, channels)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B·H·W, T, C) as the temporal transformer block sees it."""
        d = self.down(x)
        return self.up(self.attention(d, d, d, need_weights=False)[0])


def _key(path: str, kind: str) -> str:
    return f"{kind}__{path.replace('.', '__')}"


def _first_input(args, kwargs) -> torch.Tensor:
    return args[0] if args else kwargs["hidden_states"]


def attach(unet: nn.Module, config: AdapterConfig) -> tuple[nn.ModuleDict, list]:
    """Build the adapters for `unet` and hook them in; returns (adapters, hook handles)."""
    from diffusers.models.attention import BasicTransformerBlock, TemporalBasicTransformerBlock
    from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel

    adapters = nn.ModuleDict()
    handles = []
    for path, module in unet.named_modules():
        if isinstance(module, BasicTransformerBlock) and config.spatial:
            adapter = SpatialAdapter(module.attn1.to_q.in_features, config.bottleneck_ratio)
            adapters[_key(path, "spatial")] = adapter
            handles.append(module.attn1.register_forward_hook(_add(adapter), with_kwargs=True))
        elif isinstance(module, TemporalBasicTransformerBlock) and config.long_term:
            adapter = LongTermAdapter(module.attn1.to_q.in_features, config.bottleneck_ratio, config.head_dim)
            adapters[_key(path, "long_term")] = adapter
            handles.append(module.attn1.register_forward_hook(_add(adapter), with_kwargs=True))
        elif isinstance(module, TransformerSpatioTemporalModel) and config.short_term:
            adapter = ShortTermAdapter(module.in_channels, config.bottleneck_ratio)
            adapters[_key(path, "short_term")] = adapter
            handles.append(module.register_forward_hook(_add_short_term(adapter), with_kwargs=True))
    return adapters, handles


def _add(adapter: nn.Module):
    def hook(module, args, kwargs, output):
        return output + adapter(_first_input(args, kwargs))

    return hook


def _add_short_term(adapter: ShortTermAdapter):
    def hook(module, args, kwargs, output):
        x = _first_input(args, kwargs)
        residual = adapter(x, kwargs["image_only_indicator"].shape[-1])
        if isinstance(output, tuple):
            return (output[0] + residual, *output[1:])
        output.sample = output.sample + residual
        return output

    return hook
