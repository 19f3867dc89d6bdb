"""The runnable baselines on tiny components: svd-zeroshot and vae-recon through `aidbench sample`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aidbench.data.video import read_video
from tests import settings

TINY = settings.args(*settings.TINY, *settings.FEW_STEPS)


@pytest.mark.parametrize("system", ["svd-zeroshot", "vae-recon"])
def test_zero_shot_systems_sample_without_a_checkpoint(cli, tmp_path, system):
    result = cli("sample", "--model", system, *TINY, "--run-id", system)
    assert result.code == 0, result.err
    samples = tmp_path / "results/runs/sample" / system / "samples"
    clips = sorted(samples.iterdir())
    assert len(clips) == 4
    meta = json.loads((clips[0] / "meta.json").read_text())
    assert meta["system"] == system
    video = read_video(clips[0])
    assert video.shape == (4, 16, 16, 3) and video.dtype == np.uint8


def test_a_trained_system_needs_its_checkpoint(cli):
    result = cli("sample", "--model", "aid", *TINY)
    assert result.code == 2 and "'aid' is trained: give --checkpoint" in result.err


def test_svd_full_fine_tune_trains_every_unet_weight_then_samples(cli, tmp_path):
    from safetensors.torch import load_file

    from aidbench.model.aid import build_unet

    trained = cli(
        "train",
        "svd-fullft",
        *TINY,
        "--set",
        "train.max_steps=2",
        "--set",
        "train.batch_size_per_device=1",
        "--set",
        "train.validation_clips=1",
        "--run-id",
        "ft",
    )
    assert trained.code == 0, trained.err
    output = tmp_path / "results/runs/train/ft/output"
    weights = load_file(output / "trainable.safetensors")
    unet = build_unet("smoke", "pixels")  # the smoke preset's UNet
    assert set(weights) == {f"unet.{k}" for k in unet.state_dict()}  # the whole UNet trains
    assert (tmp_path / "results/runs/train/ft/validation/step-2/synthtvp-move1-test-00000-0.mp4").is_file()
    sampled = cli("sample", "--checkpoint", str(output), *TINY, "--run-id", "fts")
    assert sampled.code == 0, sampled.err
    meta = json.loads(
        (tmp_path / "results/runs/sample/fts/samples/synthtvp-move1-test-00000-0/meta.json").read_text()
    )
    assert meta["system"] == "svd-fullft"


def test_svd_full_fine_tune_counts_the_whole_unet(cli):
    info = json.loads(cli("model-info", "svd-fullft", "--preset", "paper-ssv2", "--json").out)
    assert round(info["trainable"] / 1e6, 1) == 1524.6 == round(info["total"] / 1e6, 1)  # the paper: 1528M


def test_a_checkpoint_of_another_system_is_refused(cli, tmp_path):
    trained = cli(
        "train",
        "svd-fullft",
        *TINY,
        "--set",
        "train.max_steps=1",
        "--set",
        "train.batch_size_per_device=1",
        "--set",
        "train.validation_clips=0",
        "--run-id",
        "ft1",
    )
    assert trained.code == 0, trained.err
    output = tmp_path / "results/runs/train/ft1/output"
    result = cli("sample", "--checkpoint", str(output), "--model", "aid", *TINY)
    assert result.code == 2 and "is a 'svd-fullft' checkpoint, not 'aid'" in result.err
    resumed = cli("sample", "--resume", "latest", "--model", "aid")
    assert resumed.code == 2 and "--resume continues" in resumed.err


def test_k_samples_of_a_clip_differ_and_each_is_reproducible(cli, tmp_path):
    """sample.num_samples=2: a second sample per clip under samples-1/, seeded by (run seed, clip id, 1);
    the first sample is the one a single-sample run draws."""
    two = [*TINY, "--set", "sample.num_samples=2"]
    for run_id, args in (("k2", two), ("k2-again", two), ("k1", TINY)):
        assert cli("sample", "--model", "svd-zeroshot", *args, "--run-id", run_id).code == 0
    runs = tmp_path / "results/runs/sample"
    clips = sorted(p.name for p in (runs / "k2/samples").iterdir())
    assert clips == sorted(p.name for p in (runs / "k2/samples-1").iterdir()) and len(clips) == 4
    assert not (runs / "k1/samples-1").exists()
    for clip in clips:
        first, second = read_video(runs / "k2/samples" / clip), read_video(runs / "k2/samples-1" / clip)
        assert np.array_equal(first[:1], second[:1]) and not np.array_equal(first[1:], second[1:])
        assert np.array_equal(second, read_video(runs / "k2-again/samples-1" / clip))
        assert np.array_equal(first, read_video(runs / "k1/samples" / clip))
        meta = json.loads((runs / "k2/samples-1" / clip / "meta.json").read_text())
        assert (
            meta["sample"] == 1
            and meta["seed"] != json.loads((runs / "k2/samples" / clip / "meta.json").read_text())["seed"]
        )


def test_k_samples_are_scored_mean_of_k_best_of_k_and_for_their_diversity(cli, tmp_path):
    metrics = ["--metric", "psnr@synthtvp", "--metric", "diversity@pixels", "--json"]
    assert (
        cli(
            "sample", "--model", "svd-zeroshot", *TINY, "--set", "sample.num_samples=3", "--run-id", "k3"
        ).code
        == 0
    )
    scored = cli("eval", "--run", "k3", *metrics)
    assert scored.code == 0, scored.err
    psnr, diversity = (json.loads(line) for line in scored.out.splitlines())
    over = psnr["samples"]
    assert over["k"] == 3 and over["best_of_k"]["value"] >= over["mean_of_k"]["value"]
    assert over["best_of_k"]["value"] >= psnr["value"]  # the first sample is one of the three
    assert (
        diversity["metric"] == "diversity@pixels"
        and 0 < diversity["value"] < 1
        and diversity["samples"] is None
    )
    assert cli("sample", "--model", "svd-zeroshot", *TINY, "--run-id", "k1").code == 0
    single = cli("eval", "--run", "k1", "--metric", "diversity@pixels")
    assert single.code == 1 and "sample every clip at least twice" in single.err
