"""Weights folders in the layouts their publishers ship, at tiny sizes with random values.

Each builder writes the public file names, the config fields the public config files carry (values
shrunk where they set a size, everything else as published, `torch_dtype` included) and tensors under
the public key names, in the published dtype of each file. Nothing here is written by aidbench's own
save code, so a loader that only reads what aidbench saved fails these layouts.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

# stabilityai/stable-video-diffusion-img2vid: model_index.json
SVD_MODEL_INDEX = {
    "_class_name": "StableVideoDiffusionPipeline",
    "_diffusers_version": "0.24.0.dev0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
    "vae": ["diffusers", "AutoencoderKLTemporalDecoder"],
}
# unet/config.json, sizes shrunk (published: block_out_channels [320, 640, 1280, 1280], 4 levels,
# cross_attention_dim 1024, num_attention_heads [5, 10, 20, 20], addition_time_embed_dim 256,
# projection_class_embeddings_input_dim 768; img2vid-xt: num_frames 25)
SVD_UNET = {
    "_class_name": "UNetSpatioTemporalConditionModel",
    "_diffusers_version": "0.24.0.dev0",
    "addition_time_embed_dim": 8,
    "block_out_channels": [32, 64],
    "cross_attention_dim": 32,
    "down_block_types": ["CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"],
    "in_channels": 8,
    "layers_per_block": 1,
    "num_attention_heads": [2, 4],
    "num_frames": 14,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 24,
    "sample_size": 96,
    "transformer_layers_per_block": 1,
    "up_block_types": ["UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"],
}
# vae/config.json (published: block_out_channels [128, 256, 512, 512], layers_per_block 2)
SVD_VAE = {
    "_class_name": "AutoencoderKLTemporalDecoder",
    "_diffusers_version": "0.24.0.dev0",
    "block_out_channels": [32, 32],
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "force_upcast": True,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "out_channels": 3,
    "sample_size": 768,
    "scaling_factor": 0.18215,
}
# image_encoder/config.json (published: hidden_size 1280, intermediate_size 5120, 32 layers, 16 heads,
# patch_size 14, projection_dim 1024). Its "torch_dtype": "float16" is as published.
SVD_IMAGE_ENCODER = {
    "architectures": ["CLIPVisionModelWithProjection"],
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "hidden_act": "gelu",
    "hidden_size": 32,
    "image_size": 224,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 37,
    "layer_norm_eps": 1e-05,
    "model_type": "clip_vision_model",
    "num_attention_heads": 2,
    "num_channels": 3,
    "num_hidden_layers": 1,
    "patch_size": 32,
    "projection_dim": 32,
    "torch_dtype": "float16",
    "transformers_version": "4.34.0.dev0",
}
SVD_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.24.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "set_alpha_to_one": False,
    "sigma_max": 700.0,
    "sigma_min": 0.002,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "timestep_type": "continuous",
    "trained_betas": None,
    "use_karras_sigmas": True,
}
SVD_FEATURE_EXTRACTOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}
# Key names of the published image_encoder/model.safetensors that a renamed module would break.
SVD_IMAGE_ENCODER_KEYS = (
    "vision_model.embeddings.class_embedding",
    "vision_model.embeddings.patch_embedding.weight",
    "vision_model.embeddings.position_embedding.weight",
    "vision_model.pre_layrnorm.weight",
    "vision_model.encoder.layers.0.self_attn.q_proj.weight",
    "vision_model.encoder.layers.0.mlp.fc1.weight",
    "vision_model.post_layernorm.bias",
    "visual_projection.weight",
)


def _json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def _save(module: torch.nn.Module, dtype: torch.dtype, path: Path) -> None:
    """A state dict in one dtype, with the metadata the publishers' safetensors files carry."""
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, path, metadata={"format": "pt"})


def _fields(config: dict) -> dict:
    """A published config.json's model arguments: without the fields that describe the file itself."""
    file_only = ("architectures", "torch_dtype", "transformers_version")
    return {k: v for k, v in config.items() if not k.startswith("_") and k not in file_only}


def _save_shards(folder: Path, tensors: dict[str, torch.Tensor], count: int) -> None:
    """transformers' sharded layout: `model-0000i-of-0000n.safetensors` and `model.safetensors.index.json`."""
    names = sorted(tensors)
    weight_map = {}
    for index in range(1, count + 1):
        name = f"model-{index:05d}-of-{count:05d}.safetensors"
        keys = names[index - 1 :: count]
        save_file({k: tensors[k] for k in keys}, folder / name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(keys, name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    _json(
        folder / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map}
    )


def svd_folder(root: Path, variants: tuple[str, ...] = ("fp16",), seed: int = 0) -> Path:
    """stable-video-diffusion-img2vid as downloaded: `variants` among "full" (`*.safetensors`, float32)
    and "fp16" (`*.fp16.safetensors`, float16) — the fp16-only download is `("fp16",)`."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**_fields(SVD_UNET))
    vae = AutoencoderKLTemporalDecoder(**_fields(SVD_VAE))
    vision = _fields(SVD_IMAGE_ENCODER)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**vision))
    keys = set(encoder.state_dict())
    missing = [k for k in SVD_IMAGE_ENCODER_KEYS if k not in keys]
    assert not missing, f"transformers renamed CLIP's published keys: {missing}"

    folder = root / "stable-video-diffusion-img2vid"
    _json(folder / "model_index.json", SVD_MODEL_INDEX)
    _json(folder / "unet" / "config.json", SVD_UNET)
    _json(folder / "vae" / "config.json", SVD_VAE)
    _json(folder / "image_encoder" / "config.json", SVD_IMAGE_ENCODER)
    _json(folder / "scheduler" / "scheduler_config.json", SVD_SCHEDULER)
    _json(folder / "feature_extractor" / "preprocessor_config.json", SVD_FEATURE_EXTRACTOR)
    for variant in variants:
        dtype, suffix = (torch.float32, "") if variant == "full" else (torch.float16, ".fp16")
        _save(unet, dtype, folder / "unet" / f"diffusion_pytorch_model{suffix}.safetensors")
        _save(vae, dtype, folder / "vae" / f"diffusion_pytorch_model{suffix}.safetensors")
        _save(encoder, dtype, folder / "image_encoder" / f"model{suffix}.safetensors")
    return folder


def openai_clip(root: Path, form: str, seed: int = 0) -> Path:
    """OpenAI's CLIP ViT-B/32 file at a tiny width: "jit" is the TorchScript archive OpenAI publishes
    (`ViT-B-32.pt`, a traced model whose state carries `input_resolution`, `context_length` and
    `vocab_size`), "state" the same weights as a plain `torch.save`d state dict. OpenAI's key names are
    open_clip's; the vocabulary and context length are the real ones, so the real tokenizer runs."""
    import open_clip

    torch.manual_seed(seed)
    model = open_clip.model.CLIP(
        embed_dim=32,
        vision_cfg=open_clip.model.CLIPVisionCfg(layers=1, width=64, patch_size=32, image_size=224),
        text_cfg=open_clip.model.CLIPTextCfg(
            context_length=77, vocab_size=49408, width=64, heads=1, layers=1
        ),
        quick_gelu=True,
    ).eval()
    for name, value in (("input_resolution", 224), ("context_length", 77), ("vocab_size", 49408)):
        model.__dict__.pop(name, None)  # open_clip keeps two of them as plain ints; OpenAI's file as tensors
        model.register_buffer(name, torch.tensor(value))
    model.attn_mask = model._buffers.pop("attn_mask")  # OpenAI's causal mask is no buffer: not in the file
    path = root / "ViT-B-32.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if form == "state":
        torch.save(model.state_dict(), path)
        return path
    images, text = torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)
    traced = torch.jit.trace_module(
        model, {"forward": (images, text), "encode_image": (images,), "encode_text": (text,)}
    )
    torch.jit.save(traced, str(path))
    return path


# DeepFloyd/t5-v1_1-xxl: config.json, sizes shrunk (published: d_model 4096, d_ff 10240, 24 layers, 64 heads)
T5_CONFIG = {
    "architectures": ["T5EncoderModel"],
    "d_ff": 32,
    "d_kv": 8,
    "d_model": 16,
    "decoder_start_token_id": 0,
    "dense_act_fn": "gelu_new",
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": True,
    "is_gated_act": True,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "num_decoder_layers": 2,
    "num_heads": 2,
    "num_layers": 2,
    "output_past": True,
    "pad_token_id": 0,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "transformers_version": "4.21.0.dev0",
    "use_cache": True,
    "vocab_size": 32128,
}
T5_EXTRA_IDS = [f"<extra_id_{i}>" for i in range(100)]
T5_TOKENIZER_CONFIG = {
    "additional_special_tokens": T5_EXTRA_IDS,
    "eos_token": "</s>",
    "extra_ids": 100,
    "model_max_length": 512,
    "name_or_path": "t5-v1_1-xxl",
    "pad_token": "<pad>",
    "sp_model_kwargs": {},
    "special_tokens_map_file": None,
    "tokenizer_class": "T5Tokenizer",
    "unk_token": "<unk>",
}
T5_SPECIAL_TOKENS = {
    "additional_special_tokens": T5_EXTRA_IDS,
    "eos_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
}


def sentencepiece_model(path: Path, vocab_size: int = 32, llama: bool = False) -> None:
    """A SentencePiece unigram model, trained here on a few sentences, with the special ids of T5's
    `spiece.model` (pad 0, eos 1, unk 2) or of Llama's `tokenizer.model` (unk 0, bos 1, eos 2)."""
    import io

    import sentencepiece

    text = [
        "putting a jar on a surface",
        "moving the red square to the left",
        "pushing something from right to left",
        "removing the blue circle from the table",
        "placing the green triangle above the yellow square",
    ] * 20
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(text),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        minloglevel=2,
        **(
            dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
            if llama
            else dict(pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
        ),
    )
    path.write_bytes(model.getvalue())


def t5_folder(root: Path, seed: int = 0) -> Path:
    """DeepFloyd/t5-v1_1-xxl as downloaded: config.json, the encoder's weights in two safetensors shards
    with their index, and the SentencePiece tokenizer (`spiece.model`, no `tokenizer.json`)."""
    from transformers import T5Config, T5EncoderModel

    folder = root / "t5-v1_1-xxl"
    folder.mkdir(parents=True, exist_ok=True)
    _json(folder / "config.json", T5_CONFIG)
    _json(folder / "tokenizer_config.json", T5_TOKENIZER_CONFIG)
    _json(folder / "special_tokens_map.json", T5_SPECIAL_TOKENS)
    sentencepiece_model(folder / "spiece.model")
    fields = _fields(T5_CONFIG)
    torch.manual_seed(seed)
    model = T5EncoderModel(T5Config(**fields))
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors.pop("encoder.embed_tokens.weight", None)  # tied to shared.weight: stored once, as published
    _save_shards(folder, tensors, 2)
    return folder


# llava-hf/llava-1.5-7b-hf: config.json, sizes shrunk (published text model: Vicuna-7B's Llama defaults;
# vision: hidden 1024, 24 layers, 16 heads, intermediate 4096). Image and pad tokens follow the tiny
# tokenizer's vocabulary (published: 32000 and 32001 after Llama's 32000 pieces).
LLAVA_CONFIG = {
    "architectures": ["LlavaForConditionalGeneration"],
    "ignore_index": -100,
    "image_token_index": 32,
    "model_type": "llava",
    "pad_token_id": 33,
    "projector_hidden_act": "gelu",
    "text_config": {
        "_name_or_path": "lmsys/vicuna-7b-v1.5",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 32,
        "intermediate_size": 64,
        "max_position_embeddings": 4096,
        "model_type": "llama",
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-05,
        "torch_dtype": "float16",
        "vocab_size": 64,
    },
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.36.0.dev0",
    "vision_config": {
        "hidden_size": 32,
        "image_size": 336,
        "intermediate_size": 64,
        "model_type": "clip_vision_model",
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "patch_size": 14,
        "projection_dim": 32,
        "vocab_size": 32000,
    },
    "vision_feature_layer": -2,
    "vision_feature_select_strategy": "default",
    "vocab_size": 64,
}
LLAVA_PREPROCESSOR = {
    "crop_size": {"height": 336, "width": 336},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "processor_class": "LlavaProcessor",
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 336},
}
LLAVA_PROCESSOR = {
    "image_token": "<image>",
    "num_additional_image_tokens": 1,
    "patch_size": 14,
    "processor_class": "LlavaProcessor",
    "vision_feature_select_strategy": "default",
}
# transformers 5 names the modules differently from the published files; its loader maps them back.
LLAVA_PUBLISHED_PREFIXES = (
    ("model.language_model.", "language_model.model."),
    ("lm_head.", "language_model.lm_head."),
    ("model.vision_tower.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
)


def llava_folder(root: Path, seed: int = 0) -> Path:
    """llava-1.5-7b-hf as downloaded: config.json, float16 weights in three safetensors shards under the
    published key names (`language_model.model.…`, `vision_tower.…`, `multi_modal_projector.…`) with
    their index, a Llama SentencePiece tokenizer with `<image>` and `<pad>` added, and the image
    processor and processor configs."""
    from transformers import AutoTokenizer, LlavaConfig, LlavaForConditionalGeneration

    folder = root / "llava-1.5-7b-hf"
    folder.mkdir(parents=True, exist_ok=True)
    sentencepiece_model(folder / "tokenizer.model", llama=True)
    _json(folder / "tokenizer_config.json", {"tokenizer_class": "LlamaTokenizer", "legacy": False})
    tokenizer = AutoTokenizer.from_pretrained(str(folder))  # converted from tokenizer.model, as Llama's was
    tokenizer.add_tokens(["<image>"], special_tokens=True)
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    assert tokenizer.convert_tokens_to_ids(["<image>", "<pad>"]) == [32, 33]
    tokenizer.save_pretrained(str(folder))  # tokenizer.json, tokenizer_config.json, special_tokens_map.json
    _json(folder / "config.json", LLAVA_CONFIG)
    _json(folder / "preprocessor_config.json", LLAVA_PREPROCESSOR)
    _json(folder / "processor_config.json", LLAVA_PROCESSOR)

    fields = _fields(LLAVA_CONFIG)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(LlavaConfig(**fields))
    tensors = {}
    for key, value in model.state_dict().items():
        for ours, theirs in LLAVA_PUBLISHED_PREFIXES:
            if key.startswith(ours):
                key = theirs + key.removeprefix(ours)
                break
        tensors[key] = value.detach().to(torch.float16).contiguous()
    _save_shards(folder, tensors, 3)
    return folder


# laion/CLIP-ViT-H-14-laion2B-s32B-b79K: open_clip_config.json, sizes shrunk (published: embed_dim 1024;
# vision 32 layers of width 1280, head_width 80, patch 14; text 24 layers of width 1024, 16 heads). The text
# width is the SVD UNet's cross_attention_dim, as 1024 is for the released pair.
OPEN_CLIP_CONFIG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 224, "layers": 1, "width": 64, "head_width": 32, "patch_size": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 1, "layers": 1},
    },
    "preprocess_cfg": {
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
    },
}


def open_clip_folder(root: Path, seed: int = 0) -> Path:
    """CLIP-ViT-H-14-laion2B-s32B-b79K's open_clip files: the config and the same weights as safetensors and
    as the pickled state dict (`open_clip_pytorch_model.bin`) LAION ships beside it."""
    import open_clip

    folder = root / "CLIP-ViT-H-14-laion2B-s32B-b79K"
    folder.mkdir(parents=True, exist_ok=True)
    _json(folder / "open_clip_config.json", OPEN_CLIP_CONFIG)
    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**OPEN_CLIP_CONFIG["model_cfg"])
    _save(model, torch.float32, folder / "open_clip_model.safetensors")
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def _random_batch_norm(state: dict, prefix: str, width: int, tracked: bool) -> None:
    state[f"{prefix}.bn.weight"] = 1 + 0.1 * torch.randn(width)
    state[f"{prefix}.bn.bias"] = 0.1 * torch.randn(width)
    state[f"{prefix}.bn.running_mean"] = 0.1 * torch.randn(width)
    state[f"{prefix}.bn.running_var"] = 0.5 + torch.rand(width)
    if tracked:
        state[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0)


# piergiaj/pytorch-i3d's InceptionI3d as VideoGPT ships it: (end point, in channels, branch widths
# b0, b1a, b1b, b2a, b2b, b3b); the stem is Conv3d_1a_7x7 (3→64), Conv3d_2b_1x1 (64→64), Conv3d_2c_3x3 (64→192).
I3D_MIXED = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)


def i3d_checkpoint(root: Path, tracked: bool = True, seed: int = 0) -> Path:
    """VideoGPT's `i3d_pretrained_400.pt`: a `torch.save`d dict of the InceptionI3d(400) tensors under
    pytorch-i3d's module names (`<end point>.conv3d.weight`, `<end point>.bn.*`, inception branches
    `b0 … b3b`, `logits.conv3d.{weight,bias}`), full size (its size is fixed), random values. A file
    converted from TensorFlow may lack BatchNorm's `num_batches_tracked` (`tracked=False`)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def unit(prefix, cin, cout, k):
        fan = cin * k**3
        state[f"{prefix}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=gen) / fan**0.5
        _random_batch_norm(state, prefix, cout, tracked)

    for prefix, cin, cout, k in (
        ("Conv3d_1a_7x7", 3, 64, 7),
        ("Conv3d_2b_1x1", 64, 64, 1),
        ("Conv3d_2c_3x3", 64, 192, 3),
    ):
        unit(prefix, cin, cout, k)
    for name, cin, (b0, b1a, b1b, b2a, b2b, b3b) in I3D_MIXED:
        unit(f"{name}.b0", cin, b0, 1)
        unit(f"{name}.b1a", cin, b1a, 1)
        unit(f"{name}.b1b", b1a, b1b, 3)
        unit(f"{name}.b2a", cin, b2a, 1)
        unit(f"{name}.b2b", b2a, b2b, 3)
        unit(f"{name}.b3b", cin, b3b, 1)
    state["logits.conv3d.weight"] = torch.randn(400, 1024, 1, 1, 1, generator=gen) / 32
    state["logits.conv3d.bias"] = torch.zeros(400)
    path = root / "i3d_pretrained_400.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


class _InceptionLayers(torch.nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3, stride=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1)


class _Inception(torch.nn.Module):
    """The interface of StyleGAN2-ADA's Inception TorchScript: `layers` maps (x − 128)/128 at 299² to
    (B, D, 1, 1) pool features (clean-fid calls it directly); `forward` takes [0, 255] images."""

    def __init__(self, width: int):
        super().__init__()
        self.layers = _InceptionLayers(width)
        self.output = torch.nn.Linear(width, 1008)

    def forward(
        self,
        img: torch.Tensor,
        return_features: bool = False,
        use_fp16: bool = False,
        no_output_bias: bool = False,
    ) -> torch.Tensor:
        x = torch.nn.functional.interpolate(
            img.float(), size=(299, 299), mode="bilinear", align_corners=False
        )
        features = self.layers((x - 128) / 128).flatten(1)
        return features if return_features else torch.softmax(self.output(features), dim=1)


def inception_torchscript(root: Path, width: int = 16, seed: int = 0) -> Path:
    """`inception-2015-12-05.pt` (NVIDIA's TorchScript translation of TF's Inception, the file clean-fid
    loads) at a tiny width: a scripted module with the published `layers` and `forward` interface."""
    torch.manual_seed(seed)
    path = root / "inception-2015-12-05.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(_Inception(width).eval()), str(path))
    return path


class _StyleGANVDetector(torch.nn.Module):
    """The interface of StyleGAN-V's `i3d_torchscript.pt`: (B, 3, T, H, W) videos, `rescale` maps [0, 255]
    to [-1, 1], `resize` to 224², `return_features` gives the 400 logits before the softmax."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 8, (3, 7, 7), stride=(1, 8, 8))
        self.fc = torch.nn.Linear(8, 400)

    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ) -> torch.Tensor:
        x = x.float()
        if rescale:
            x = x / 127.5 - 1
        if resize:
            x = torch.nn.functional.interpolate(
                x, size=(x.shape[2], 224, 224), mode="trilinear", align_corners=False
            )
        logits = self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))
        return logits if return_features else torch.softmax(logits, dim=1)


def styleganv_detector(root: Path, seed: int = 0) -> Path:
    """StyleGAN-V's `i3d_torchscript.pt` at a tiny size: a scripted module with its published interface."""
    torch.manual_seed(seed)
    path = root / "i3d_torchscript.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(_StyleGANVDetector().eval()), str(path))
    return path


# hpcai-tech/OpenSora-VAE-v1.2: config.json (transformers' VideoAutoencoderPipeline config), as published
OPENSORA_VAE_CONFIG = {
    "architectures": ["VideoAutoencoderPipeline"],
    "cal_loss": False,
    "freeze_vae_2d": False,
    "from_pretrained": None,
    "micro_frame_size": 17,
    "model_type": "VideoAutoencoderPipeline",
    "scale": [3.85, 2.32, 2.33, 3.06],
    "shift": [-0.1, 0.34, 0.27, 0.98],
    "torch_dtype": "float32",
    "transformers_version": "4.36.2",
    "vae_2d": {
        "from_pretrained": "PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers",
        "local_files_only": True,
        "micro_batch_size": 4,
        "subfolder": "vae",
        "type": "VideoAutoencoderKL",
    },
    "vae_temporal": {"from_pretrained": None, "type": "VAE_Temporal_SD"},
}


def opensora_vae_folder(root: Path, seed: int = 0, shift_in_file: bool = True) -> Path:
    """OpenSora-VAE-v1.2's folder at a tiny width: config.json as published and one model.safetensors
    whose keys are `spatial_vae.module.<diffusers AutoencoderKL key>` (the SDXL VAE inside Open-Sora's
    wrapper), `temporal_vae.<VAE_Temporal_SD key>` and the `shift`/`scale` buffers (the pipeline registers
    them, so they are saved). The temporal keys come from aidbench's TemporalVAE: nobody publishes them
    apart from the file itself."""
    from aidbench.baselines.opensora_vae import TemporalVAE, sdxl_vae

    torch.manual_seed(seed)
    tensors = {f"spatial_vae.module.{k}": v for k, v in sdxl_vae(tiny=True).state_dict().items()}
    tensors |= {f"temporal_vae.{k}": v for k, v in TemporalVAE(filters=32).state_dict().items()}
    if shift_in_file:
        tensors["shift"] = torch.tensor(OPENSORA_VAE_CONFIG["shift"]).view(1, 4, 1, 1, 1)
        tensors["scale"] = torch.tensor(OPENSORA_VAE_CONFIG["scale"]).view(1, 4, 1, 1, 1)
    folder = root / "OpenSora-VAE-v1.2"
    _json(folder / "config.json", OPENSORA_VAE_CONFIG)
    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        str(folder / "model.safetensors"),
        metadata={"format": "pt"},
    )
    return folder


def videomae_model(width: int = 32, depth: int = 2):
    """VideoMAE-v2's own fine-tuning model class (as cd-fvd ships it) with the published 16 heads, patch 14,
    tubelet 2, 16 frames, SSv2's 174 classes and mlp ratio 48/11, at a tiny width and depth."""
    from cdfvd.third_party.VideoMAEv2.videomaev2_finetune import VisionTransformer

    return VisionTransformer(
        img_size=224,
        patch_size=14,
        embed_dim=width,
        depth=depth,
        num_heads=16,
        mlp_ratio=48 / 11,
        qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
        num_classes=174,
        all_frames=16,
        tubelet_size=2,
        use_mean_pooling=True,
    )


def videomae_checkpoint(root: Path, seed: int = 0, nest: str = "module") -> Path:
    """VideoMAE-v2's fine-tuned `vit_g_hybrid_pt_1200e_ssv2_ft.pth` (the file cd-fvd downloads) at a tiny
    size, its weights nested under "module" (or "model"), as the released checkpoints keep them."""
    torch.manual_seed(seed)
    path = root / "vit_g_hybrid_pt_1200e_ssv2_ft.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({nest: videomae_model().state_dict()}, path)
    return path


# stable-diffusion-v1-5/stable-diffusion-v1-5 (formerly runwayml/): model_index.json
SD15_MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
# unet/config.json, sizes shrunk (published: block_out_channels [320, 640, 1280, 1280], three
# CrossAttnDownBlock2D then DownBlock2D (and the mirror up), layers_per_block 2, attention_head_dim 8,
# cross_attention_dim 768, sample_size 64)
SD15_UNET = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": "0.6.0",
    "act_fn": "silu",
    "attention_head_dim": 2,
    "block_out_channels": [32, 64],
    "center_input_sample": False,
    "cross_attention_dim": 32,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 1,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 8,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
}
# vae/config.json, sizes shrunk (published: block_out_channels [128, 256, 512, 512], 4 blocks each way,
# layers_per_block 2, sample_size 512)
SD15_VAE = {
    "_class_name": "AutoencoderKL",
    "_diffusers_version": "0.6.0",
    "act_fn": "silu",
    "block_out_channels": [32, 32],
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 16,
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
}
# text_encoder/config.json, sizes shrunk (published: hidden_size 768, intermediate_size 3072, 12 heads,
# 12 layers, projection_dim 768)
SD15_TEXT_ENCODER = {
    "_name_or_path": "openai/clip-vit-large-patch14",
    "architectures": ["CLIPTextModel"],
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "quick_gelu",
    "hidden_size": 32,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "model_type": "clip_text_model",
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
    "pad_token_id": 1,
    "projection_dim": 32,
    "torch_dtype": "float32",
    "transformers_version": "4.22.0.dev0",
    "vocab_size": 49408,
}
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}
_CLIP_SPECIAL = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}


def _clip_tokenizer(folder: Path) -> None:
    """CLIPTokenizer's four files; the vocabulary cut to the special tokens and single characters (the
    published one holds 49,408 BPE tokens)."""
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab = {"<|startoftext|>": 49406, "<|endoftext|>": 49407}
    for i, c in enumerate(chars):
        vocab[c], vocab[c + "</w>"] = 2 * i, 2 * i + 1
    _json(folder / "vocab.json", vocab)
    (folder / "merges.txt").write_text("#version: 0.2\n")
    _json(folder / "special_tokens_map.json", {**_CLIP_SPECIAL, "pad_token": "<|endoftext|>"})
    _json(
        folder / "tokenizer_config.json",
        {
            **_CLIP_SPECIAL,
            "add_prefix_space": False,
            "do_lower_case": True,
            "errors": "replace",
            "model_max_length": 77,
            "name_or_path": "openai/clip-vit-large-patch14",
            "pad_token": "<|endoftext|>",
            "tokenizer_class": "CLIPTokenizer",
        },
    )


def sd15_folder(root: Path, variants: tuple[str, ...] = ("fp16",), seed: int = 0) -> Path:
    """stable-diffusion-v1-5 as downloaded (diffusers layout), `variants` among "full" and "fp16"."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**_fields(SD15_UNET))
    vae = AutoencoderKL(**_fields(SD15_VAE))
    text = CLIPTextModel(CLIPTextConfig(**_fields(SD15_TEXT_ENCODER)))
    folder = root / "stable-diffusion-v1-5"
    _json(folder / "model_index.json", SD15_MODEL_INDEX)
    _json(folder / "unet" / "config.json", SD15_UNET)
    _json(folder / "vae" / "config.json", SD15_VAE)
    _json(folder / "text_encoder" / "config.json", SD15_TEXT_ENCODER)
    _json(folder / "scheduler" / "scheduler_config.json", SD15_SCHEDULER)
    _clip_tokenizer(folder / "tokenizer")
    for variant in variants:
        dtype, suffix = (torch.float32, "") if variant == "full" else (torch.float16, ".fp16")
        _save(unet, dtype, folder / "unet" / f"diffusion_pytorch_model{suffix}.safetensors")
        _save(vae, dtype, folder / "vae" / f"diffusion_pytorch_model{suffix}.safetensors")
        _save(text, dtype, folder / "text_encoder" / f"model{suffix}.safetensors")
    return folder


# Seer's modules (SeerVideoLDM, seer/models), read off its code: the shapes its state dicts hold.
def _seer_attention(prefix: str, dim: int, heads: int, context: int | None, rotary: bool) -> dict:
    shapes = {
        f"{prefix}.to_q.weight": (dim, dim),
        f"{prefix}.to_k.weight": (dim, context or dim),
        f"{prefix}.to_v.weight": (dim, context or dim),
        f"{prefix}.to_out.0.weight": (dim, dim),
        f"{prefix}.to_out.0.bias": (dim,),
    }
    if rotary:  # rotary_embedding_torch's RotaryEmbedding(min(32, dim_head)): freqs, one per pair
        shapes[f"{prefix}.rotary_emb.freqs"] = (min(32, dim // heads) // 2,)
    return shapes


def _seer_block(prefix: str, dim: int, heads: int, context: int | None, temporal: bool) -> dict:
    """BasicTransformerBlock3D / BasicLinearTransformerBlock3D: attn1, [attn2, norm2,] ff (GEGLU), norms."""
    shapes = _seer_attention(f"{prefix}.attn1", dim, heads, None, rotary=temporal)
    shapes.update(
        {
            f"{prefix}.ff.net.0.proj.weight": (8 * dim, dim),
            f"{prefix}.ff.net.0.proj.bias": (8 * dim,),
            f"{prefix}.ff.net.2.weight": (dim, 4 * dim),
            f"{prefix}.ff.net.2.bias": (dim,),
        }
    )
    norms = ("norm1", "norm3") if temporal else ("norm1", "norm2", "norm3")
    if not temporal:
        shapes.update(_seer_attention(f"{prefix}.attn2", dim, heads, context, rotary=False))
    for norm in norms:
        shapes[f"{prefix}.{norm}.weight"] = shapes[f"{prefix}.{norm}.bias"] = (dim,)
    return shapes


def seer_temporal_shapes(unet_config: dict) -> dict[str, tuple[int, ...]]:
    """The `temporal_attentions` entries Seer's UNet adds beside every spatial transformer (temporal
    SpatialTransformer3D: GroupNorm, 1×1 proj_in, one temporal block, 1×1 proj_out)."""
    channels, heads = unet_config["block_out_channels"], unet_config["attention_head_dim"]
    layers = unet_config["layers_per_block"]
    places = []
    for i, kind in enumerate(unet_config["down_block_types"]):
        if kind.startswith("CrossAttn"):
            places += [(f"down_blocks.{i}.temporal_attentions.{j}", channels[i]) for j in range(layers)]
    places.append(("mid_block.temporal_attentions.0", channels[-1]))
    for i, kind in enumerate(unet_config["up_block_types"]):
        if kind.startswith("CrossAttn"):
            width = list(reversed(channels))[i]
            places += [(f"up_blocks.{i}.temporal_attentions.{j}", width) for j in range(layers + 1)]
    shapes = {}
    for prefix, c in places:
        shapes.update(
            {
                f"{prefix}.norm.weight": (c,),
                f"{prefix}.norm.bias": (c,),
                f"{prefix}.proj_in.weight": (c, c, 1, 1),
                f"{prefix}.proj_in.bias": (c,),
                f"{prefix}.proj_out.weight": (c, c, 1, 1),
                f"{prefix}.proj_out.bias": (c,),
            }
        )
        shapes.update(_seer_block(f"{prefix}.transformer_blocks.0", c, heads, None, temporal=True))
    return shapes


def seer_fstext_shapes(width: int, layers: int = 8, heads: int = 8) -> dict[str, tuple[int, ...]]:
    """FSTextTransformer(num_frames=16, num_layers=8) as Seer builds it: a learnable query, a 16 × 1024
    position table, per layer a LinearTransformer3D of a text block and a temporal block, a final norm."""
    shapes = {"learnable_query": (1, 1, 1, width), "pos_embed": (1, 16, 1024, width)}
    for n in range(layers):
        for b, temporal in ((0, False), (1, True)):
            prefix = f"trf_blocks.{n}.transformer_blocks.{b}"
            shapes.update(_seer_block(prefix, width, heads, width, temporal))
    shapes["norm.weight"] = shapes["norm.bias"] = (width,)
    return shapes


def _random_state(shapes: dict, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=generator) * 0.02 for k, shape in shapes.items()}
    for k in state:
        if k.endswith("rotary_emb.freqs"):
            dim = state[k].numel() * 2
            state[k] = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        elif k.endswith(("norm.weight", "norm1.weight", "norm2.weight", "norm3.weight")):
            state[k] = 1 + state[k]
    return state


def seer_fstext_init(root: Path, width: int = 32, seed: int = 0) -> Path:
    """store_pth/fstext_init/pytorch_model.bin: FSText's state dict as `torch.save` writes it."""
    path = root / "SeerVideo" / "fstext_init" / "pytorch_model.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(_random_state(seer_fstext_shapes(width), seed), path)
    return path


def seer_checkpoint(root: Path, sd15: Path, seed: int = 0) -> Path:
    """A fine-tune's learned_sdunet-steps-N folder as accelerate's save_state writes it: pytorch_model.bin
    (the inflated UNet: SD 1.5's keys and the temporal ones) and pytorch_model_1.bin (FSText)."""
    from safetensors.torch import load_file

    folder = root / "SeerVideo" / "sthv2_seer" / "learned_sdunet-steps-200000"
    folder.mkdir(parents=True, exist_ok=True)
    spatial = load_file(str(sd15 / "unet" / "diffusion_pytorch_model.fp16.safetensors"))
    unet = {k: v.float() for k, v in spatial.items()}
    unet.update(_random_state(seer_temporal_shapes(SD15_UNET), seed))
    torch.save(unet, folder / "pytorch_model.bin")
    width = SD15_TEXT_ENCODER["hidden_size"]
    torch.save(_random_state(seer_fstext_shapes(width), seed + 1), folder / "pytorch_model_1.bin")
    return folder
