"""Token features of instructions and state sentences from a CLIP text tower (open_clip, offline BPE).

AID's t1 and t2 are per-token features (77 × width), not the pooled embedding: the tower's transformer
output after its final norm. The real tower is ViT-H/14's (width 1024); tests use a tiny one, and the
smoke preset a fixed word-feature stand-in (WordFeatures, `model.text_tower: words`).
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


class WordFeatures(nn.Module):
    """[smoke] A fixed, untrained stand-in for a pretrained text tower (`model.text_tower: words`).

    A pretrained CLIP carries a sentence's meaning into every token after its words; a random tiny CLIP
    does not (its per-token features hold a word at its own position, diluted by random attention), and
    no tiny model learns to read them in minutes (README, "smoke preset"). Here every token position
    carries the same sentence feature: the sum of a fixed random vector per word and one per (word,
    position), so word order counts, scaled to unit RMS. Vectors are drawn from a generator seeded by the
    word, so they are the same everywhere. The empty text (the null condition) is all zeros.
    """

    def __init__(self, width: int, context_length: int = 16):
        super().__init__()
        self.width, self.context_length = width, context_length
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)  # follows .to(device)
        self._vectors: dict[str, torch.Tensor] = {}
        self._sentences: dict[str, torch.Tensor] = {}  # a training run meets the same few texts again

    def _vector(self, key: str) -> torch.Tensor:
        if key not in self._vectors:
            import hashlib

            seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
            self._vectors[key] = torch.randn(self.width, generator=torch.Generator().manual_seed(seed))
        return self._vectors[key]

    def sentence(self, text: str) -> torch.Tensor:
        if text not in self._sentences:
            self._sentences[text] = self._feature(text)
        return self._sentences[text]

    def _feature(self, text: str) -> torch.Tensor:
        import re

        words = re.findall(r"[a-z0-9]+", text.lower())
        if not words:
            return torch.zeros(self.width)
        v = sum(self._vector(w) + self._vector(f"{i}:{w}") for i, w in enumerate(words))
        return v / v.pow(2).mean().sqrt()

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), context_length, width): each text's sentence feature at every position."""
        features = torch.stack([self.sentence(t) for t in texts]).to(self._anchor.device)
        return features[:, None].expand(-1, self.context_length, -1).contiguous()

    def states(self, sentences: list[list[str]]) -> torch.Tensor:
        flat = self([s for clip in sentences for s in clip])
        return flat.reshape(len(sentences), -1, flat.shape[-1])
