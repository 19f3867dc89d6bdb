"""Every weight aidbench reads, in the layouts its publisher ships (tests/published.py): loaded through the
real loading path, then run once."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from aidbench import weights
from aidbench.errors import UserError
from tests import published

SMALL = [
    "--preset",
    "smoke",
    "--set",
    "model.size=paper",
    "--set",
    "model.latent_space=vae",
    "--set",
    "model.text_tower=clip",
    "--set",
    "data.max_clips=2",
    "--set",
    "data.num_frames=4",
    "--set",
    "sample.num_inference_steps=2",
]


@pytest.mark.parametrize("variants", [("fp16",), ("full",), ("full", "fp16")])
def test_svd_loads_from_each_download_in_float32(tmp_path, variants):
    """The fp16-only download, the full one (whose image encoder config says torch_dtype float16), both."""
    from aidbench.model.components import load_svd

    pipe = load_svd(published.svd_folder(tmp_path, variants))
    for part in (pipe.unet, pipe.vae, pipe.image_encoder):
        assert part.dtype == torch.float32
    half = published.svd_folder(tmp_path / "other", ("fp16",))
    from safetensors.torch import load_file

    expected = load_file(half / "unet" / "diffusion_pytorch_model.fp16.safetensors")
    got = load_svd(half).unet.state_dict()
    for key in list(expected)[:20]:
        torch.testing.assert_close(got[key], expected[key].float())


def test_svd_zero_shot_samples_from_the_fp16_download(cli, tmp_path):
    folder = published.svd_folder(tmp_path / "weights", ("fp16",))
    result = cli("sample", "--model", "svd-zeroshot", *SMALL, "--weights", f"svd={folder}", "--run-id", "z")
    assert result.code == 0, result.err
    assert "Loading" not in result.err  # no per-file loading bars on stderr
    samples = sorted((tmp_path / "results/runs/sample/z/samples").iterdir())
    assert len(samples) == 2
    meta = json.loads((samples[0] / "meta.json").read_text())
    assert meta["system"] == "svd-zeroshot"


def test_svd_folders_that_cannot_load_are_one_sentence(cli, tmp_path):
    from aidbench.model.components import load_svd

    folder = published.svd_folder(tmp_path, ("fp16",))
    unet = folder / "unet" / "diffusion_pytorch_model.fp16.safetensors"
    unet.write_bytes(unet.read_bytes()[: unet.stat().st_size // 2])  # a half-downloaded file
    with pytest.raises(UserError, match="not a complete safetensors file.*download it again"):
        load_svd(folder)
    unet.unlink()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="safetensors files only"):
        load_svd(folder)
    result = cli("sample", "--model", "svd-zeroshot", *SMALL, "--weights", f"svd={folder}")
    assert result.code == 1 and "safetensors files only" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("form", ["jit", "state"])
def test_openai_clip_loads_from_its_archive_and_its_state_dict(tmp_path, monkeypatch, form):
    from aidbench.metrics.clipsim import CLIPSimilarity

    path = published.openai_clip(tmp_path, form)
    if form == "jit":
        with pytest.raises(UserError, match="not OpenAI's published ViT-B-32.pt"):
            CLIPSimilarity(path)
        published_file = dataclasses.replace(weights.KNOWN["clip"], sha256=weights.sha256_file(path))
        monkeypatch.setitem(weights.KNOWN, "clip", published_file)  # as if it were OpenAI's file
    scorer = CLIPSimilarity(path)
    frames = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    same = CLIPSimilarity(published.openai_clip(tmp_path / "again", "state"))
    assert scorer.video_score(frames, "putting a jar") == pytest.approx(
        same.video_score(frames, "putting a jar")
    )
    assert next(scorer.model.parameters()).dtype == torch.float32


def test_a_file_that_is_no_clip_is_one_sentence(tmp_path):
    from aidbench.metrics.clipsim import CLIPSimilarity

    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a CLIP weights file"):
        CLIPSimilarity(tmp_path / "x.pt")


def test_t5_loads_from_deepfloyds_folder_with_its_sentencepiece_tokenizer(tmp_path):
    from transformers import T5EncoderModel

    from baselines.opensora_text import CaptionEncoder

    folder = published.t5_folder(tmp_path)
    encoder = CaptionEncoder.from_folder(folder)
    y, mask = encoder(["putting a jar on a surface", "moving the red square"])
    assert y.shape == (2, 1, 300, published.T5_CONFIG["d_model"]) and mask.shape == (2, 300)
    assert y.dtype == torch.float32
    assert mask[0].sum() > mask[1].sum() > 1  # the longer caption has more tokens, each ends in </s>
    ids = encoder.tokenizer("putting a jar").input_ids
    assert ids[-1] == 1 and all(i < 32 for i in ids)  # T5's eos, pieces of the SentencePiece model
    reference = T5EncoderModel.from_pretrained(str(folder), use_safetensors=True).state_dict()
    for key, value in encoder.model.state_dict().items():
        torch.testing.assert_close(value, reference[key])


def test_llava_describes_a_frame_from_its_published_folder(tmp_path):
    """The paper's prompt names "<image>" itself: exactly one image token reaches the processor."""
    from safetensors import safe_open

    from aidbench.data.states import PROMPT_TEMPLATE
    from aidbench.model.mllm import Llava, llava_prompt

    folder = published.llava_folder(tmp_path)
    with safe_open(str(folder / "model-00001-of-00003.safetensors"), "pt") as handle:
        assert all(
            k.split(".")[0] in ("language_model", "vision_tower", "multi_modal_projector")
            for k in handle.keys()  # noqa: SIM118 (safe_open is not iterable)
        )
    prompt = PROMPT_TEMPLATE.format(instruction="Putting jar on a surface")
    assert llava_prompt(prompt).count("<image>") == 1 and llava_prompt("Describe.").count("<image>") == 1
    llava = Llava(folder, max_new_tokens=4)
    assert next(llava.model.parameters()).dtype == torch.float32
    frame = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    assert isinstance(llava(frame, prompt), str)
    reference = published.llava_folder(tmp_path / "again")  # same seed, same weights
    with safe_open(str(reference / "model-00002-of-00003.safetensors"), "pt") as handle:
        key = next(k for k in handle.keys() if k.startswith("multi_modal_projector."))  # noqa: SIM118
        stored = handle.get_tensor(key)
    loaded = llava.model.state_dict()["model." + key]
    torch.testing.assert_close(loaded, stored.float())


def test_data_states_runs_llava_from_its_folder_and_refuses_a_missing_gpu(cli, tmp_path):
    import torch.cuda

    folder = published.llava_folder(tmp_path / "weights")
    args = ["data", "states", "--dataset", "synthtvp", "--backend", "llava", "--weights", f"llava={folder}"]
    args += ["--split", "test", "--out", str(tmp_path / "s.jsonl"), "--set", "data.max_clips=1"]
    if not torch.cuda.is_available():
        refused = cli(*args, "--device", "cuda")
        assert refused.code == 1 and "torch sees no GPU" in refused.err and "Traceback" not in refused.err
    done = cli(*args)
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert result["written"] + len(result["failed"]) == 1  # random weights rarely answer in four states


@pytest.mark.parametrize("name", ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
def test_the_clip_text_tower_loads_from_laions_files(tmp_path, name):
    from aidbench.model.components import load_text_encoder

    folder = published.open_clip_folder(tmp_path)
    text = load_text_encoder(folder / name)
    features = text(["putting a jar on a surface", ""])
    assert (
        features.shape[0] == 2
        and features.shape[-1] == published.OPEN_CLIP_CONFIG["model_cfg"]["text_cfg"]["width"]
    )
    assert features.dtype == torch.float32


def test_aid_trains_a_step_from_the_published_svd_and_clip_folders(cli, tmp_path):
    """`train aid` at the paper's settings on SVD's fp16-only download and LAION's open_clip folder, both at
    tiny sizes: one step, then a sample from its output."""
    svd = published.svd_folder(tmp_path / "weights", ("fp16",))
    clip = published.open_clip_folder(tmp_path / "weights") / "open_clip_model.safetensors"
    weights_args = ["--weights", f"svd={svd}", "--weights", f"clip-vit-h14={clip}"]
    settings = [*SMALL, "--set", "train.max_steps=1", "--set", "train.batch_size_per_device=1"]
    settings += ["--set", "train.validation_clips=0", "--set", "model.mcondition.width=64"]
    settings += ["--set", "model.mcondition.query_length=8", "--set", "model.mcondition.heads=2"]
    trained = cli("train", "aid", *settings, *weights_args, "--run-id", "paper-layout")
    assert trained.code == 0, trained.err
    output = tmp_path / "results/runs/train/paper-layout/output"
    sampled = cli("sample", "--checkpoint", str(output), *SMALL, *weights_args, "--run-id", "paper-sample")
    assert sampled.code == 0, sampled.err
