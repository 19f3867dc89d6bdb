"""opensora-zeroshot and opensora-fullft on tiny components: training (exact resume), sampling through the
shared layout, reference latents held clean and left out of the loss, the short-clip timestep option, and
the VAE loader's key layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from aidbench.baselines import rflow
from aidbench.baselines.opensora_system import (
    OpenSoraObjective,
    build,
    check,
    encode_clips,
    generator_for,
    schedule,
)
from aidbench.config import resolve
from aidbench.data.clips import to_model
from aidbench.data.open import open_dataset
from aidbench.data.video import read_video
from aidbench.errors import UserError
from aidbench.predictor import Context
from tests import settings
from tests.training import train_in_run

TINY = [
    "data.max_clips=2",
    *settings.TINY[2:],
    *settings.FEW_STEPS,
    "train.batch_size_per_device=1",
    "train.validation_clips=0",
    # Open-Sora's own VAE and T5 (at test sizes); the smoke preset's pixel space is tested on its own below
    "model.latent_space=vae",
    "model.text_tower=clip",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def _config(*extra: str):
    return resolve(preset="smoke", overrides=[*TINY, "model.name=opensora-fullft", *extra])


def _train(run_id: str, stop_at: int | None = None, resume: bool = False):
    from aidbench.baselines.opensora_system import train

    cfg = _config(
        "train.max_steps=2",
        "train.checkpoint_every=1",
        "train.checkpoints_total_limit=1",
        "train.validation_clips=1",
    )
    return train_in_run(cfg, run_id, train, stop_at, resume)[0]


def test_full_fine_tune_trains_every_weight_resumes_exactly_and_samples(cli, tmp_path):
    whole = _train("whole")
    with pytest.raises(KeyboardInterrupt):
        _train("split", stop_at=1)  # dies after step 1's checkpoint
    resumed = _train("split", resume=True)
    assert resumed.state["losses"] == whole.state["losses"] and len(whole.state["losses"]) == 2
    final_whole = load_file(whole.path / "output" / "trainable.safetensors")
    final_split = load_file(resumed.path / "output" / "trainable.safetensors")
    parts = build(_config())
    names = {n for n, p in parts.denoiser.named_parameters()} - {"rope.freqs"}
    assert set(final_whole) == names  # every STDiT3 weight trains, under the released names
    assert all(torch.equal(final_whole[k], final_split[k]) for k in names)
    assert (
        whole.path / "validation/step-2/synthtvp-move1-test-00000-0.mp4"
    ).is_file()  # the preview, sampled
    initial = dict(parts.denoiser.named_parameters())
    assert not torch.equal(final_whole["final_layer.linear.weight"], initial["final_layer.linear.weight"])

    sampled = cli(
        "sample",
        "--checkpoint",
        str(whole.path / "output"),
        "--run-id",
        "s",
        *settings.args(*TINY),
    )
    assert sampled.code == 0, sampled.err
    samples = tmp_path / "results/runs/sample/s/samples"
    clips = {clip.clip_id: clip for clip in open_dataset(_config(), "test")}
    assert sorted(p.name for p in samples.iterdir()) == sorted(clips)
    for folder in samples.iterdir():
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["system"] == "opensora-fullft" and meta["num_ref_frames"] == 1
        video = read_video(folder)
        assert video.shape == (4, 16, 16, 3) and video.dtype == np.uint8
        assert np.array_equal(video[0], clips[folder.name].frames[0])  # the true reference frame first


def test_zero_shot_sampling_holds_the_reference_latents(cli, tmp_path):
    result = cli(
        "sample", "--model", "opensora-zeroshot", "--run-id", "z", *settings.args(*TINY),
    )  # fmt: skip
    assert result.code == 0, result.err
    folders = sorted((tmp_path / "results/runs/sample/z/samples").iterdir())
    assert len(folders) == 2
    assert json.loads((folders[0] / "meta.json").read_text())["system"] == "opensora-zeroshot"
    assert read_video(folders[0]).shape == (4, 16, 16, 3)

    # two reference frames of eight: 1 held latent frame, then latent_frames(6) = 2 to generate
    cfg = _config("data.num_frames=8", "data.num_ref_frames=2", "data.resolution=32")
    parts = build(cfg)
    parts.denoiser.eval()
    clip = next(iter(open_dataset(cfg, "test")))
    seen = []
    parts.denoiser.register_forward_pre_hook(lambda module, args: seen.append((args[0], args[4])))
    video = generator_for(cfg, parts)(Context.of(clip, seed=7))
    assert video.shape == (6, 32, 32, 3) and video.dtype == np.uint8  # the predicted frames
    expected = parts.vae.encode(
        to_model(clip.frames[:2]).movedim(0, 1)[None], torch.Generator().manual_seed(7)
    )
    assert expected.shape[2] == 1 and len(seen) == 2
    for x, x_mask in seen:  # every step, both guidance branches: the clean reference latent, as a condition
        assert x.shape == (2, 4, 3, 4, 4)
        torch.testing.assert_close(x[:, :, :1], expected.expand(2, -1, -1, -1, -1), rtol=0, atol=0)
        assert x_mask.tolist() == [[False, True, True]] * 2
    assert not torch.equal(seen[0][0][:, :, 1:], seen[1][0][:, :, 1:])  # the rest moves


def test_the_loss_leaves_the_reference_latents_out_and_drops_captions():
    cfg = _config("data.num_frames=8", "data.num_ref_frames=2", "model.opensora.caption_dropout=0")
    parts = build(cfg)
    clips = list(open_dataset(cfg, "train"))[:2]
    seen = {}
    delta = torch.zeros(2, 8, 3, 2, 2, requires_grad=True)

    def record(module, args, output):
        seen["x"], seen["y"], seen["x_mask"] = args[0], args[2], args[4]
        return output + delta  # a change of the prediction we can take gradients with respect to

    parts.denoiser.register_forward_hook(record)
    OpenSoraObjective(parts, cfg)(clips, torch.Generator().manual_seed(3)).backward()
    assert seen["x_mask"].tolist() == [[False, True, True]] * 2
    assert (delta.grad[:, :, :1] == 0).all()  # the reference latent's prediction does not count
    assert (delta.grad[:, :4, 1:] != 0).all() and (delta.grad[:, 4:] == 0).all()  # velocity channels only

    g = torch.Generator().manual_seed(3)
    torch.rand(2, generator=g)  # the caption-dropout draw comes first
    frames = to_model(np.stack([c.frames for c in clips]))
    with torch.no_grad():
        x0, held = encode_clips(parts.vae, frames, 2, g)
    assert held == 1
    torch.testing.assert_close(seen["x"][:, :, :1], x0[:, :, :1], rtol=0, atol=0)  # held clean
    assert not torch.allclose(seen["x"][:, :, 1:], x0[:, :, 1:])  # the rest is noised
    null = parts.denoiser.y_embedder.y_embedding
    assert not torch.equal(seen["y"][0, 0], null)

    dropped = _config("data.num_frames=8", "data.num_ref_frames=2", "model.opensora.caption_dropout=1")
    OpenSoraObjective(parts, dropped)(clips, torch.Generator().manual_seed(3))
    assert all(torch.equal(seen["y"][i, 0], null) for i in range(2))  # Open-Sora's learned null caption


def test_the_short_clip_option_changes_the_timesteps_as_documented():
    g = torch.Generator().manual_seed(0)
    opensora = _config("data.num_frames=16", "model.opensora.timestep_transform=open-sora")
    assert resolve().model.opensora.timestep_transform == "open-sora"  # the default is Open-Sora's own
    # the paper presets (16 frames) count latent frames: Open-Sora's own transform would collapse them
    assert resolve(preset="paper-ssv2").model.opensora.timestep_transform == "latent-frames"
    collapsed = rflow.training_timesteps(64, g, 256, 256, 16, **schedule(opensora, 5))
    assert (collapsed == 0).all()  # Open-Sora's frames′ = 16 // 17 · 5 = 0
    with pytest.raises(UserError, match="model.opensora.timestep_transform=latent-frames"):
        check(opensora, "test")

    latent = _config("data.num_frames=16", "model.opensora.timestep_transform=latent-frames")
    check(latent, "test")
    raw = torch.linspace(10, 990, 50)
    ours = rflow.timestep_transform(
        raw, 256, 256, 16, **{"latent_frames": schedule(latent, 5)["latent_frames"]}
    )
    torch.testing.assert_close(ours, rflow.timestep_transform(raw, 256, 256, 17))  # = Open-Sora at 17 frames
    assert (ours > 0).all() and (ours < 1000).all()

    off = _config("data.num_frames=16", "model.opensora.timestep_transform=off")
    unshifted = rflow.training_timesteps(
        64, torch.Generator().manual_seed(1), 256, 256, 16, **schedule(off, 5)
    )
    logit_normal = torch.sigmoid(torch.randn(64, generator=torch.Generator().manual_seed(1))) * 1000
    torch.testing.assert_close(unshifted, logit_normal)
    assert rflow.sampling_timesteps(4, 256, 256, 16, **schedule(off, 5)) == [1000.0, 750.0, 500.0, 250.0]


def test_model_info_counts_the_released_stdit3(cli):
    fullft = json.loads(cli("model-info", "opensora-fullft", "--preset", "paper-ssv2", "--json").out)
    zeroshot = json.loads(cli("model-info", "opensora-zeroshot", "--preset", "paper-ssv2", "--json").out)
    assert fullft["trainable"] == 1_207_643_936 and zeroshot["total"] == fullft["total"]
    assert zeroshot["trainable"] == 0


def test_the_vae_loader_reads_open_soras_layout_and_names_the_keys_that_differ(tmp_path):
    from safetensors.torch import save_file

    from aidbench.baselines.opensora_vae import TemporalVAE, VideoVAE, load, sdxl_vae

    def tiny(seed):
        torch.manual_seed(seed)
        return VideoVAE(sdxl_vae(tiny=True), TemporalVAE(filters=32))

    source = tiny(0)
    released = {
        k.replace("spatial_vae.", "spatial_vae.module.", 1): v.contiguous()
        for k, v in source.state_dict().items()
    }
    save_file(released, tmp_path / "model.safetensors")
    loaded = load(tmp_path, tiny(1))
    state = loaded.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in source.state_dict().items())

    released.pop("temporal_vae.decoder.conv_out.conv.weight")
    released["spatial_vae.module.encoder.mid_block.attentions.0.query.weight"] = torch.zeros(1)
    save_file(released, tmp_path / "model.safetensors")
    with pytest.raises(UserError) as err:
        load(tmp_path, tiny(1))
    message = str(err.value)
    assert "missing: temporal_vae.decoder.conv_out.conv.weight" in message
    assert "unexpected: spatial_vae.encoder.mid_block.attentions.0.query.weight" in message


def test_the_tiny_system_reads_as_many_caption_tokens_as_its_tokenizer_gives():
    parts = build(_config())
    y, mask = parts.captions(["Moving the red square left", "Moving the red square right"])
    width = parts.denoiser.config.caption_channels
    assert y.shape == (2, 1, parts.denoiser.config.model_max_length, width)
    assert parts.denoiser.y_embedder.y_embedding.shape == y.shape[2:]
    assert not torch.equal(y[0], y[1])  # distinct instructions, distinct features


def test_the_smoke_options_put_open_sora_in_pixel_space_with_word_features():
    """The smoke preset's own settings: the identity for the VAE (STDiT3 reads RGB, one latent frame per
    frame) and word features for the captions, as AID has them."""
    cfg = resolve(preset="smoke", overrides=[*TINY[:-2], "model.name=opensora-fullft", "data.num_frames=5"])
    parts = build(cfg)
    parts.denoiser.eval()
    assert parts.denoiser.config.in_channels == 3
    clip = next(iter(open_dataset(cfg, "test")))
    seen = []
    parts.denoiser.register_forward_pre_hook(lambda module, args: seen.append((args[0], args[2])))
    video = generator_for(cfg, parts)(Context.of(clip, seed=3))
    assert video.shape == (4, 16, 16, 3)
    x, y = seen[0]
    assert x.shape == (2, 3, 5, 16, 16)  # both guidance branches, every frame its own latent frame
    torch.testing.assert_close(
        x[:, :, :1], to_model(clip.frames[:1]).movedim(0, 1)[None].expand(2, -1, -1, -1, -1)
    )
    same, _ = parts.captions([clip.instruction, clip.instruction])
    other, _ = parts.captions(["Moving the red square left"])
    assert torch.equal(same[0], same[1]) and not torch.equal(same[0], other[0])
    torch.testing.assert_close(y[0], same[0])  # the conditional branch reads the instruction's words


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = _config()
    clips = list(open_dataset(cfg, "train"))[:2]
    grads, runs_of_a_block = [], []
    for checkpointing in (False, True):
        parts = build(cfg)
        if checkpointing:
            parts.denoiser.enable_gradient_checkpointing()
        parts.denoiser.train()
        calls = []
        parts.denoiser.temporal_blocks[0].register_forward_pre_hook(
            lambda *args, calls=calls: calls.append(1)
        )
        OpenSoraObjective(parts, cfg)(clips, torch.Generator().manual_seed(5)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in parts.denoiser.parameters() if p.grad is not None]))
        runs_of_a_block.append(len(calls))
    assert runs_of_a_block == [1, 2]  # recomputed in the backward pass
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])
