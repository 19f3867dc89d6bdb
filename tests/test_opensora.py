"""Our STDiT3 against Open-Sora 1.2's released layout (key names and shapes as its checkpoint holds them)."""

from __future__ import annotations

import json

import torch

from aidbench.baselines.opensora import TINY, XL_2, Rotary, STDiT3

BLOCK_KEYS = {
    "attn.qkv.weight": (3456, 1152),
    "attn.qkv.bias": (3456,),
    "attn.q_norm.weight": (72,),
    "attn.k_norm.weight": (72,),
    "attn.proj.weight": (1152, 1152),
    "attn.proj.bias": (1152,),
    "cross_attn.q_linear.weight": (1152, 1152),
    "cross_attn.q_linear.bias": (1152,),
    "cross_attn.kv_linear.weight": (2304, 1152),
    "cross_attn.kv_linear.bias": (2304,),
    "cross_attn.proj.weight": (1152, 1152),
    "cross_attn.proj.bias": (1152,),
    "mlp.fc1.weight": (4608, 1152),
    "mlp.fc1.bias": (4608,),
    "mlp.fc2.weight": (1152, 4608),
    "mlp.fc2.bias": (1152,),
    "scale_shift_table": (6, 1152),
}
TOP_KEYS = {
    "x_embedder.proj.weight": (1152, 4, 1, 2, 2),
    "x_embedder.proj.bias": (1152,),
    "t_embedder.mlp.0.weight": (1152, 256),
    "t_embedder.mlp.0.bias": (1152,),
    "t_embedder.mlp.2.weight": (1152, 1152),
    "t_embedder.mlp.2.bias": (1152,),
    "fps_embedder.mlp.0.weight": (1152, 256),
    "fps_embedder.mlp.0.bias": (1152,),
    "fps_embedder.mlp.2.weight": (1152, 1152),
    "fps_embedder.mlp.2.bias": (1152,),
    "t_block.1.weight": (6912, 1152),
    "t_block.1.bias": (6912,),
    "y_embedder.y_proj.fc1.weight": (1152, 4096),
    "y_embedder.y_proj.fc1.bias": (1152,),
    "y_embedder.y_proj.fc2.weight": (1152, 1152),
    "y_embedder.y_proj.fc2.bias": (1152,),
    "y_embedder.y_embedding": (300, 4096),
    "rope.freqs": (36,),
    "final_layer.scale_shift_table": (2, 1152),
    "final_layer.linear.weight": (32, 1152),
    "final_layer.linear.bias": (32,),
}


def test_the_state_dict_is_the_released_checkpoints():
    with torch.device("meta"):
        model = STDiT3(XL_2)
    expected = dict(TOP_KEYS)
    for kind in ("spatial_blocks", "temporal_blocks"):
        for i in range(28):
            expected.update({f"{kind}.{i}.{k}": shape for k, shape in BLOCK_KEYS.items()})
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == expected
    assert sum(p.numel() for p in model.parameters()) == 1_207_643_972


def test_tiny_forward_shapes_caption_mask_and_reference_frames():
    torch.manual_seed(0)
    model = STDiT3(TINY).eval()
    x, t = torch.randn(2, 4, 3, 6, 8), torch.tensor([500.0, 20.0])
    y = torch.randn(2, 1, 8, 16)
    mask = torch.tensor([[1] * 5 + [0] * 3, [1] * 8])
    with torch.no_grad():
        out = model(x, t, y, mask)
        assert out.shape == (2, 8, 3, 6, 8)
        padded = y.clone()
        padded[0, :, 5:] += 3.0  # tokens beyond the caption's length are never attended
        assert torch.allclose(model(x, t, padded, mask), out, atol=1e-6)
        changed = y.clone()
        changed[0, :, 0] += 3.0
        assert not torch.allclose(model(x, t, changed, mask)[0], out[0], atol=1e-4)
        conditioned = model(x, t, y, mask, x_mask=torch.tensor([[False, True, True]] * 2))
        assert not torch.allclose(conditioned, out)  # reference frames take timestep-0 modulation
        odd = model(torch.randn(1, 4, 2, 5, 7), t[:1], y[:1], mask[:1])
        assert odd.shape == (1, 8, 2, 5, 7)  # padded to whole patches, cropped back


def test_rotary_positions_are_relative():
    rotary = Rotary(8)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    sequence_q, sequence_k = q.expand(1, 1, 6, 8).clone(), k.expand(1, 1, 6, 8).clone()
    rq, rk = rotary(sequence_q), rotary(sequence_k)
    scores = rq[0, 0] @ rk[0, 0].T
    assert torch.allclose(scores[1, 0], scores[4, 3], atol=1e-5)  # depends on m − n only
    assert torch.allclose(rq.norm(dim=-1), sequence_q.norm(dim=-1), atol=1e-5)


def test_model_info_reports_the_released_architecture(cli):
    info = json.loads(cli("model-info", "opensora-fullft", "--preset", "paper-ssv2", "--json").out)
    assert info["total"] == 1_207_643_972 and info["trainable"] == info["total"] - 36


def test_a_saved_state_dict_loads_strictly_and_a_foreign_one_is_refused(tmp_path):
    import pytest
    from safetensors.torch import save_file

    from aidbench.baselines.opensora import load
    from aidbench.errors import UserError

    torch.manual_seed(0)
    model = STDiT3(TINY)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "model.safetensors")
    again = load(tmp_path, TINY)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )
    save_file({"other.weight": torch.zeros(1)}, tmp_path / "model.safetensors")
    with pytest.raises(UserError, match="does not match the STDiT3 of its config.json"):
        load(tmp_path, TINY)


def test_the_released_folder_config_sets_the_architecture(tmp_path):
    """hpcai-tech/OpenSora-STDiT-v3's config.json, its sizes shrunk to TINY's, decides what is built."""
    from safetensors.torch import save_file

    from aidbench.baselines.opensora import folder_config, load

    published = {
        "architectures": ["STDiT3"],
        "caption_channels": TINY.caption_channels,
        "class_dropout_prob": 0.1,
        "depth": TINY.depth,
        "drop_path": 0.0,
        "enable_flash_attn": False,
        "enable_layernorm_kernel": False,
        "enable_sequence_parallelism": False,
        "freeze_y_embedder": True,
        "hidden_size": TINY.hidden_size,
        "in_channels": 4,
        "input_size": [None, None, None],
        "input_sq_size": 512,
        "mlp_ratio": 4.0,
        "model_max_length": TINY.model_max_length,
        "model_type": "STDiT3",
        "num_heads": TINY.num_heads,
        "only_train_temporal": False,
        "patch_size": [1, 2, 2],
        "pred_sigma": True,
        "qk_norm": True,
        "skip_y_embedder": False,
        "torch_dtype": "float32",
        "transformers_version": "4.36.2",
    }
    (tmp_path / "config.json").write_text(json.dumps(published))
    assert folder_config(tmp_path) == TINY
    torch.manual_seed(0)
    model = STDiT3(TINY)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "model.safetensors")
    loaded = load(tmp_path)  # no architecture given: the folder's
    assert loaded.config == TINY
