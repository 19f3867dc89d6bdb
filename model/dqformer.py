"""DQFormer: builds MCondition, the multi-condition embedding AID feeds to the UNet's cross-attention.

- Multimodal branch: the instruction's token features t1 self-attend, then cross-attend to the first
  frame's visual features v (it aligns the instruction with what the frame shows).
- Decomposed branch: learnable queries, `query_length` per frame, self-attend, cross-attend to t1, then
  to t2, the token features of the MLLM's four state sentences.
- MCondition for frame f = [multimodal tokens ; frame f's decomposed tokens].
Supplementary Table 8: 1024 channels (tokens, base, output, cross-attention), 2 layers, 8 heads, 77 queries.
Layers are pre-norm transformer layers (self-attention, cross-attention(s), GELU MLP ×4) [ours: the paper
gives no layer internals]. Switches give the ablation rows: multimodal only, decomposed only, no states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DQFormerConfig:
    width: int = 1024  # base channels
    token_channels: int = 1024  # learnable query channels
    output_channels: int = 1024  # = the UNet's cross_attention_dim
    context_dim: int = 1024  # channels of t1, v and t2 (CLIP ViT-H/14)
    layers: int = 2
    heads: int = 8
    query_length: int = 77  # learnable queries per frame
    num_frames: int = 16
    mlp_ratio: int = 4  # [ours]
    multimodal: bool = True
    decomposed: bool = True
    use_states: bool = True  # False: "full model without LLaVA"

    def __post_init__(self) -> None:
        if not (self.multimodal or self.decomposed):
            raise ValueError("DQFormer needs at least one branch (multimodal or decomposed)")


class Layer(nn.Module):
    """Pre-norm: self-attention, one cross-attention per context, MLP."""

    def __init__(self, width: int, heads: int, contexts: int, mlp_ratio: int):
        super().__init__()
        self.self_norm = nn.LayerNorm(width)
        self.self_attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.cross_norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(contexts))
        self.cross_attentions = nn.ModuleList(
            nn.MultiheadAttention(width, heads, batch_first=True) for _ in range(contexts)
        )
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )

    def forward(self, x: torch.Tensor, contexts: list[torch.Tensor]) -> torch.Tensor:
        h = self.self_norm(x)
        x = x + self.self_attention(h, h, h, need_weights=False)[0]
        for norm, attention, context in zip(self.cross_norms, self.cross_attentions, contexts, strict=True):
            x = x + attention(norm(x), context, context, need_weights=False)[0]
        return x + self.mlp(self.mlp_norm(x))


class DQFormer(nn.Module):
    def __init__(self, config: DQFormerConfig):
        super().__init__()
        self.config = c = config
        self.text_in = nn.Linear(c.context_dim, c.width)
        if c.multimodal:
            self.visual_in = nn.Linear(c.context_dim, c.width)
            self.multimodal = nn.ModuleList(Layer(c.width, c.heads, 1, c.mlp_ratio) for _ in range(c.layers))
        if c.decomposed:
            self.queries = nn.Parameter(torch.randn(c.num_frames * c.query_length, c.token_channels) * 0.02)
            self.query_in = (
                nn.Linear(c.token_channels, c.width) if c.token_channels != c.width else nn.Identity()
            )
            contexts = 2 if c.use_states else 1
            if c.use_states:
                self.states_in = nn.Linear(c.context_dim, c.width)
            self.decomposed = nn.ModuleList(
                Layer(c.width, c.heads, contexts, c.mlp_ratio) for _ in range(c.layers)
            )
        self.out_norm = nn.LayerNorm(c.width)
        self.out = nn.Linear(c.width, c.output_channels)

    def forward(
        self, instruction: torch.Tensor, visual: torch.Tensor, states: torch.Tensor | None, num_frames: int
    ) -> torch.Tensor:
        """t1 (B, Lt, C), v (B, Lv, C), t2 (B, Ls, C) or None → MCondition (B, T, L, output_channels)."""
        c = self.config
        batch = instruction.shape[0]
        t1 = self.text_in(instruction)
        parts = []
        if c.multimodal:
            x, v = t1, self.visual_in(visual)
            for layer in self.multimodal:
                x = layer(x, [v])
            parts.append(x[:, None].expand(batch, num_frames, *x.shape[1:]))
        if c.decomposed:
            if num_frames != c.num_frames:
                raise ValueError(f"DQFormer has queries for {c.num_frames} frames, the clip has {num_frames}")
            contexts = [t1]
            if c.use_states:
                if states is None:
                    raise ValueError("DQFormer with use_states needs the MLLM state features (t2)")
                contexts.append(self.states_in(states))
            q = self.query_in(self.queries)[None].expand(batch, -1, -1)
            for layer in self.decomposed:
                q = layer(q, contexts)
            parts.append(q.reshape(batch, num_frames, c.query_length, c.width))
        return self.out(self.out_norm(torch.cat(parts, dim=2)))
