"""Open-Sora 1.2's temporal VAE: the released layout's shapes and size, 17 → 5 → 17 frames, causal convolutions."""

from __future__ import annotations

import torch

from aidbench.baselines.opensora_vae import TemporalVAE, latent_frames


def test_the_released_layout_and_size():
    with torch.device("meta"):
        vae = TemporalVAE()
    shapes = {k: tuple(v.shape) for k, v in vae.state_dict().items()}
    assert sum(p.numel() for p in vae.parameters()) == 309_687_144
    assert sum(p.numel() for p in vae.encoder.parameters()) == 144_421_128
    assert (
        shapes["encoder.conv_in.conv.weight"] == (128, 4, 3, 3, 3)
        and "encoder.conv_in.conv.bias" not in shapes
    )
    assert (
        shapes["encoder.conv_blocks.1.conv.weight"]
        == shapes["encoder.conv_blocks.2.conv.weight"]
        == (256, 256, 3, 3, 3)
    )
    assert shapes["encoder.conv2.conv.weight"] == (8, 512, 1, 1, 1)
    assert shapes["quant_conv.conv.weight"] == (8, 8, 1, 1, 1) and shapes["post_quant_conv.conv.weight"] == (
        4,
        4,
        1,
        1,
        1,
    )
    assert shapes["decoder.conv_blocks.2.conv.weight"] == (1024, 512, 3, 3, 3)
    assert shapes["decoder.conv_blocks.1.conv.weight"] == (512, 256, 3, 3, 3)
    assert shapes["decoder.block_res_blocks.0.0.conv3.conv.weight"] == (128, 256, 1, 1, 1)
    assert not any(k.startswith(("encoder.conv_blocks.0", "decoder.conv_blocks.0")) for k in shapes)


def test_17_frames_become_5_and_back_causally():
    torch.manual_seed(0)
    vae = TemporalVAE(filters=32).eval()
    x = torch.randn(1, 4, 17, 8, 8)
    with torch.no_grad():
        z = vae.encode(x, sample=False)
        assert z.shape == (1, 4, 5, 8, 8) and vae.decode(z, 17).shape == (1, 4, 17, 8, 8)
    assert [latent_frames(n) for n in (1, 17, 51)] == [1, 5, 15]


def test_causal_convolutions_pad_time_in_front_only():
    from aidbench.baselines.opensora_vae import CausalConv3d

    torch.manual_seed(0)
    conv = CausalConv3d(2, 2, 3)
    x = torch.randn(1, 2, 6, 4, 4)
    later = x.clone()
    later[:, :, 3:] += (
        1.0  # frames 3.. cannot reach outputs 0..2 (GroupNorm, not the convolutions, mixes time)
    )
    with torch.no_grad():
        assert conv(x).shape == x.shape
        assert torch.equal(conv(later)[:, :, :3], conv(x)[:, :, :3])
        assert CausalConv3d(2, 2, 3, stride_t=2)(x).shape[2] == 3


def test_the_video_vae_chains_the_image_and_temporal_vaes():
    from aidbench.baselines.opensora_vae import VideoVAE, sdxl_vae

    torch.manual_seed(0)
    vae = VideoVAE(sdxl_vae(tiny=True), TemporalVAE(filters=32)).eval()
    x = torch.rand(1, 3, 17, 16, 16) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x, sample=False)
        assert z.shape == (1, 4, 5, 2, 2)
        assert vae.decode(z, 17).shape == (1, 3, 17, 16, 16)
    with torch.device("meta"):
        full = sdxl_vae()
    assert sum(p.numel() for p in full.parameters()) == 83_653_863  # the SDXL VAE (Open-Sora report: "83M")
