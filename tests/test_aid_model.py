from __future__ import annotations

import pytest
import torch

from aidbench.config import AdapterConfig, MConditionConfig
from aidbench.model.aid import AIDDenoiser, build_unet, dqformer_config

FRAMES = 4


def _inputs(batch=2, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch, FRAMES, 8, size, size, generator=g)
    timestep = torch.tensor([0.5, 1.2])[:batch]
    added = torch.tensor([[6.0, 127.0, 0.02]] * batch)
    image_token = torch.randn(batch, 1, 32, generator=g)
    return sample, timestep, added, image_token


def _perturb_adapters(model):
    with torch.no_grad():
        for p in model.adapters.parameters():
            p.add_(torch.randn_like(p) * 0.1)


def test_fresh_aid_without_mcondition_is_exactly_svd():
    torch.manual_seed(0)
    unet = build_unet("tiny").eval()
    sample, timestep, added, token = _inputs()
    with torch.no_grad():
        reference = unet(sample, timestep, token, added, return_dict=False)[0]
    aid = AIDDenoiser(unet, AdapterConfig(), dqformer=None).eval()
    from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel

    transformers = sum(isinstance(m, TransformerSpatioTemporalModel) for m in unet.modules())
    assert transformers == 4 and len(aid.adapters) == 3 * transformers  # one block per transformer here
    with torch.no_grad():
        ours = aid(sample, timestep, added, encoder_hidden_states=token)
        assert (ours - reference).abs().max() <= 1e-6
        _perturb_adapters(aid)
        changed = aid(sample, timestep, added, encoder_hidden_states=token)
    assert (changed - reference).abs().max() > 1e-3  # the adapters are really in the forward pass


@pytest.mark.parametrize("switch", ["spatial", "short_term", "long_term"])
def test_each_adapter_can_be_switched_off(switch):
    unet = build_unet("tiny")
    aid = AIDDenoiser(unet, AdapterConfig(**{switch: False}), dqformer=None)
    assert not any(k.startswith(switch) for k in aid.adapters)
    assert len(aid.adapters) > 0


def test_only_adapters_cross_attention_and_dqformer_train():
    unet = build_unet("tiny")
    config = dqformer_config(MConditionConfig(), "tiny", 32, FRAMES)
    aid = AIDDenoiser(unet, AdapterConfig(), config)
    trainable = {n for n, p in aid.named_parameters() if p.requires_grad}
    assert all(".attn2." in n for n in trainable if n.startswith("unet."))
    assert any(".attn2." in n for n in trainable)
    assert all(p.requires_grad for p in aid.adapters.parameters())
    assert all(p.requires_grad for p in aid.dqformer.parameters())
    assert set(aid.trainable_state_dict()) == trainable
    frozen = AIDDenoiser(build_unet("tiny"), AdapterConfig(), None, train_cross_attention=False)
    assert not any(p.requires_grad for p in frozen.unet.parameters())


def test_mcondition_reaches_each_frame_through_cross_attention():
    torch.manual_seed(0)
    unet = build_unet("tiny").eval()
    aid = AIDDenoiser(unet, AdapterConfig(), None).eval()
    sample, timestep, added, _ = _inputs()
    mcondition = torch.randn(2, FRAMES, 5, 32)
    with torch.no_grad():
        base = aid(sample, timestep, added, mcondition=mcondition)
        changed = mcondition.clone()
        changed[:, 2] += 1.0  # only frame 2's tokens
        out = aid(sample, timestep, added, mcondition=changed)
    difference = (out - base).abs().flatten(2).amax(-1)  # (B, T)
    assert difference[:, 2].min() > 1e-4
    # Frames other than 2 change only through temporal mixing, less than frame 2 itself.
    assert (difference[:, 2] > difference[:, [0, 1, 3]].max(dim=1).values).all()
    assert aid._frame_context is None


def test_dqformer_shapes_and_ablations():
    t1, v, t2 = torch.randn(2, 7, 32), torch.randn(2, 1, 32), torch.randn(2, 12, 32)
    from aidbench.model.dqformer import DQFormer

    full = DQFormer(dqformer_config(MConditionConfig(), "tiny", 32, FRAMES))
    assert full(t1, v, t2, FRAMES).shape == (2, FRAMES, 7 + 4, 32)
    multimodal = DQFormer(dqformer_config(MConditionConfig(decomposed=False), "tiny", 32, FRAMES))
    assert multimodal(t1, v, None, FRAMES).shape == (2, FRAMES, 7, 32)
    decomposed = DQFormer(dqformer_config(MConditionConfig(multimodal=False), "tiny", 32, FRAMES))
    assert decomposed(t1, v, t2, FRAMES).shape == (2, FRAMES, 4, 32)
    no_states = DQFormer(dqformer_config(MConditionConfig(use_states=False), "tiny", 32, FRAMES))
    out = no_states(t1, v, None, FRAMES)
    assert out.shape == (2, FRAMES, 11, 32)
    with pytest.raises(ValueError, match="needs the MLLM state features"):
        full(t1, v, None, FRAMES)
    with pytest.raises(ValueError, match="queries for 4 frames, the clip has 6"):
        full(t1, v, t2, 6)
    # the decomposed tokens differ from frame to frame; the multimodal ones are shared
    tokens = full(t1, v, t2, FRAMES)
    assert torch.allclose(tokens[:, 0, :7], tokens[:, 1, :7]) and not torch.allclose(
        tokens[:, 0, 7:], tokens[:, 1, 7:]
    )


def test_model_info_counts_the_paper_configuration(cli):
    import json

    result = cli("model-info", "aid", "--preset", "paper-ssv2", "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert set(info) == {"model", "total", "trainable", "components"} and info["model"] == "aid"
    parts = info["components"]
    unet = parts["unet (SVD 3D UNet, frozen)"]["total"] + parts["unet cross-attention"]["total"]
    assert round(unet / 1e6, 1) == 1524.6  # diffusers' SVD UNet; the paper says 1528M
    assert abs(info["trainable"] / 216e6 - 1) <= 0.10  # the paper's adapter-tuning count
    assert parts["vae (frozen)"]["trainable"] == 0
    assert sum(c["total"] for c in parts.values()) == info["total"]


def test_model_info_follows_the_ablation_switches(cli):
    import json

    def trainable(*settings):
        args = [a for s in settings for a in ("--set", s)]
        return json.loads(cli("model-info", "aid", "--preset", "smoke", "--json", *args).out)

    full = trainable()
    no_adapters = trainable(
        "model.adapters.spatial=false", "model.adapters.short_term=false", "model.adapters.long_term=false"
    )
    assert no_adapters["components"]["adapters spatial"]["total"] == 0
    assert no_adapters["trainable"] < full["trainable"]
    multimodal_only = trainable("model.mcondition.decomposed=false")
    assert multimodal_only["components"]["dqformer decomposed branch"]["total"] == 0
    assert "vae (frozen)" not in full["components"]  # tiny sizes count the denoiser only
