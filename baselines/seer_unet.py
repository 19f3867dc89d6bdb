"""Seer's inflated Stable Diffusion UNet: SD 1.5's 2D UNet (diffusers' UNet2DConditionModel, its weights and
key names as published) run over the frames of a clip, with the layers Seer adds and trains.

- After every spatial transformer (`attentions.i` of each cross-attention block and the middle block) Seer
  adds a temporal transformer, stored beside it as `temporal_attentions.i` (Seer's own key names, so its
  released checkpoint loads strictly): GroupNorm over all frames, a 1×1 projection in, one block of
  windowed spatio-temporal self-attention and a GEGLU feed-forward, a 1×1 projection out initialised to
  zero (the inflated UNet starts as SD 1.5 frame by frame).
- The temporal attention is causal and windowed as Seer's is: queries and keys carry rotary position
  embeddings over the clip's tokens (frame-major), the feature map is cut into windows of 4×4 (8×8 where
  the map is at least 32 wide; no windows at 4×4 or below), and inside each window a token attends only to
  the tokens before it in frame-major order, so no frame ever sees a later one.
- The reference frames (`held`) go in clean and skip the feed-forward of the temporal blocks, as in Seer.
- Every GroupNorm of the UNet normalises over all frames of a clip, as Seer's inflated 3D modules do
  (frames are folded into the batch only for the 2D convolutions and attention).
- Cross-attention reads a context per frame: FSText's sub-instruction for that frame (seer_text.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROTARY_DIMS = 32  # Seer: RotaryEmbedding(min(32, head_dim))
SMALL_WINDOW, LARGE_WINDOW, LARGE_RATIO = 4, 8, 4  # Seer's MIN_WIN_SIZE, MAX_WIN_SIZE, MAX_RATIO
GROUPS = 32  # Seer's temporal GroupNorm


class Rotary(nn.Module):
    """Rotary position embedding as rotary_embedding_torch's RotaryEmbedding(dim) applies it: interleaved
    pairs, θ = 10000, positions 0…n−1 along the sequence, only the first `dim` channels of each head turned.
    `freqs` is a parameter that never trains (in the state dict as `rotary_emb.freqs`)."""

    def __init__(self, dim: int):
        super().__init__()
        freqs = 1.0 / (10000 ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """t (..., n, head_dim) → the same with positions 0…n−1 along dim −2 rotated in."""
        dim = self.freqs.numel() * 2
        positions = torch.arange(t.shape[-2], device=t.device, dtype=self.freqs.dtype)
        angles = (positions[:, None] * self.freqs).repeat_interleave(2, dim=-1)
        head, rest = t[..., :dim], t[..., dim:]
        pairs = head.unflatten(-1, (-1, 2))
        turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        head = head * angles.cos().to(t.dtype) + turned * angles.sin().to(t.dtype)
        return torch.cat((head, rest), dim=-1)


class Attention(nn.Module):
    """Seer's CrossAttention: bias-free q/k/v, `to_out.0` with bias, optional rotary embedding."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, rotary: bool = False):
        super().__init__()
        self.heads = heads
        head_dim = dim // heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])
        if rotary:
            self.rotary_emb = Rotary(min(ROTARY_DIMS, head_dim))

    def heads_of(self, x: torch.Tensor, context: torch.Tensor | None = None):
        """x (B, N, dim) → q, k, v (B, heads, N, head_dim), rotary positions applied to q and k."""
        context = x if context is None else context
        q, k, v = (
            t.unflatten(-1, (self.heads, -1)).transpose(1, 2)
            for t in (self.to_q(x), self.to_k(context), self.to_v(context))
        )
        if hasattr(self, "rotary_emb"):
            q, k = self.rotary_emb(q), self.rotary_emb(k)
        return q, k, v

    def out(self, o: torch.Tensor) -> torch.Tensor:
        """(B, heads, N, head_dim) → (B, N, dim)."""
        return self.to_out[1](self.to_out[0](o.transpose(1, 2).flatten(2)))

    def forward(self, x, context=None, causal: bool = False) -> torch.Tensor:
        q, k, v = self.heads_of(x, context)
        return self.out(F.scaled_dot_product_attention(q, k, v, is_causal=causal))


def window_size(height: int) -> int | None:
    """Seer's window for a feature map `height` tall: none at 4 or below, 8 from 32 up, else 4."""
    if height <= SMALL_WINDOW:
        return None
    return LARGE_WINDOW if height // LARGE_WINDOW >= LARGE_RATIO else SMALL_WINDOW


def windowed_causal_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    """Seer's windowed spatio-temporal attention over x (B, F, H, W, C) → (B, F·H·W, C): rotary positions
    over the whole clip (frame-major), then causal attention inside each window across all frames."""
    b, f, h, w, c = x.shape
    q, k, v = attn.heads_of(x.reshape(b, f * h * w, c))
    size = window_size(h)
    if size is not None:
        if h % size or w % size:
            raise ValueError(f"a {h}×{w} feature map does not split into Seer's {size}×{size} windows")

        def windows(t):  # (B, n, F·H·W, d) → (B·windows, n, F·size², d), frame-major inside a window
            t = t.reshape(b, attn.heads, f, h // size, size, w // size, size, -1)
            return t.permute(0, 3, 5, 1, 2, 4, 6, 7).reshape(-1, attn.heads, f * size * size, t.shape[-1])

        q, k, v = windows(q), windows(k), windows(v)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if size is not None:
        o = o.reshape(b, h // size, w // size, attn.heads, f, size, size, -1)
        o = o.permute(0, 3, 4, 1, 5, 2, 6, 7).reshape(b, attn.heads, f * h * w, -1)
    return attn.out(o)


class TemporalBlock(nn.Module):
    """Seer's temporal BasicTransformerBlock3D: windowed causal self-attention, then a GEGLU feed-forward
    that the reference frames skip."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        from diffusers.models.attention import FeedForward

        self.attn1 = Attention(dim, heads, rotary=True)
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.norm1 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, held: int) -> torch.Tensor:
        b, f, h, w, c = x.shape
        flat = x.reshape(b, f * h * w, c) + windowed_causal_attention(self.attn1, self.norm1(x))
        cut = held * h * w
        rest = flat[:, cut:]
        rest = rest + self.ff(self.norm3(rest))
        return torch.cat([flat[:, :cut], rest], dim=1).reshape(b, f, h, w, c)


def video_group_norm(norm: nn.GroupNorm, x: torch.Tensor, frames: int) -> torch.Tensor:
    """GroupNorm over all frames of each clip: x (B·F, C, H, W), statistics over (group, F, H, W)."""
    bf, c, h, w = x.shape
    video = x.reshape(bf // frames, frames, c, h, w).transpose(1, 2)
    y = F.group_norm(video, norm.num_groups, norm.weight, norm.bias, norm.eps)
    return y.transpose(1, 2).reshape(bf, c, h, w)


class VideoGroupNorm(nn.GroupNorm):
    """A GroupNorm of the 2D UNet that normalises over all `frames` of a clip (Seer's inflated modules)."""

    frames = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frames == 1 or x.dim() != 4:
            return super().forward(x)
        return video_group_norm(self, x, self.frames)


class TemporalTransformer(nn.Module):
    """Seer's temporal SpatialTransformer3D, `temporal_attentions.i` of a block."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.norm = nn.GroupNorm(GROUPS, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([TemporalBlock(channels, heads)])
        self.proj_out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, frames: int, held: int) -> torch.Tensor:
        """x (B·F, C, H, W) → the same, with information moved along time (causally)."""
        bf, c, h, w = x.shape
        y = self.proj_in(video_group_norm(self.norm, x, frames))
        y = y.reshape(bf // frames, frames, c, h, w).permute(0, 1, 3, 4, 2)
        for block in self.transformer_blocks:
            y = block(y, held)
        y = y.permute(0, 1, 4, 2, 3).reshape(bf, c, h, w)
        return self.proj_out(y) + x


class SeerUNet(nn.Module):
    """SD 1.5's UNet2DConditionModel inflated as Seer inflates it (the module's docstring). `unet` keeps the
    published key names; the temporal layers sit inside it as `<block>.temporal_attentions.i`."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet
        self._video = (1, 0)  # (frames, held) of the clip being denoised, read by the hooks
        for block in [*unet.down_blocks, unet.mid_block, *unet.up_blocks]:
            spatial = getattr(block, "attentions", None)
            if not spatial:
                continue
            block.temporal_attentions = nn.ModuleList(
                TemporalTransformer(a.in_channels, a.num_attention_heads) for a in spatial
            )
            for attention, temporal in zip(spatial, block.temporal_attentions, strict=True):
                attention.register_forward_hook(self._after(temporal))
        self._inflate_group_norms(unet)
        self._norms = [m for m in unet.modules() if isinstance(m, VideoGroupNorm)]  # told each clip's frames

    def _after(self, temporal: TemporalTransformer):
        def hook(module, args, output):
            frames, held = self._video
            if isinstance(output, tuple):
                return (temporal(output[0], frames, held), *output[1:])
            output.sample = temporal(output.sample, frames, held)
            return output

        return hook

    @staticmethod
    def _inflate_group_norms(unet) -> None:
        for module in unet.modules():
            for name, child in module.named_children():
                if type(child) is nn.GroupNorm:
                    video = VideoGroupNorm(child.num_groups, child.num_channels, child.eps, child.affine)
                    video.load_state_dict(child.state_dict())
                    setattr(module, name, video.to(child.weight.device, child.weight.dtype))

    def temporal_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.unet.named_parameters() if ".temporal_attentions." in n]

    def forward(self, latents: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor, held: int):
        """latents (B, C, F, H, W), the first `held` frames clean; timesteps (B,) on 0…999; context
        (B, F, L, D), one per frame → ε prediction (B, C, F, H, W)."""
        b, c, f, h, w = latents.shape
        self._video = (f, held)
        for norm in self._norms:
            norm.frames = f
        x = latents.transpose(1, 2).reshape(b * f, c, h, w)
        t = timesteps.reshape(-1).expand(b).repeat_interleave(f)
        out = self.unet(x, t, encoder_hidden_states=context.flatten(0, 1), return_dict=False)[0]
        return out.reshape(b, f, -1, h, w).transpose(1, 2)


# SD 1.5's unet/config.json as published (runwayml/stable-diffusion-v1-5), its model arguments.
SD15_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}


def small_unet_config(channels: int, cross_attention_dim: int) -> dict[str, Any]:
    """SD 1.5's layout at test and smoke sizes: two levels (32 and 64 channels), cross-attention at the
    first, one layer per block; `channels` in and out (4 latents, 3 pixels)."""
    return {
        **SD15_UNET,
        "attention_head_dim": 2,
        "block_out_channels": [32, 64],
        "cross_attention_dim": cross_attention_dim,
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "in_channels": channels,
        "layers_per_block": 1,
        "out_channels": channels,
        "sample_size": 16,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    }
