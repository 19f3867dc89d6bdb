"""seer: FSText's shapes and causality, the temporal attention's causality and windows, the rotary
embedding, loading SD 1.5 and Seer's files in their published layouts, one training step that trains only
what Seer trains, and sampling through the shared loop."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from aidbench.baselines import seer
from aidbench.baselines.seer_text import FSText
from aidbench.baselines.seer_unet import (
    Attention,
    Rotary,
    TemporalBlock,
    window_size,
    windowed_causal_attention,
)
from aidbench.config import resolve
from aidbench.data.video import read_video
from aidbench.errors import UserError
from tests import published, settings

TINY = [*settings.TINY, *settings.FEW_STEPS, "data.max_clips=2", "train.validation_clips=0"]
# SD 1.5's own latent space and text encoder (the smoke preset's pixels and word features are paper-size-free)
PAPER = [
    "model.size=paper",
    "model.latent_space=vae",
    "model.text_tower=clip",
    "model.seer.train_spatial=false",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def test_fstext_gives_one_sub_instruction_per_frame_causally_under_seers_key_names():
    torch.manual_seed(0)
    fstext = FSText(32, heads=8, layers=2)
    expected = published.seer_fstext_shapes(32, layers=2)
    assert {k: tuple(v.shape) for k, v in fstext.state_dict().items()} == expected
    with torch.no_grad():
        fstext.pos_embed.normal_()
        fstext.learnable_query.normal_()
    text = torch.randn(3, 7, 32)
    assert fstext(text, 16).shape == (3, 16, 7, 32)
    out = fstext(text, 5)  # another clip length: the position table interpolated to 5 frames
    assert out.shape == (3, 5, 7, 32)
    assert not torch.allclose(out[:, 0], out[:, 4])  # the frames' sub-instructions differ

    unchanged = fstext(text, 16)
    with torch.no_grad():  # a later frame's position changes that frame on, never an earlier one
        fstext.pos_embed[:, 9] += 1.0
    changed = fstext(text, 16)
    torch.testing.assert_close(changed[:, :9], unchanged[:, :9])
    assert not torch.allclose(changed[:, 9:], unchanged[:, 9:])


@pytest.mark.parametrize("height", [4, 8, 32])
def test_temporal_attention_never_lets_a_frame_see_a_later_one(height):
    torch.manual_seed(0)
    attn = Attention(16, heads=2, rotary=True)
    x = torch.randn(2, 4, height, height, 16)
    later = x.clone()
    later[:, 2:] += torch.randn_like(later[:, 2:])
    a = windowed_causal_attention(attn, x).reshape(2, 4, -1, 16)
    b = windowed_causal_attention(attn, later).reshape(2, 4, -1, 16)
    torch.testing.assert_close(a[:, :2], b[:, :2])
    assert not torch.allclose(a[:, 2:], b[:, 2:])
    block = TemporalBlock(16, heads=2)  # the block around it, its feed-forward skipping one held frame
    torch.testing.assert_close(block(x, held=1)[:, :2], block(later, held=1)[:, :2])


def test_windows_are_seers_and_attention_stays_inside_them():
    assert [window_size(h) for h in (4, 8, 16, 32, 64)] == [None, 4, 4, 8, 8]
    torch.manual_seed(0)
    attn = Attention(16, heads=2, rotary=True)
    x = torch.randn(1, 3, 8, 8, 16)
    moved = x.clone()
    moved[:, 0, 4:, 4:] += 1.0  # the bottom-right 4×4 window of the first frame
    a = windowed_causal_attention(attn, x).reshape(1, 3, 8, 8, 16)
    b = windowed_causal_attention(attn, moved).reshape(1, 3, 8, 8, 16)
    torch.testing.assert_close(a[:, :, :4], b[:, :, :4])  # other windows, every frame: untouched
    torch.testing.assert_close(a[:, :, 4:, :4], b[:, :, 4:, :4])
    assert not torch.allclose(a[:, 1:, 4:, 4:], b[:, 1:, 4:, 4:])  # later frames of that window see it


def test_rotary_positions_keep_lengths_and_make_scores_depend_on_distance_only():
    rotary = Rotary(8)
    assert not rotary.freqs.requires_grad
    q = torch.randn(1, 6, 12).expand(1, 6, 12).clone()
    q[:] = q[:, :1]  # the same query and key at every position
    k = q.clone()
    rq, rk = rotary(q), rotary(k)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1))
    torch.testing.assert_close(rq[..., 8:], q[..., 8:])  # only the first 8 channels turn
    scores = rq[0] @ rk[0].T
    torch.testing.assert_close(scores[1, 3], scores[2, 4])  # a distance of 2, wherever it starts
    assert not torch.allclose(scores[1, 3], scores[1, 2])


def _paper(tmp_path, *extra):
    sd15 = published.sd15_folder(tmp_path / "w")
    init = published.seer_fstext_init(tmp_path / "w")
    files = f"paths.files={{sd15: {sd15}, seer-fstext-init: {init}}}"
    cfg = resolve(
        preset="smoke",
        overrides=[*TINY, "model.name=seer", *PAPER, files, *extra],
    )  # fmt: skip
    return cfg, sd15, init


def test_sd15_as_published_loads_and_one_step_trains_only_the_temporal_layers_and_fstext(cli, tmp_path):
    from aidbench.stages.train import run_train

    cfg, sd15, init = _paper(tmp_path, *settings.ONE_STEP)
    parts = seer.build(cfg)
    unet = load_file(str(sd15 / "unet" / "diffusion_pytorch_model.fp16.safetensors"))
    loaded = parts.model.unet.unet.state_dict()
    assert all(torch.equal(loaded[k], v.float()) for k, v in unet.items())  # SD 1.5's UNet, from fp16
    stored = torch.load(init, weights_only=True)
    assert all(torch.equal(parts.model.fstext.state_dict()[k], v) for k, v in stored.items())
    temporal = published.seer_temporal_shapes(published.SD15_UNET)
    assert set(loaded) == set(unet) | set(temporal)  # Seer's UNet keys: SD 1.5's and its temporal layers
    assert all(tuple(loaded[k].shape) == shape for k, shape in temporal.items())

    run, result = run_train(cfg, run_id="t")
    trained = load_file(str(run.path / "output" / "trainable.safetensors"))
    wanted = {f"unet.unet.{k}" for k in temporal if not k.endswith("rotary_emb.freqs")}
    wanted |= {f"fstext.{k}" for k in stored if not k.endswith("rotary_emb.freqs")}
    assert set(trained) == wanted  # nothing of SD 1.5 trains
    moved = [k for k in wanted if not torch.equal(trained[k], parts.model.state_dict()[k])]
    assert any(".temporal_attentions." in k for k in moved) and any(k.startswith("fstext.") for k in moved)
    assert np.isfinite(result["final_loss"])

    sampled = cli("sample", "--checkpoint", str(run.path / "output"), "--run-id", "s",
                  *settings.args(*TINY, *PAPER), "--weights", f"sd15={sd15}",
                  "--weights", f"seer-fstext-init={init}")  # fmt: skip
    assert sampled.code == 0, sampled.err
    folders = sorted((tmp_path / "results/runs/sample/s/samples").iterdir())
    assert len(folders) == 2 and json.loads((folders[0] / "meta.json").read_text())["system"] == "seer"
    assert read_video(folders[0]).shape == (4, 16, 16, 3)


def test_the_released_checkpoint_loads_strictly_and_names_what_is_missing(cli, tmp_path):
    cfg, sd15, _ = _paper(tmp_path, "model.seer.init=released")
    folder = published.seer_checkpoint(tmp_path / "w", sd15)
    files = f"paths.files={{sd15: {sd15}, seer: {folder}}}"
    cfg = resolve(
        preset="smoke", overrides=[*TINY, "model.name=seer", *PAPER, "model.seer.init=released", files]
    )
    parts = seer.build(cfg)
    stored = torch.load(folder / "pytorch_model.bin", weights_only=True)
    assert all(torch.equal(parts.model.unet.unet.state_dict()[k], v) for k, v in stored.items())
    text = torch.load(folder / "pytorch_model_1.bin", weights_only=True)
    assert all(torch.equal(parts.model.fstext.state_dict()[k], v) for k, v in text.items())

    # released weights sample without a train run of ours
    result = cli("sample", "--model", "seer", "--run-id", "r",
                 *settings.args(*TINY, *PAPER, "model.seer.init=released"),
                 "--weights", f"sd15={sd15}", "--weights", f"seer={folder}")  # fmt: skip
    assert result.code == 0, result.err
    assert len(list((tmp_path / "results/runs/sample/r/samples").iterdir())) == 2

    key = "down_blocks.0.temporal_attentions.0.transformer_blocks.0.attn1.to_q.weight"
    del stored[key]
    torch.save(stored, folder / "pytorch_model.bin")
    with pytest.raises(UserError, match=r"1 missing \(down_blocks\.0\.temporal_attentions\.0\.transformer"):
        seer.build(cfg)
    (folder / "pytorch_model.bin").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a PyTorch state-dict file"):
        seer.build(cfg)


def test_missing_weights_fail_before_any_run_with_one_sentence(cli):
    result = cli("train", "seer", *settings.args(*TINY, *PAPER))
    assert result.code == 1 and "weights 'sd15'" in result.err and "Traceback" not in result.err
    result = cli("sample", "--model", "seer", *settings.args(*TINY))
    assert result.code != 0 and "give --checkpoint" in result.err


def test_smoke_sizes_train_and_sample_in_pixels_with_word_features(cli, tmp_path):
    """The miniature's Seer: pixel space, word features, every UNet weight trained."""
    overrides = [*TINY, "train.max_steps=2", "train.batch_size_per_device=1", "model.seer.train_spatial=true",
                 "model.seer.text_loss=true"]  # fmt: skip
    result = cli("train", "seer", "--run-id", "t", *settings.args(*overrides))
    assert result.code == 0, result.err
    output = tmp_path / "results/runs/train/t/output"
    trained = load_file(str(output / "trainable.safetensors"))
    assert "unet.unet.conv_in.weight" in trained and "fstext.pos_embed" in trained
    info = cli("model-info", "seer", *settings.args(*overrides))
    assert info.code == 0, info.err
    result = cli("sample", "--checkpoint", str(output), "--run-id", "s", *settings.args(*TINY))
    assert result.code == 0, result.err
    assert read_video(next((tmp_path / "results/runs/sample/s/samples").iterdir())).shape == (4, 16, 16, 3)


def test_sampling_holds_the_reference_latents_clean_and_guides_with_the_empty_text():
    cfg = resolve(preset="smoke", overrides=[*TINY, "model.name=seer", "data.num_frames=5",
                                             "data.num_ref_frames=2"])  # fmt: skip
    parts = seer.build(cfg)
    from aidbench.data.open import open_dataset
    from aidbench.predictor import Context

    clip = next(iter(open_dataset(cfg, "test")))
    seen = []
    parts.model.unet.register_forward_pre_hook(lambda module, args: seen.append(args))
    video = seer.generator_for(cfg, parts)(Context.of(clip, seed=3))
    assert video.shape == (3, 16, 16, 3) and video.dtype == np.uint8
    assert len(seen) == 2  # one call per step, both guidance branches batched
    reference = torch.from_numpy(clip.frames[:2]).permute(3, 0, 1, 2).float() / 127.5 - 1
    for latents, _, context, held in seen:
        assert latents.shape == (2, 3, 5, 16, 16) and held == 2
        torch.testing.assert_close(latents[:, :, :2], reference[None].expand(2, -1, -1, -1, -1))
        assert torch.equal(context[0], parts.text([""])[:, None].expand(1, 5, -1, -1)[0])  # unconditional
    assert [int(t[0]) for _, t, _, _ in seen] == [501, 1]  # DDIM's leading timesteps, offset 1
