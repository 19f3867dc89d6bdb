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
from tests import published, settings

SMALL = settings.args(
    "model.size=paper",
    "model.latent_space=vae",
    "model.text_tower=clip",
    "data.max_clips=2",
    "data.num_frames=4",
    *settings.FEW_STEPS,
)


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
        with pytest.raises(UserError, match="not the recorded"):
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
    small_aid = ["train.validation_clips=0", "model.mcondition.width=64", "model.mcondition.query_length=8"]
    one_step = [*SMALL, *settings.args(*settings.ONE_STEP, *small_aid, "model.mcondition.heads=2")[2:]]
    trained = cli("train", "aid", *one_step, *weights_args, "--run-id", "paper-layout")
    assert trained.code == 0, trained.err
    output = tmp_path / "results/runs/train/paper-layout/output"
    sampled = cli("sample", "--checkpoint", str(output), *SMALL, *weights_args, "--run-id", "paper-sample")
    assert sampled.code == 0, sampled.err


@pytest.mark.parametrize("tracked", [True, False])
def test_i3d_loads_videogpts_checkpoint_strictly_and_scores_a_clip(tmp_path, tracked):
    from aidbench.metrics import fvd

    path = published.i3d_checkpoint(tmp_path, tracked)
    extractor = fvd.I3DFeatures(path, fvd.SEER)
    clip = np.random.default_rng(0).integers(0, 256, (1, 10, 32, 32, 3), dtype=np.uint8)
    logits = extractor(clip)
    assert logits.shape == (1, 400) and np.isfinite(logits).all()
    assert extractor.weights_sha256 == weights.sha256_file(path)
    state = torch.load(path, weights_only=True)
    state["Mixed_5c.b0.conv3d.weight"] = state["Mixed_5c.b0.conv3d.weight"][:1]
    torch.save(state, path)
    with pytest.raises(UserError, match="not the InceptionI3d"):
        fvd.I3DFeatures(path, fvd.SEER)


@pytest.mark.parametrize("nest", ["module", "model"])
def test_videomae_loads_the_fine_tuned_checkpoint_strictly_and_gives_cd_fvds_features(tmp_path, nest):
    """Sizes read from the file; features equal cd-fvd's own preprocessing and forward_features."""
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    from aidbench.metrics import videomae

    path = published.videomae_checkpoint(tmp_path, nest=nest)
    extractor = videomae.VideoMAEFeatures(path)
    clips = np.random.default_rng(0).integers(0, 256, (2, 17, 40, 56, 3), dtype=np.uint8)
    features = extractor(clips)
    with torch.no_grad():
        expected = extractor.model.forward_features(preprocess_videomae(clips[:, :16])).double().numpy()
    assert features.shape == (2, 32) and np.abs(features - expected).max() < 1e-5
    assert np.abs(features[0] - features[1]).max() > 1e-3  # input-sensitive
    assert extractor.weights_sha256 == weights.sha256_file(path)
    state = torch.load(path, weights_only=True)
    state[nest]["blocks.1.attn.qkv.weight"] = state[nest]["blocks.1.attn.qkv.weight"][:3]
    torch.save(state, path)
    with pytest.raises(UserError, match="does not fit VideoMAE-v2 ViT-g/14"):
        videomae.load(path)
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(UserError, match="is not a VideoMAE-v2 fine-tuned checkpoint"):
        videomae.load(path)
    with pytest.raises(UserError, match="fvd@videomae scores 16 frames; the clips have 12"):
        extractor(clips[:, :12])


def _fetch_from_this_machine(tmp_path, name: str, served) -> object:
    """`weights.fetch` of `served` through a server on this machine (fetch allows http only to it)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{served.name}"
        return weights.fetch(name, tmp_path / "weights", url)
    finally:
        server.shutdown()


def test_cleanfids_inception_torchscript_loads_only_when_fetched_or_trusted(cli, tmp_path):
    from aidbench.metrics.fid import InceptionFeatures, frame_features

    served = published.inception_torchscript(tmp_path / "served")
    with pytest.raises(UserError, match="loads it only once pinned: `aidbench weights fetch inception`"):
        InceptionFeatures(served)
    fetched = _fetch_from_this_machine(tmp_path, "inception", served)
    assert weights.pin_path(fetched).read_text().split() == [weights.sha256_file(served), fetched.name]
    model = InceptionFeatures(fetched)
    frames = np.random.default_rng(0).integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    features = frame_features(frames, model)
    assert features.shape == (3, 16) and np.isfinite(features).all() and features.std() > 0

    # a file the user downloaded by hand is pinned with `weights trust`, and verify then checks it
    trusted = cli("weights", "trust", "inception", "--weights", f"inception={served}")
    assert trusted.code == 0 and weights.sha256_file(served) in trusted.out
    InceptionFeatures(served)
    assert "ok" in cli("weights", "verify", "inception", "--weights", f"inception={served}").out
    served.write_bytes(served.read_bytes()[:-1] + b"x")  # changed after it was pinned
    with pytest.raises(UserError, match="not the pinned"):
        InceptionFeatures(served)
    assert cli("weights", "verify", "inception", "--weights", f"inception={served}").code == 1


def test_styleganvs_detector_runs_with_its_own_rescale_and_resize(tmp_path):
    from aidbench.metrics import fvd

    path = published.styleganv_detector(tmp_path)
    weights.pin(path)
    protocol = fvd.VideoProtocol(**{**fvd.STYLEGANV.to_dict(), "detector": "i3d-torchscript"})
    extractor = fvd.I3DFeatures(path, protocol)
    clips = np.random.default_rng(0).integers(0, 256, (2, 16, 32, 32, 3), dtype=np.uint8)
    logits = extractor(clips)
    assert logits.shape == (2, 400) and np.isfinite(logits).all()
    reference = torch.jit.load(str(path))(
        torch.from_numpy(clips).permute(0, 4, 1, 2, 3), rescale=True, resize=True, return_features=True
    )
    np.testing.assert_allclose(logits, reference.detach().double().numpy(), rtol=1e-6)


@pytest.mark.parametrize("shift_in_file", [True, False])
def test_open_soras_vae_loads_from_its_folder_and_reads_its_config(tmp_path, shift_in_file):
    from aidbench.baselines.opensora_vae import TemporalVAE, VideoVAE, load, sdxl_vae

    folder = published.opensora_vae_folder(tmp_path, shift_in_file=shift_in_file)
    config = json.loads((folder / "config.json").read_text())
    config["vae_2d"]["micro_batch_size"], config["shift"] = 2, [0.5, 0.25, 0.0, -0.5]
    (folder / "config.json").write_text(json.dumps(config))
    vae = load(folder, VideoVAE(sdxl_vae(tiny=True), TemporalVAE(filters=32)))
    expected_shift = published.OPENSORA_VAE_CONFIG["shift"] if shift_in_file else config["shift"]
    assert vae.shift.flatten().tolist() == pytest.approx(expected_shift) and vae.micro_batch == 2
    with torch.no_grad():
        z = vae.encode(torch.rand(1, 3, 17, 16, 16) * 2 - 1, sample=False)
        assert z.shape == (1, 4, 5, 2, 2)
        assert vae.decode(z, 17).shape == (1, 3, 17, 16, 16)

    config["micro_frame_size"] = 16
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="describes another VAE .*micro_frame_size 16"):
        load(folder, VideoVAE(sdxl_vae(tiny=True), TemporalVAE(filters=32)))


def test_every_weight_aidbench_knows_has_a_published_layout_test():
    from tests import test_lpips, test_opensora, test_seer

    covered = {
        "i3d": test_i3d_loads_videogpts_checkpoint_strictly_and_scores_a_clip,
        "i3d-torchscript": test_styleganvs_detector_runs_with_its_own_rescale_and_resize,
        "videomae": test_videomae_loads_the_fine_tuned_checkpoint_strictly_and_gives_cd_fvds_features,
        "inception": test_cleanfids_inception_torchscript_loads_only_when_fetched_or_trusted,
        "clip": test_openai_clip_loads_from_its_archive_and_its_state_dict,
        "svd": test_svd_loads_from_each_download_in_float32,
        "clip-vit-h14": test_the_clip_text_tower_loads_from_laions_files,
        "opensora-stdit3": test_opensora.test_the_released_folder_config_sets_the_architecture,
        "opensora-vae": test_open_soras_vae_loads_from_its_folder_and_reads_its_config,
        "t5-xxl": test_t5_loads_from_deepfloyds_folder_with_its_sentencepiece_tokenizer,
        "llava": test_llava_describes_a_frame_from_its_published_folder,
        "alexnet": test_lpips.test_the_backbone_comes_from_the_published_file_and_the_linear_layers_from_the_package,
        "sd15": test_seer.test_sd15_as_published_loads_and_one_step_trains_only_the_temporal_layers_and_fstext,
        "seer-fstext-init": test_seer.test_sd15_as_published_loads_and_one_step_trains_only_the_temporal_layers_and_fstext,
        "seer": test_seer.test_the_released_checkpoint_loads_strictly_and_names_what_is_missing,
    }
    assert set(covered) == set(weights.KNOWN)
