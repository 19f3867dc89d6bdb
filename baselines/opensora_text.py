"""Open-Sora 1.2's caption conditioning: T5 v1.1 XXL's encoder (transformers), captions padded or cut to
300 tokens, giving y (B, 1, 300, 4096) and the token mask (B, 300) that STDiT3's cross-attention reads."""

from __future__ import annotations

import torch

from aidbench.environment import quiet_loading
from aidbench.errors import UserError

MAX_LENGTH = 300


class CaptionEncoder:
    def __init__(self, model, tokenizer, max_length: int = MAX_LENGTH):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer, self.max_length = tokenizer, max_length

    @classmethod
    def from_folder(cls, folder) -> CaptionEncoder:
        """DeepFloyd/t5-v1_1-xxl as published, from a local folder: its SentencePiece tokenizer
        (`spiece.model`) and the encoder's safetensors shards, loaded in float32."""
        import importlib.util
        from pathlib import Path

        from transformers import AutoTokenizer, T5EncoderModel

        folder = Path(folder)
        if not (folder / "tokenizer.json").is_file():
            if not (folder / "spiece.model").is_file():
                raise UserError(f"{folder} holds no T5 tokenizer (spiece.model or tokenizer.json).")
            missing = [m for m in ("sentencepiece", "google.protobuf") if importlib.util.find_spec(m) is None]
            if missing:
                raise UserError(
                    f"T5's tokenizer ({folder / 'spiece.model'}) needs the packages sentencepiece and protobuf: "
                    "pip install sentencepiece protobuf."
                )
        quiet_loading()
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        # safetensors shards first; a pickled .bin shard is read by transformers with weights_only=True
        model = T5EncoderModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
        return cls(model, tokenizer)

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


TINY_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789 .,'-"


# google/t5-v1_1-xxl's encoder (DeepFloyd/t5-v1_1-xxl config.json)
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64)


def random_caption_encoder(seed: int = 0) -> CaptionEncoder:
    """T5 v1.1 XXL's encoder architecture with random weights and the in-code character tokenizer, padded
    to Open-Sora's 300 tokens: `aidbench bench` timing needs no download."""
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    model = T5EncoderModel(T5Config(**T5_XXL, feed_forward_proj="gated-gelu"))
    return CaptionEncoder(model, _character_tokenizer(), max_length=MAX_LENGTH)


def _character_tokenizer():
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(TINY_CHARACTERS)}}
    backend = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    )


def tiny_caption_encoder(max_length: int = 32, width: int = 16, seed: int = 0) -> CaptionEncoder:
    """A one-layer T5 encoder (transformers, random weights seeded by `seed`) with a character-level tokenizer
    written here (lower-cased letters, digits, space, a little punctuation): tests and the smoke preset,
    no files needed; distinct instructions give distinct token features."""
    from transformers import T5Config, T5EncoderModel

    tokenizer = _character_tokenizer()
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=width, d_kv=8, d_ff=2 * width, num_layers=1, num_heads=2
    )
    return CaptionEncoder(T5EncoderModel(config), tokenizer, max_length=max_length)


class WordCaptions:
    """[smoke] `model.text_tower: words` for Open-Sora, as for AID: every caption token carries the sentence's
    fixed word feature (model/text.py, WordFeatures) instead of a random tiny T5's, which carries no
    instruction a tiny model learns to read in minutes. Same calls as CaptionEncoder."""

    def __init__(self, max_length: int, width: int):
        from aidbench.model.text import WordFeatures

        self.model, self.max_length = WordFeatures(width, max_length), max_length

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model(captions)
        return features[:, None], torch.ones(len(captions), self.max_length, dtype=torch.long)
