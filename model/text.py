"""Token features of instructions and state sentences from a CLIP text tower (open_clip, offline BPE).

AID's t1 and t2 are per-token features (77 × width), not the pooled embedding: the tower's transformer
output after its final norm. The real tower is ViT-H/14's (width 1024); tests use a tiny one.
"""

from __future__ import annotations

import torch
from torch import nn

TOKENIZER = "ViT-H-14"


class TextEncoder(nn.Module):
    def __init__(self, clip_model: nn.Module):
        super().__init__()
        import open_clip

        if getattr(clip_model, "visual", None) is not None:
            clip_model.visual = None  # only the text tower is used: the image tower's memory is freed
        self.model = clip_model.eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(TOKENIZER)

    @property
    def width(self) -> int:
        return self.model.token_embedding.embedding_dim

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), context_length, width) token features."""
        m = self.model
        device = m.token_embedding.weight.device
        tokens = self.tokenizer(texts).to(device)
        x = m.token_embedding(tokens) + m.positional_embedding
        x = m.transformer(x, attn_mask=m.attn_mask)
        return m.ln_final(x)

    def states(self, sentences: list[list[str]]) -> torch.Tensor:
        """Four sentences per clip → (B, 4 · context_length, width): t2."""
        flat = self([s for clip in sentences for s in clip])
        return flat.reshape(len(sentences), -1, flat.shape[-1])


def tiny_clip(width: int = 32) -> nn.Module:
    """An open_clip CLIP with a one-layer text tower of `width` channels (tests, smoke preset)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    return CLIP(
        embed_dim=width,
        vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=16, image_size=32),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=width, heads=2, layers=1),
    )
