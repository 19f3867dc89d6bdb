"""The smoke preset's departures from the paper, each a named option: they validate, the paper presets keep
the paper's settings, pixel space round-trips exactly, the motion-weighted loss and a pretrained base
UNet behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aidbench.config import resolve
from aidbench.errors import UsageError, UserError


@pytest.mark.parametrize("preset", ["paper-ssv2", "paper-bridge", "paper-epic", "paper-ucf101"])
def test_paper_presets_keep_the_papers_settings(preset):
    cfg = resolve(preset=preset)
    assert cfg.model.size == "paper" and cfg.model.latent_space == "vae" and cfg.model.base_weights is None
    assert cfg.model.text_tower == "clip"
    train = cfg.train
    assert (train.log_sigma_mean, train.log_sigma_std, train.motion_loss_weight) == (0.7, 1.6, 1.0)
    assert train.base_steps == 0 and cfg.data.train_clips is None
    assert cfg.data.synthtvp_task == "full"


def test_the_smoke_preset_names_its_departures():
    cfg = resolve(preset="smoke")
    assert cfg.model.size == "smoke" and cfg.model.latent_space == "pixels"
    assert cfg.train.base_steps > 0 and cfg.train.motion_loss_weight > 1 and cfg.train.log_sigma_mean > 0.7
    assert cfg.data.resolution <= 64 and cfg.data.num_frames <= 16
    assert cfg.data.synthtvp_task == "move1" and cfg.model.text_tower == "words"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.latent_space=latent", "model.latent_space"),
        ("train.motion_loss_weight=0.5", "train.motion_loss_weight"),
        ("train.base_steps=-1", "train.base_steps"),
        ("model.size=huge", "model.size"),
        ("data.train_clips=0", "data.train_clips"),
        ("data.synthtvp_task=move2", "data.synthtvp_task"),
        ("model.text_tower=t5", "model.text_tower"),
    ],
)
def test_the_new_options_validate(override, message):
    with pytest.raises(UsageError, match=message):
        resolve(preset="smoke", overrides=[override])


def test_pixel_space_needs_a_small_unet():
    with pytest.raises(UsageError, match="pixels needs model.size tiny or smoke"):
        resolve(preset="paper-ssv2", overrides=["model.latent_space=pixels"])


def test_the_word_text_tower_is_for_small_models_only():
    with pytest.raises(UsageError, match="text_tower words needs model.size tiny or smoke"):
        resolve(preset="paper-ssv2", overrides=["model.text_tower=words"])


def test_word_features_carry_the_whole_sentence_to_every_token():
    from aidbench.model.text import WordFeatures

    words = WordFeatures(width=32, context_length=8)
    out = words(
        ["Moving the red square left", "Moving the red square right", "", "Moving the red square left"]
    )
    assert out.shape == (4, 8, 32)
    assert torch.equal(out[:, 0:1].expand_as(out), out)  # the same feature at every position
    assert torch.equal(out[0], out[3]) and torch.equal(out[2], torch.zeros(8, 32))
    assert torch.allclose(out[0].pow(2).mean(), torch.tensor(1.0))
    # one word apart is far apart (a random tiny CLIP's features are not), and word order counts
    assert (out[0] - out[1]).pow(2).mean() > 0.3
    a, b = words(
        ["Pushing the red square towards the blue circle", "Pushing the blue circle towards the red square"]
    )
    assert (a - b).pow(2).mean() > 0.3
    # seeded by the word: a fresh tower gives the same features
    assert torch.equal(WordFeatures(width=32, context_length=8)(["Moving the red square left"])[0], out[0])
    assert words.states([["a b", "c", "d", ""]]).shape == (1, 32, 32)


def test_the_train_split_cap_applies_to_the_train_split_only():
    from aidbench.data.open import open_dataset

    cfg = resolve(preset="smoke", overrides=["data.max_clips=8", "data.train_clips=12"])
    assert len(open_dataset(cfg, "train").refs) == 12 and len(open_dataset(cfg, "test").refs) == 8


def test_pixel_space_round_trips_exactly():
    from aidbench.data import synthtvp
    from aidbench.data.clips import to_model
    from aidbench.model.components import tiny_svd
    from aidbench.model.pipeline import to_uint8

    svd = tiny_svd(0, "smoke", "pixels")
    assert svd.vae_scale_factor == 1 and svd.unet.config.in_channels == 6
    frames = synthtvp.render(synthtvp.episode(0, "test", 3), 4, 16)
    x = to_model(frames)
    latents = svd.vae.encode(x).latent_dist.mode() * svd.vae.config.scaling_factor
    assert torch.equal(latents, x)
    video = svd.decode_latents(latents[None], len(frames), decode_chunk_size=len(frames))
    back = to_uint8(svd.video_processor.postprocess_video(video=video, output_type="np")[0])
    assert np.array_equal(back, frames)


def test_smoke_aid_samples_in_pixel_space():
    from aidbench.data import synthtvp
    from aidbench.model.components import build
    from aidbench.model.pipeline import AIDPipeline, SamplingSettings

    cfg = resolve(preset="smoke", overrides=["data.num_frames=4"])
    parts = build(cfg)
    attn2 = [n for n, p in parts.denoiser.unet.named_parameters() if p.requires_grad]
    assert attn2 and all(".attn2." in n and not n.startswith("down_blocks.0") for n in attn2)
    ep = synthtvp.episode(0, "test", 0)
    frames = synthtvp.render(ep, 4, 16)
    pipeline = AIDPipeline(parts.svd, parts.denoiser.eval(), parts.text_encoder)
    out = pipeline(
        frames[:1],
        4,
        ep.instruction,
        ep.state_sentences(),
        SamplingSettings(num_inference_steps=2),
        torch.Generator().manual_seed(0),
    )
    assert out.shape == (4, 16, 16, 3) and np.isfinite(out).all()


def test_the_motion_weight_counts_only_where_something_moves():
    from aidbench.model.edm import EDMLoss, motion_mask

    torch.manual_seed(0)
    still = torch.randn(2, 1, 3, 8, 8).repeat(1, 4, 1, 1, 1)
    moving = still.clone()
    moving[:, 2:, :, 2, 3] += 1.0
    assert motion_mask(still).sum() == 0
    assert motion_mask(moving)[0, 0, 0].nonzero().tolist() == [[2, 3]]

    def model(x, c_noise):
        return torch.ones_like(x[:, :, :3])

    sigma, noise = torch.tensor([1.0, 2.0]), torch.randn_like(still)
    args = (torch.zeros_like(still), 1, sigma, noise)
    plain, weighted = EDMLoss(), EDMLoss(motion_weight=10.0)
    assert weighted(model, still, *args) == plain(model, still, *args)
    assert weighted(model, moving, *args) > plain(model, moving, *args)


def test_a_base_unet_of_another_config_is_refused(tmp_path):
    from safetensors.torch import save_file

    from aidbench.model.components import load_base_unet, tiny_svd

    smoke = tiny_svd(0, "smoke", "pixels").unet
    path = tmp_path / "trainable.safetensors"
    save_file({f"unet.{k}": v.contiguous() for k, v in smoke.state_dict().items()}, path)
    other = tiny_svd(1, "smoke", "pixels").unet
    load_base_unet(other, path)
    loaded = other.state_dict()
    assert all(torch.equal(value, loaded[key]) for key, value in smoke.state_dict().items())
    with pytest.raises(UserError, match="not a UNet of this size and latent space"):
        load_base_unet(tiny_svd(0, "tiny", "vae").unet, path)
    with pytest.raises(UserError, match="does not exist"):
        load_base_unet(other, tmp_path / "missing")
