"""Seer's Frame Sequential Text decomposer (FSText): the instruction's CLIP token features (B, L, D) →
one sub-instruction per frame (B, F, L, D), which the UNet's cross-attention reads frame by frame.

A learnable query, repeated for every frame and token and added to a learned position embedding per
(frame, token), goes through `layers` pairs of blocks: a text block (self-attention over a frame's tokens,
cross-attention from all of the clip's queries to the instruction, a GEGLU feed-forward) and a temporal
block (causal self-attention over frames at each token position, with rotary positions, and a
feed-forward); a final LayerNorm. Seer builds it with 8 layers for 16 frames and a position table of 1024
tokens; a clip of another length interpolates the table (nearest) to its frames. Key names are Seer's
(`learnable_query`, `pos_embed`, `trf_blocks.i.transformer_blocks.{0,1}`, `norm`).

The initialisation stage (Seer's `text_loss`) trains FSText so that the mean of its sub-instructions over
frames is the instruction itself (`initialisation_loss`); Seer publishes the result as its FSText init
checkpoint and starts every fine-tune from it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aidbench.baselines.seer_unet import Attention

MAX_TOKENS = 1024
RELEASED_FRAMES = 16
RELEASED_LAYERS = 8


class TextBlock(nn.Module):
    """Seer's BasicLinearTransformerBlock3D: the text block (temporal False) or the temporal block."""

    def __init__(self, dim: int, heads: int, context_dim: int, temporal: bool):
        super().__init__()
        from diffusers.models.attention import FeedForward

        self.temporal = temporal
        self.attn1 = Attention(dim, heads, rotary=temporal)
        self.ff = FeedForward(dim, activation_fn="geglu")
        if not temporal:
            self.attn2 = Attention(dim, heads, context_dim=context_dim)
            self.norm2 = nn.LayerNorm(dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        b, f, n, c = x.shape
        if self.temporal:  # each token position attends causally over frames
            y = x.transpose(1, 2).reshape(b * n, f, c)
            y = y + self.attn1(self.norm1(y), causal=True)
            y = y + self.ff(self.norm3(y))
            return y.reshape(b, n, f, c).transpose(1, 2)
        y = x.reshape(b * f, n, c)
        y = y + self.attn1(self.norm1(y))
        y = y.reshape(b, f * n, c)
        y = y + self.attn2(self.norm2(y), context)
        y = y + self.ff(self.norm3(y))
        return y.reshape(b, f, n, c)


class TextLayer(nn.Module):
    """Seer's LinearTransformer3D with depth 2: a text block, then a temporal block."""

    def __init__(self, dim: int, heads: int, context_dim: int):
        super().__init__()
        self.transformer_blocks = nn.ModuleList(
            [
                TextBlock(dim, heads, context_dim, temporal=False),
                TextBlock(dim, heads, context_dim, temporal=True),
            ]
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.transformer_blocks[0](x, context)
        return self.transformer_blocks[1](x, None)


class FSText(nn.Module):
    def __init__(
        self,
        width: int = 768,
        heads: int = 8,
        layers: int = RELEASED_LAYERS,
        frames: int = RELEASED_FRAMES,
        max_tokens: int = MAX_TOKENS,
    ):
        super().__init__()
        self.learnable_query = nn.Parameter(torch.zeros(1, 1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, frames, max_tokens, width))
        self.trf_blocks = nn.ModuleList(TextLayer(width, heads, width) for _ in range(layers))
        self.norm = nn.LayerNorm(width)

    def forward(self, text: torch.Tensor, frames: int) -> torch.Tensor:
        """text (B, L, D) token features → (B, frames, L, D) sub-instructions."""
        b, n, _ = text.shape
        positions = self.pos_embed[:, :, :n]
        if positions.shape[1] != frames:
            positions = F.interpolate(positions.permute(0, 3, 1, 2), size=(frames, n)).permute(0, 2, 3, 1)
        x = self.learnable_query.expand(b, frames, n, -1) + positions
        for layer in self.trf_blocks:
            x = layer(x, text)
        return self.norm(x)


def initialisation_loss(sub_instructions: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Seer's FSText initialisation loss: the frames' mean sub-instruction against the instruction (MSE)."""
    return F.mse_loss(sub_instructions.mean(1), text.detach())
