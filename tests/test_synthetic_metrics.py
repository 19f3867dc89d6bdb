"""synthtvp's exact metrics: ground truth scores perfectly, frozen and shuffled videos score at chance."""

from __future__ import annotations

import numpy as np
import pytest

from aidbench.data import synthtvp
from aidbench.metrics import synthetic

FRAMES, RES, GROUPS = 8, 32, 48


@pytest.fixture(scope="module")
def truths():
    clips = [synthtvp.episode(0, "test", i) for i in range(GROUPS * synthtvp.GROUP_SIZE)]
    return {ep.clip_id: synthetic.Truth.of_episode(ep, FRAMES, RES) for ep in clips}


def _all(metric, fakes, truths):
    return np.mean(list(synthetic.score(metric, fakes, truths, num_ref=1).values()))


def test_ground_truth_scores_perfectly(truths):
    fakes = {c: t.frames for c, t in truths.items()}
    assert _all("instruction-accuracy@synthtvp", fakes, truths) == 1.0
    assert _all("counterfactual-accuracy@synthtvp", fakes, truths) == 1.0
    assert _all("psnr@synthtvp", fakes, truths) == synthetic.PSNR_CAP
    assert _all("ssim@synthtvp", fakes, truths) == pytest.approx(1.0)
    assert _all("trajectory-error@synthtvp", fakes, truths) <= 0.5 / RES + 1e-9


def test_frozen_videos_score_no_better_than_chance(truths):
    fakes = {c: np.repeat(t.frames[:1], FRAMES, axis=0) for c, t in truths.items()}
    assert _all("instruction-accuracy@synthtvp", fakes, truths) == 0.0
    assert _all("counterfactual-accuracy@synthtvp", fakes, truths) <= 1 / synthtvp.GROUP_SIZE
    assert _all("psnr@synthtvp", fakes, truths) < 40
    assert _all("trajectory-error@synthtvp", fakes, truths) > 0.02


def test_videos_swapped_within_their_group_are_told_apart(truths):
    ids = sorted(truths)
    # Each clip shows the future of the next instruction of its own group: same first frame, wrong outcome.
    swapped = {}
    for i, clip_id in enumerate(ids):
        group_start = i - i % synthtvp.GROUP_SIZE
        other = ids[group_start + (i + 1) % synthtvp.GROUP_SIZE]
        swapped[clip_id] = truths[other].frames
    assert _all("counterfactual-accuracy@synthtvp", swapped, truths) == 0.0
    assert _all("instruction-accuracy@synthtvp", swapped, truths) <= 0.1


def test_a_text_blind_model_scores_about_one_in_four(truths):
    ids = sorted(truths)
    rng = np.random.default_rng(0)
    blind = {}
    for i, clip_id in enumerate(ids):
        group_start = i - i % synthtvp.GROUP_SIZE
        blind[clip_id] = truths[ids[group_start + int(rng.integers(synthtvp.GROUP_SIZE))]].frames
    accuracy = _all("counterfactual-accuracy@synthtvp", blind, truths)
    instruction = _all("instruction-accuracy@synthtvp", blind, truths)
    # 192 clips: a 1/4 chance lands within ±0.1 with probability > 0.99
    assert abs(accuracy - 0.25) < 0.1 and abs(instruction - 0.25) < 0.1


def test_incomplete_groups_are_left_out(truths):
    ids = sorted(truths)[: synthtvp.GROUP_SIZE + 2]
    fakes = {c: truths[c].frames for c in ids}
    assert set(synthetic.counterfactual_correct(fakes, truths)) == set(ids[: synthtvp.GROUP_SIZE])


def test_noisy_generations_still_classify(truths):
    rng = np.random.default_rng(1)
    noisy = {
        c: np.clip(t.frames.astype(int) + rng.integers(-20, 21, t.frames.shape), 0, 255).astype(np.uint8)
        for c, t in truths.items()
    }
    assert _all("instruction-accuracy@synthtvp", noisy, truths) == 1.0
    assert _all("counterfactual-accuracy@synthtvp", noisy, truths) == 1.0


def test_clip_ids_parse_back_to_split_and_index():
    assert synthtvp.parse_clip_id("synthtvp-test-00001-2") == ("test", 6)
    with pytest.raises(ValueError, match="not a synthtvp clip id"):
        synthtvp.parse_clip_id("101")
