"""Paired differences of two systems on the same clips, the noise floor, and `aidbench compare`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aidbench.metrics.paired import difference
from aidbench.metrics.protocols import FVD_SEER, Context, per_clip, record, set_level, video_statistic
from aidbench.metrics.videoset import VideoSet
from tests import settings

CLIPS, DIM = 64, 8


def _set(prefix: str) -> VideoSet:
    names = [f"{prefix}{i:03d}" for i in range(CLIPS)]
    return VideoSet(None, names, [np.zeros((2, 2, 2, 3), np.uint8)] * CLIPS)


def _fvd(real_f, fake_f, fake_names=None) -> Measured:  # noqa: F821
    real, fake = _set("c"), _set("c")
    if fake_names is not None:  # the same clips listed in another order
        fake.names = fake_names
    about = dict(protocol={}, weights_sha256={}, steps=FVD_SEER.steps(Context()))
    statistic = video_statistic("fvd", real_f, fake_f, 1)
    return set_level(
        "fvd@seer", statistic, (real, fake), real_pair=video_statistic("fvd", real_f, real_f, 1), **about
    )


def test_a_system_against_itself_differs_by_zero_with_an_interval_centred_on_zero():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(CLIPS, DIM)), rng.normal(size=(CLIPS, DIM)) + 0.3
    same = difference(_fvd(real, fake), _fvd(real, fake), groups=20, confidence=0.95)
    assert same.delta == 0 and same.ci_low == -same.ci_high and same.p_value == 1.0
    shuffled = np.random.default_rng(1).permutation(CLIPS)  # matched by clip id, not by position
    names = [f"c{i:03d}" for i in shuffled]
    again = difference(_fvd(real, fake), _fvd(real, fake[shuffled], names), 20, 0.95)
    assert again.delta == pytest.approx(0, abs=1e-9) and again.ci_high == pytest.approx(0, abs=1e-9)


def test_a_planted_difference_is_detected_and_a_null_one_is_not():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(CLIPS, DIM))
    a = rng.normal(size=(CLIPS, DIM))
    planted = difference(_fvd(real, a + 0.6), _fvd(real, a), groups=20, confidence=0.95)
    assert planted.delta > 0 and planted.ci_low > 0 and planted.p_value < 0.01, planted
    null = difference(_fvd(real, rng.normal(size=(CLIPS, DIM))), _fvd(real, a), groups=20, confidence=0.95)
    assert null.ci_low <= 0 <= null.ci_high and null.p_value > 0.05, null
    assert null.clips_needed is None or null.clips_needed > CLIPS  # too small a difference for 64 clips


def test_per_clip_differences_are_paired_clip_by_clip():
    sets = (_set("c"), _set("c"))
    a = per_clip("psnr@synthtvp", {f"c{i:03d}": 20.0 + i for i in range(CLIPS)}, sets, {}, {}, {})
    b = per_clip("psnr@synthtvp", {f"c{i:03d}": 19.5 + i for i in range(CLIPS)}, sets, {}, {}, {})
    found = difference(a, b, groups=20, confidence=0.95)
    # every clip 0.5 dB better: the unpaired intervals overlap completely, the paired one is exact
    assert found.delta == pytest.approx(0.5) and found.ci_low == pytest.approx(0.5) == found.ci_high
    fewer = per_clip("psnr@synthtvp", {f"c{i:03d}": 1.0 for i in range(CLIPS - 1)}, sets, {}, {}, {})
    with pytest.raises(Exception, match="different clips"):
        difference(a, fewer, 20, 0.95)


def test_the_noise_floor_of_real_clips_against_themselves_is_small_and_positive():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(CLIPS, DIM))
    shifted = record(_fvd(real, rng.normal(size=(CLIPS, DIM)) + 1.0), Context(jackknife_groups=10))
    floor = shifted.noise_floor
    assert floor["splits"] == 10 and floor["clips"] == "32 vs 32 real"
    assert 0 < floor["low"] <= floor["value"] <= floor["high"] < shifted.ci_low
    assert shifted.ci_low <= shifted.value <= shifted.ci_high and "jackknife" in shifted.interval


@pytest.mark.slow
def test_compare_two_sample_runs_from_the_command_line(cli, tmp_path):
    """copy-first-frame and copy-last-reference are one system with one reference frame: no difference;
    vae-recon in pixel space is the ground truth: a difference no interval can miss."""
    tiny = settings.args("data.max_clips=8", *settings.TINY[1:])
    for system in ("copy-first-frame", "copy-last-reference", "vae-recon"):
        assert cli("sample", "--model", system, *tiny, "--run-id", system).code == 0
    metrics = ["--metric", "psnr@synthtvp", "--metric", "instruction-accuracy@synthtvp"]
    same = cli("compare", "copy-first-frame", "copy-last-reference", *metrics, "--json")
    assert same.code == 0, same.err
    for line in same.out.splitlines():
        found = json.loads(line)
        assert found["delta"] == 0 == found["ci_low"] == found["ci_high"] and found["clips"] == 8
    planted = cli("compare", "vae-recon", "copy-first-frame", "--metric", "psnr@synthtvp")
    assert planted.code == 0 and "A − B +" in planted.out, planted.err
    kept = sorted((tmp_path / "results/runs/compare").glob("*/differences.jsonl"))[-1]
    found = json.loads(kept.read_text())
    assert found["metric"] == "psnr@synthtvp" and found["ci_low"] > 0 and found["p_value"] < 0.01, found
    fewer = settings.args("data.max_clips=4", *settings.TINY[1:])
    assert cli("sample", "--model", "copy-first-frame", *fewer, "--run-id", "four").code == 0
    refused = cli("compare", "four", "copy-first-frame")
    assert (
        refused.code == 1
        and "cover different clips (0 only in the first, 4 only in the second)" in refused.err
    )
