from __future__ import annotations

import torch

from aidbench.baselines.opensora import TINY, STDiT3
from aidbench.baselines.opensora_text import CaptionEncoder


def _tiny():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = ["<pad>", "<unk>", "</s>", "putting", "jar", "on", "a", "surface", "open", "the", "box"]
    backend = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    )
    torch.manual_seed(0)
    model = T5EncoderModel(
        T5Config(vocab_size=len(words), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    )
    return CaptionEncoder(model, tokenizer, max_length=8)


def test_captions_become_padded_token_features_and_a_mask():
    encoder = _tiny()
    y, mask = encoder(["putting jar on a surface", "open the box"])
    assert y.shape == (2, 1, 8, 16) and mask.tolist() == [[1] * 5 + [0] * 3, [1] * 3 + [0] * 5]


def test_stdit3_reads_the_caption_tokens_through_the_mask():
    encoder = _tiny()
    y, mask = encoder(["putting jar on a surface", "open the box"])
    model = STDiT3(TINY.__class__(**{**TINY.__dict__, "caption_channels": 16})).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 4, 2, 4, 4), torch.tensor([10.0, 900.0]), y, mask)
    assert out.shape == (2, 8, 2, 4, 4)
