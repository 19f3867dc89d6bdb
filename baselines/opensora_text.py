"""Open-Sora 1.2's caption conditioning: T5 v1.1 XXL's encoder (transformers), captions padded or cut to
300 tokens, giving y (B, 1, 300, 4096) and the token mask (B, 300) that STDiT3's cross-attention reads."""

from __future__ import annotations

import torch

MAX_LENGTH = 300


class CaptionEncoder:
    def __init__(self, model, tokenizer, max_length: int = MAX_LENGTH):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer, self.max_length = tokenizer, max_length

    @classmethod
    def from_folder(cls, folder) -> CaptionEncoder:
        """DeepFloyd/t5-v1_1-xxl in the transformers layout, from a local folder."""
        from transformers import AutoTokenizer, T5EncoderModel

        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        return cls(T5EncoderModel.from_pretrained(str(folder), local_files_only=True), tokenizer)

    @torch.no_grad()
    def encode_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        hidden = self.model(
            input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)
        ).last_hidden_state
        return hidden[:, None]

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.tokenizer(
            captions,
            max_length=self.max_length,
            padding="max_length",
            truncation=True,
            return_tensors="pt",
            add_special_tokens=True,
        )
        return self.encode_ids(tokens.input_ids, tokens.attention_mask), tokens.attention_mask
