"""Open-Sora 1.2's STDiT3, written for aidbench: the released `hpcai-tech/OpenSora-STDiT-v3` weights load into
it unchanged (module names and shapes follow the checkpoint; no Open-Sora code is copied or imported).

A 3D patch embedding, then `depth` pairs of blocks — spatial (attention within a frame) and temporal
(attention along time, rotary positions) — each with adaLN-single modulation from the timestep (+ fps),
qk-RMSNorm, and cross-attention to T5 caption tokens; a 2D sin-cos position embedding, no temporal one.
Image-to-video conditioning marks clean reference frames with `x_mask`: those use the modulation of
timestep 0. Output: 8 channels, of which the rectified-flow sampler uses the first 4 (velocity).

The systems built on it (opensora-zeroshot, opensora-fullft) are assembled in opensora_system.py.

Parameter count of STDiT3-XL/2: 1,207,643,972 (1.21B). The paper's "1147M" matches none of its parts
removed in millions; counted in units of 2^20 it is 1151.7 "M" (and the Open-Sora report's "1.1B" is
1.12 in units of 2^30) — our reading, not stated by either source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint as recompute

from aidbench.errors import UserError
from aidbench.weights import check_safetensors


@dataclass(frozen=True)
class STDiT3Config:
    hidden_size: int = 1152
    depth: int = 28
    num_heads: int = 16
    patch_size: tuple[int, int, int] = (1, 2, 2)
    in_channels: int = 4
    pred_sigma: bool = True
    mlp_ratio: float = 4.0
    caption_channels: int = 4096
    model_max_length: int = 300
    input_sq_size: int = 512
    qk_norm: bool = True

    @property
    def out_channels(self) -> int:
        return self.in_channels * 2 if self.pred_sigma else self.in_channels


XL_2 = STDiT3Config()
TINY = STDiT3Config(hidden_size=32, depth=2, num_heads=2, caption_channels=16, model_max_length=8)


def modulate(x, shift, scale):
    return x * (1 + scale) + shift


def sinusoid(values: torch.Tensor, dim: int = 256, max_period: float = 10000.0) -> torch.Tensor:
    """cat(cos, sin) of values × exp(−ln(max_period)·k/half), k < half."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=values.device) / half
    )
    args = values.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)


class Rotary(nn.Module):
    """Interleaved ("GPT-J") rotary positions over the sequence axis; `freqs` is stored, not trained."""

    def __init__(self, dim: int, theta: float = 10000.0):
        super().__init__()
        freqs = 1.0 / theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim)
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, heads, N, D) → rotated along N."""
        positions = torch.arange(x.shape[-2], device=x.device, dtype=self.freqs.dtype)
        angles = (positions[:, None] * self.freqs[None]).repeat_interleave(2, dim=-1)
        pairs = x.unflatten(-1, (-1, 2))
        rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)
        return (x * angles.cos() + rotated * angles.sin()).to(x.dtype)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, qk_norm: bool):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = RMSNorm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = RMSNorm(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rotary: Rotary | None = None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        if rotary is not None:
            q, k = rotary(q), rotary(k)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q_linear = nn.Linear(dim, dim)
        self.kv_linear = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, N, C) attends to its own caption tokens y (B, L, C) where mask (B, L) is true."""
        b, n, c = x.shape
        q = self.q_linear(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.kv_linear(y).view(b, y.shape[1], 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        bias = None if mask is None else mask[:, None, None, :].bool()
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, out: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out or dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    """One spatial or temporal block: modulated self-attention, cross-attention, modulated MLP."""

    def __init__(self, c: STDiT3Config, temporal: bool):
        super().__init__()
        h = c.hidden_size
        self.temporal = temporal
        self.attn = SelfAttention(h, c.num_heads, c.qk_norm)
        self.cross_attn = CrossAttention(h, c.num_heads)
        self.mlp = Mlp(h, int(h * c.mlp_ratio))
        self.scale_shift_table = nn.Parameter(torch.randn(6, h) / h**0.5)

    def forward(self, x, y, mask, t_mlp, frames: int, x_mask=None, t0_mlp=None, rotary=None):
        b, n, c = x.shape
        s = n // frames
        params = (self.scale_shift_table[None] + t_mlp.reshape(b, 6, c)).chunk(6, dim=1)
        zero = (
            (self.scale_shift_table[None] + t0_mlp.reshape(b, 6, c)).chunk(6, dim=1)
            if x_mask is not None
            else None
        )

        def per_frame(value_t, value_0):
            # frames marked False in x_mask are clean conditions: they take the timestep-0 version
            if x_mask is None:
                return value_t
            a, z = value_t.reshape(b, frames, s, c), value_0.reshape(b, frames, s, c)
            return torch.where(x_mask[:, :, None, None], a, z).reshape(b, n, c)

        def modulated(norm_x, i_shift, i_scale):
            out = modulate(norm_x, params[i_shift], params[i_scale])
            return out if zero is None else per_frame(out, modulate(norm_x, zero[i_shift], zero[i_scale]))

        h = modulated(F.layer_norm(x, (c,), eps=1e-6), 0, 1)
        if self.temporal:
            h = h.reshape(b, frames, s, c).transpose(1, 2).reshape(b * s, frames, c)
            h = self.attn(h, rotary).reshape(b, s, frames, c).transpose(1, 2).reshape(b, n, c)
        else:
            h = self.attn(h.reshape(b * frames, s, c)).reshape(b, n, c)
        x = x + (params[2] * h if zero is None else per_frame(params[2] * h, zero[2] * h))
        x = x + self.cross_attn(x, y, mask)
        h = self.mlp(modulated(F.layer_norm(x, (c,), eps=1e-6), 3, 4))
        return x + (params[5] * h if zero is None else per_frame(params[5] * h, zero[5] * h))


class Embedder(nn.Module):
    """Sinusoid (256) → Linear → SiLU → Linear: the timestep and the fps embedders."""

    def __init__(self, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoid(values).to(self.mlp[0].weight.dtype))


class CaptionEmbedder(nn.Module):
    def __init__(self, c: STDiT3Config):
        super().__init__()
        self.y_proj = Mlp(c.caption_channels, c.hidden_size, c.hidden_size)
        # the learned "null" caption for guidance: a persistent buffer in the released state dict
        self.register_buffer(
            "y_embedding", torch.randn(c.model_max_length, c.caption_channels) / c.caption_channels**0.5
        )


class PatchEmbed(nn.Module):
    def __init__(self, c: STDiT3Config):
        super().__init__()
        self.patch = c.patch_size
        self.proj = nn.Conv3d(c.in_channels, c.hidden_size, kernel_size=c.patch_size, stride=c.patch_size)

    def forward(self, x):
        pads = []
        for size, p in zip(reversed(x.shape[2:]), reversed(self.patch), strict=True):
            pads += [0, (p - size % p) % p]
        return self.proj(F.pad(x, pads)).flatten(2).transpose(1, 2)


class FinalLayer(nn.Module):
    def __init__(self, c: STDiT3Config):
        super().__init__()
        h = c.hidden_size
        self.linear = nn.Linear(h, math.prod(c.patch_size) * c.out_channels)
        self.scale_shift_table = nn.Parameter(torch.randn(2, h) / h**0.5)


def position_embedding(h: int, w: int, dim: int, scale: float, device) -> torch.Tensor:
    """Open-Sora's 2D sin-cos embedding (S, dim): first half from the column, second from the row."""
    base = round((h * w) ** 0.5)
    inv_freq = 1.0 / 10000 ** (torch.arange(0, dim // 2, 2, device=device).float() / (dim // 2))
    rows = torch.arange(h, device=device).float() / scale * base / h
    cols = torch.arange(w, device=device).float() / scale * base / w
    grid_r, grid_c = torch.meshgrid(rows, cols, indexing="ij")

    def embed(positions):
        args = positions.reshape(-1, 1) * inv_freq[None]
        return torch.cat([args.sin(), args.cos()], dim=-1)

    return torch.cat([embed(grid_c), embed(grid_r)], dim=-1)


class STDiT3(nn.Module):
    def __init__(self, config: STDiT3Config = XL_2):
        super().__init__()
        c = self.config = config
        h = c.hidden_size
        self.x_embedder = PatchEmbed(c)
        self.t_embedder = Embedder(h)
        self.fps_embedder = Embedder(h)
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(h, 6 * h))
        self.y_embedder = CaptionEmbedder(c)
        self.rope = Rotary(h // c.num_heads)
        self.spatial_blocks = nn.ModuleList(Block(c, temporal=False) for _ in range(c.depth))
        self.temporal_blocks = nn.ModuleList(Block(c, temporal=True) for _ in range(c.depth))
        self.final_layer = FinalLayer(c)
        self.gradient_checkpointing = False

    def enable_gradient_checkpointing(self) -> None:
        """Recompute each block in the backward pass (`train.gradient_checkpointing`)."""
        self.gradient_checkpointing = True

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """What a fine-tune checkpoint holds: every trained parameter under its released name (the fixed
        rotary frequencies and the null caption buffer come from the base weights)."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}

    def forward(self, x, timestep, y, mask=None, x_mask=None, fps=None, height=None, width=None):
        """x (B, C, T, H, W), timestep (B,) on 0…1000, y (B, 1, L, caption_channels), mask (B, L) →
        (B, out_channels, T, H, W)."""
        c = self.config
        b, _, frames, height_in, width_in = x.shape
        pt, ph, pw = c.patch_size
        t_n, h_n, w_n = -(-frames // pt), -(-height_in // ph), -(-width_in // pw)
        pixels_h = height if height is not None else height_in * 8
        pixels_w = width if width is not None else width_in * 8
        scale = (pixels_h * pixels_w) ** 0.5 / c.input_sq_size
        fps = torch.full((b,), 24.0, device=x.device) if fps is None else fps.float().reshape(-1)
        fps = fps.expand(b) if fps.numel() == 1 else fps
        t = self.t_embedder(timestep) + self.fps_embedder(fps)
        t_mlp = self.t_block(t)
        t0 = t0_mlp = None
        if x_mask is not None:
            t0 = self.t_embedder(torch.zeros_like(timestep)) + self.fps_embedder(fps)
            t0_mlp = self.t_block(t0)
        caption = self.y_embedder.y_proj(y.squeeze(1))
        tokens = self.x_embedder(x).reshape(b, t_n, h_n * w_n, -1)
        tokens = tokens + position_embedding(h_n, w_n, c.hidden_size, scale, x.device)[None, None].to(
            tokens.dtype
        )
        tokens = tokens.reshape(b, t_n * h_n * w_n, -1)
        checkpointed = self.gradient_checkpointing and self.training and torch.is_grad_enabled()
        for spatial, temporal in zip(self.spatial_blocks, self.temporal_blocks, strict=True):
            for block, rope in ((spatial, None), (temporal, self.rope)):
                args = (tokens, caption, mask, t_mlp, t_n, x_mask, t0_mlp, rope)
                tokens = recompute(block, *args, use_reentrant=False) if checkpointed else block(*args)
        final = self.final_layer
        shift, scale_ = (final.scale_shift_table[None] + t[:, None]).chunk(2, dim=1)
        out = modulate(F.layer_norm(tokens, (c.hidden_size,), eps=1e-6), shift, scale_)
        if x_mask is not None:
            shift0, scale0 = (final.scale_shift_table[None] + t0[:, None]).chunk(2, dim=1)
            # as the reference does: the timestep-0 branch re-modulates the already modulated tokens
            zero = modulate(F.layer_norm(out, (c.hidden_size,), eps=1e-6), shift0, scale0)
            s = h_n * w_n
            out = torch.where(
                x_mask[:, :, None, None], out.reshape(b, t_n, s, -1), zero.reshape(b, t_n, s, -1)
            ).reshape(b, t_n * s, -1)
        out = final.linear(out)
        out = out.reshape(b, t_n, h_n, w_n, pt, ph, pw, c.out_channels)
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, c.out_channels, t_n * pt, h_n * ph, w_n * pw)
        return out[:, :, :frames, :height_in, :width_in].float()


def folder_config(folder) -> STDiT3Config:
    """The architecture a released folder's `config.json` describes (hpcai-tech/OpenSora-STDiT-v3 ships one,
    with training-only fields beside these), else STDiT3-XL/2."""
    import dataclasses
    import json

    path = Path(folder) / "config.json"
    if not path.is_file():
        return XL_2
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is not a readable JSON file ({err}).") from None
    fields = {f.name for f in dataclasses.fields(STDiT3Config)}
    values = {k: tuple(v) if k == "patch_size" else v for k, v in stored.items() if k in fields}
    return dataclasses.replace(XL_2, **values)


def load(folder, config: STDiT3Config | None = None) -> STDiT3:
    """The released STDiT3 weights (`model.safetensors`) in the architecture of the folder's config.json,
    loaded strictly: every key must match."""
    from safetensors.torch import load_file

    path = Path(folder) / "model.safetensors"
    config = config or folder_config(folder)
    check_safetensors(path)
    model = STDiT3(config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except (RuntimeError, OSError) as err:
        raise UserError(
            f"{path} does not match the STDiT3 of its config.json ({str(err).splitlines()[0]})."
        ) from None
    return model


def system_config(config) -> STDiT3Config:
    """STDiT3's configuration for an aidbench config: XL/2, or the tiny one reading as many caption tokens
    as the tiny tokenizer gives (characters) and, in pixel space [smoke], RGB's 3 channels."""
    if config.model.size == "paper":
        return XL_2
    if (
        config.model.latent_space == "pixels"
    ):  # 4×4 pixel patches: 80 tokens for 5 frames of 16² (the VAE path trains slower)
        return replace(TINY, model_max_length=32, in_channels=3, patch_size=(1, 4, 4))
    return replace(TINY, model_max_length=32)


def parameters(config) -> dict:
    """STDiT3's parameter count on the meta device (the paper fine-tunes all of it: Table 2, 1147M)."""
    with torch.device("meta"):
        model_config = system_config(config)
        model = STDiT3(model_config)
    counts = {
        "embedders (patch, timestep, fps, t_block, caption)": sum(
            p.numel()
            for n, p in model.named_parameters()
            if not n.startswith(("spatial_", "temporal_", "final_"))
        ),
        "spatial blocks": sum(p.numel() for p in model.spatial_blocks.parameters()),
        "temporal blocks": sum(p.numel() for p in model.temporal_blocks.parameters()),
        "final layer": sum(p.numel() for p in model.final_layer.parameters()),
    }
    frozen = model.rope.freqs.numel()  # stored, never trained
    components = {
        name: {"total": count, "trainable": count - (frozen if name.startswith("embedders") else 0)}
        for name, count in counts.items()
    }
    total = sum(v["total"] for v in components.values())
    return {"model": config.model.name, "total": total, "trainable": total - frozen, "components": components}
