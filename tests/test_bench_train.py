"""`aidbench bench train|sample` on tiny systems, and the speed switches each a config option with an effect."""

from __future__ import annotations

import json

import pytest
import torch

from aidbench.bench import systems, train
from aidbench.config import resolve
from aidbench.errors import UsageError
from aidbench.model.components import build
from aidbench.stages import speed
from tests import settings

TINY = settings.TINY[2:]


def _config(*overrides):
    return resolve(preset="smoke", overrides=[*TINY, *overrides])


def test_full_finetune_trains_the_whole_unet_and_model_info_counts_it(cli):
    cfg = _config()
    aid = build(cfg).denoiser
    full = build(_config("model.full_finetune=true")).denoiser
    unet = sum(p.numel() for p in full.unet.parameters())
    trained = sum(p.numel() for p in aid.trainable_state_dict().values())
    trained_full = sum(p.numel() for p in full.trainable_state_dict().values())
    assert all(p.requires_grad for p in full.unet.parameters())
    assert trained_full - trained == sum(
        p.numel() for n, p in aid.unet.named_parameters() if not p.requires_grad
    )
    assert trained_full > unet
    result = cli("model-info", "aid", "--preset", "paper-ssv2", "--set", "model.full_finetune=true", "--json")
    info = json.loads(result.out)
    assert info["components"]["unet (SVD 3D UNet, all trained)"]["trainable"] == 1_524_623_082


def test_frozen_half_precision_holds_frozen_weights_in_bf16_and_still_trains():
    with pytest.raises(UsageError, match="needs mixed_precision=bf16"):
        _config("train.frozen_dtype=bfloat16", "train.mixed_precision=no")
    cfg = _config("train.frozen_dtype=bfloat16", "train.mixed_precision=bf16")
    session = train.Session("aid", cfg, torch.device("cpu"))
    denoiser = session.trainee.model
    dtypes = {p.requires_grad: p.dtype for p in denoiser.parameters()}
    assert dtypes == {True: torch.float32, False: torch.bfloat16}
    assert all(p.dtype == torch.bfloat16 for m in session.trainee.frozen for p in m.parameters())
    before = {n: p.detach().clone() for n, p in denoiser.named_parameters() if p.requires_grad}
    session.step(systems.clips(2, 4, 16), 0)
    after = dict(denoiser.named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before)  # AdamW moved the trainable weights


def test_attention_and_channels_last_switches_reach_the_unet():
    from diffusers.models.attention_processor import Attention, AttnProcessor

    parts = build(_config())
    speed.apply(_config("train.attention=math", "train.channels_last=true").train, parts.denoiser, [])
    attentions = [m for m in parts.denoiser.unet.modules() if isinstance(m, Attention)]
    assert attentions and all(isinstance(m.processor, AttnProcessor) for m in attentions)
    conv = parts.denoiser.unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


@pytest.mark.parametrize("system", list(systems.SYSTEMS))
def test_every_system_takes_a_training_step(system):
    record = train.measure_system(system, _config(), batch=1, frames=4, resolution=16, steps=1, warmup=0)
    assert record["seconds_per_iter"] > 0 and record["trainable_parameters"] > 0
    assert record["total_parameters"] >= record["trainable_parameters"]
    assert record["peak_memory_gb"] is None or record["peak_memory_gb"] > 0


def test_ratios_compare_aid_with_its_full_finetune():
    records = [
        {"system": "aid", "seconds_per_iter": 0.6, "peak_memory_gb": 20.0},
        {"system": "aid-fullft", "seconds_per_iter": 1.0, "peak_memory_gb": 50.0},
    ]
    out = train.ratios(records)
    assert out["seconds_per_iter"]["aid / aid-fullft"] == 0.6 and out["seconds_per_iter"]["met"]
    assert out["peak_memory_gb"]["aid / aid-fullft"] == 0.4 and out["peak_memory_gb"]["met"]
    assert train.ratios(records[:1]) is None


def test_largest_batch_bisects_to_the_cap(monkeypatch):
    session = train.Session.__new__(train.Session)
    session.device = torch.device("cpu")
    session.optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])

    def measure(batch, *args, **kwargs):  # 1 GB per clip: a 5.5 GB cap fits 5
        return {"batch": batch, "seconds_per_iter": 0.1 * batch, "peak_memory_gb": float(batch)}

    monkeypatch.setattr(session, "measure", measure, raising=False)
    assert session.largest_batch(5.5, 4, 16)["batch"] == 5
    assert session.largest_batch(0.5, 4, 16) is None


@pytest.mark.slow
def test_bench_train_and_sample_from_the_command_line(cli, tmp_path):
    out = tmp_path / "train.json"
    result = cli(
        "bench", "train", "-m", "aid", *settings.args(*TINY),
        "--steps", "1", "--warmup", "0", "--out", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    record = json.loads(out.read_text())
    assert record["benchmark"] == "train" and record["systems"][0]["system"] == "aid"
    assert "error" not in record["systems"][0], record["systems"][0]
    result = cli(
        "bench", "sample", "-m", "svd-zeroshot", *settings.args(*settings.FEW_STEPS, *TINY), "--steps", "1", "--warmup", "0", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    sampled = json.loads(result.out)["systems"][0]
    assert sampled["system"] == "svd-zeroshot" and sampled["seconds_per_clip"] > 0, sampled
    assert cli("bench", "train", "-m", "tune-a-video").code == UsageError.exit_code


def test_bench_step_times_a_whole_training_step_against_the_bare_unet():
    from aidbench.bench import step

    cfg = _config("data.train_clips=16", "train.batch_size_per_device=2")
    record = step.run(cfg, ["aid", "svd-fullft"], steps=2, warmup=1, isolate=False)
    assert record["benchmark"] == "step" and record["device"]["cpu"]["model"]
    for entry in record["systems"]:
        assert entry["batch"] == 2 and 0 < entry["data_seconds"] < entry["seconds_per_step"]
        # both timed; which is faster is a measurement for `aidbench bench`, not a test (CI's load reorders them)
        assert entry["bare_unet_seconds"] > 0 and entry["seconds_per_step"] > 0
        whole, bare = entry["seconds_per_step"], entry["bare_unet_seconds"]
        rounding = 1e-4 * (1 + whole / bare) / bare + 1e-4  # the record rounds seconds to 1e-4
        assert entry["overhead"] == pytest.approx((whole - bare) / bare, abs=rounding)
