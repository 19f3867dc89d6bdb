from __future__ import annotations

import json

import numpy as np
import pytest

from aidbench.config import resolve
from aidbench.data import states, synthtvp
from aidbench.data.clips import ClipSampling
from aidbench.data.export import export_synthtvp
from aidbench.data.open import open_dataset
from aidbench.data.ssv2 import SSv2
from aidbench.errors import UserError


def test_clips_are_deterministic_in_seed_split_and_index():
    a = synthtvp.episode(0, "test", 5)
    assert a == synthtvp.episode(0, "test", 5)
    np.testing.assert_array_equal(synthtvp.render(a, 8, 32), synthtvp.render(a, 8, 32))
    assert a != synthtvp.episode(1, "test", 5)
    assert a != synthtvp.episode(0, "train", 5)
    assert a.clip_id == "synthtvp-test-00001-1"


def test_counterfactual_groups_share_the_first_frame_not_the_future():
    for group in range(6):
        eps = [
            synthtvp.episode(0, "validation", group * synthtvp.GROUP_SIZE + v)
            for v in range(synthtvp.GROUP_SIZE)
        ]
        videos = [synthtvp.render(ep, 8, 48) for ep in eps]
        assert len({ep.instruction for ep in eps}) == synthtvp.GROUP_SIZE
        for video in videos[1:]:
            np.testing.assert_array_equal(video[0], videos[0][0])
        lasts = {video[-1].tobytes() for video in videos}
        assert len(lasts) == synthtvp.GROUP_SIZE


@pytest.mark.parametrize(("frames", "resolution"), [(8, 16), (16, 64), (13, 48), (5, 256)])
def test_positions_are_recovered_exactly_at_any_size(frames, resolution):
    for index in range(12):
        ep = synthtvp.episode(3, "train", index)
        video = synthtvp.render(ep, frames, resolution)
        assert video.shape == (frames, resolution, resolution, 3)
        colours = [o.colour for o in ep.objects]
        assert synthtvp.locate(video, colours) == synthtvp.expected_boxes(ep, frames, resolution)


def test_objects_never_overlap_and_stay_in_frame():
    for index in range(200):
        ep = synthtvp.episode(7, "train", index)
        states_ = ep.states(12)
        for t in range(12):
            masks = [synthtvp.object_mask(o.shape, *states_[t, k], 64) for k, o in enumerate(ep.objects)]
            assert sum(m.astype(int) for m in masks).max() <= 1
            for k, obj in enumerate(ep.objects):
                x, y, size = states_[t, k]
                if size > 0:
                    assert size / 2 <= x <= 1 - size / 2 and size / 2 <= y <= 1 - size / 2, (ep, t, obj)


def test_the_instruction_names_what_moves():
    kinds = set()
    for index in range(400):
        ep = synthtvp.episode(0, "train", index)
        kinds.add(ep.action.kind)
        start, end = ep.states(2)
        moved = np.abs(end - start).sum(axis=1) > 1e-9
        assert moved.tolist() == [k == ep.action.target for k in range(len(ep.objects))]
        target = ep.objects[ep.action.target]
        assert target.name in ep.instruction
        if ep.action.kind == "move":
            dx, dy = synthtvp.DIRECTIONS[ep.action.direction]
            assert np.sign(end[ep.action.target][:2] - start[ep.action.target][:2]).tolist() == [dx, dy]
        if ep.action.kind == "remove":
            assert end[ep.action.target][2] == 0
    assert kinds == {"move", "push", "put_on", "remove"}


def test_the_dataset_adapter_renders_at_the_configs_size():
    cfg = resolve(preset="smoke", overrides=["data.max_clips=8"])
    data = open_dataset(cfg, "test")
    clips = list(data)
    assert len(clips) == 8 and data.counts()["listed"] == 8
    assert clips[0].frames.shape == (cfg.data.num_frames, cfg.data.resolution, cfg.data.resolution, 3)
    assert clips[0].instruction == synthtvp.episode(cfg.seed, "test", 0, cfg.data.synthtvp_task).instruction
    strided = synthtvp.SynthTVP(None, "test", ClipSampling(4, 1, 16, mode="stride", stride=2), max_clips=1)
    assert next(iter(strided)).source_length == 7


def test_export_round_trips_through_the_ssv2_adapter_exactly(tmp_path):
    out = tmp_path / "synth"
    summary = export_synthtvp(out, n=8, seed=5, resolution=32, num_frames=8, splits=("train", "test"))
    assert summary["clips_written"] == 16 and summary["splits"] == {"train": 8, "test": 8}
    data = SSv2(out, "test", ClipSampling(num_frames=8, num_ref_frames=1, resolution=32))
    clips = list(data)
    assert len(clips) == 8
    for index, clip in enumerate(clips):
        ep = synthtvp.episode(5, "test", index)
        assert (clip.clip_id, clip.instruction) == (ep.clip_id, ep.instruction)
        assert clip.meta["template"] == ep.action.template()
        colours = [o.colour for o in ep.objects]
        assert synthtvp.locate(clip.frames, colours) == synthtvp.expected_boxes(ep, 8, 32)
    cache = states.read(out / "states.jsonl", prompt_sha256=states.ORACLE_PROMPT_SHA256)
    assert len(cache.records) == 16 and not cache.bad_lines
    record = cache.records["synthtvp-test-00000-0"]
    assert record.producer == "oracle:synthtvp" and len(record.states) == 4
    tracks = json.loads((out / "synthtvp.json").read_text())["tracks"]
    np.testing.assert_allclose(
        tracks[clips[0].clip_id]["states"], synthtvp.episode(5, "test", 0).states(8), atol=1e-6
    )


def test_export_resumes_and_refuses_other_settings(tmp_path):
    out = tmp_path / "synth"
    export_synthtvp(out, n=4, seed=0, resolution=16, num_frames=6, splits=("test",))
    first = sorted(p.name for p in (out / "rawframes").iterdir())
    again = export_synthtvp(out, n=6, seed=0, resolution=16, num_frames=6, splits=("test",))
    assert again["clips_written"] == 2
    assert sorted(p.name for p in (out / "rawframes").iterdir())[:4] == first
    assert len(states.read(out / "states.jsonl").records) == 6
    assert len((out / "states.jsonl").read_text().splitlines()) == 6  # nothing appended twice
    with pytest.raises(UserError, match="other settings"):
        export_synthtvp(out, n=4, seed=0, resolution=32, num_frames=6, splits=("test",))


def test_the_move1_task_is_one_object_and_the_four_moves():
    for group in range(6):
        eps = [synthtvp.episode(0, "test", group * synthtvp.GROUP_SIZE + v, "move1") for v in range(4)]
        assert all(len(ep.objects) == 1 and ep.action.kind == "move" for ep in eps)
        assert {ep.action.direction for ep in eps} == set(synthtvp.DIRECTIONS)
        assert len({ep.objects for ep in eps}) == 1  # one scene per counterfactual group
        for index, ep in enumerate(eps, start=group * synthtvp.GROUP_SIZE):
            assert ep.clip_id.startswith("synthtvp-move1-test-")
            assert synthtvp.parse_clip_id(ep.clip_id) == ("test", index)
            assert synthtvp.task_of_clip_id(ep.clip_id) == "move1"
    full = synthtvp.episode(0, "test", 5)
    assert full == synthtvp.episode(0, "test", 5, "full") and full.clip_id == "synthtvp-test-00001-1"
    assert synthtvp.task_of_clip_id(full.clip_id) == "full"
    with pytest.raises(ValueError, match="variants"):
        synthtvp.episode(0, "test", 0, "move2")


def test_the_task_reaches_the_dataset_and_the_export(tmp_path):
    cfg = resolve(preset="smoke", overrides=["data.max_clips=4", "data.synthtvp_task=move1"])
    clip = next(iter(open_dataset(cfg, "test")))
    assert clip.clip_id == synthtvp.episode(cfg.seed, "test", 0, "move1").clip_id
    out = tmp_path / "synth"
    export_synthtvp(out, n=4, seed=0, resolution=16, num_frames=8, splits=("test",), task="move1")
    data = SSv2(out, "test", ClipSampling(num_frames=8, num_ref_frames=1, resolution=16))
    for index, clip in enumerate(data):
        ep = synthtvp.episode(0, "test", index, "move1")
        assert (clip.clip_id, clip.instruction) == (ep.clip_id, ep.instruction)
        assert synthtvp.locate(clip.frames, [ep.objects[0].colour]) == synthtvp.expected_boxes(ep, 8, 16)
    with pytest.raises(UserError, match="other settings"):
        export_synthtvp(out, n=4, seed=0, resolution=16, num_frames=8, splits=("test",))


def test_the_shifted_domain_is_the_same_task_larger_on_grey_and_named_in_its_clip_ids():
    default = synthtvp.episode(0, "test", 5, "move1")
    shifted = synthtvp.episode(0, "test", 5, "move1", "shifted")
    assert default.clip_id == "synthtvp-move1-test-00001-1"  # the default domain's ids do not change
    assert shifted.clip_id == "synthtvp-move1-shifted-test-00001-1"
    assert synthtvp.episode(0, "test", 5, "full", "shifted").clip_id == "synthtvp-shifted-test-00001-1"
    for clip_id, task, domain in (
        (shifted.clip_id, "move1", "shifted"),
        ("synthtvp-shifted-test-00001-1", "full", "shifted"),
        (default.clip_id, "move1", "default"),
    ):
        assert (synthtvp.task_of_clip_id(clip_id), synthtvp.domain_of_clip_id(clip_id)) == (task, domain)
        assert synthtvp.parse_clip_id(clip_id) == ("test", 5)
    assert shifted.instruction.startswith("Moving the ")
    low, high = synthtvp.DOMAINS["shifted"].sizes
    for index in range(40):
        ep = synthtvp.episode(2, "train", index, "full", "shifted")
        assert all(low <= o.size <= high for o in ep.objects)
        video = synthtvp.render(ep, 6, 32)
        assert tuple(video[0, 0, 0]) == (112, 112, 112) or any(o.size for o in ep.objects)
        colours = [o.colour for o in ep.objects]
        assert synthtvp.locate(video, colours, domain="shifted") == synthtvp.expected_boxes(ep, 6, 32)
    with pytest.raises(ValueError, match="domains default, shifted"):
        synthtvp.episode(0, "test", 0, "full", "dark")


def test_a_config_opens_the_shifted_domain_and_its_ground_truth_scores_perfectly():
    from aidbench.metrics import synthetic

    cfg = resolve(preset="smoke", overrides=["data.synthtvp_domain=shifted", "data.max_clips=8"])
    dataset = open_dataset(cfg, "test")
    clip = dataset.load(dataset.refs[0])
    assert clip.clip_id.startswith("synthtvp-move1-shifted-test-") and tuple(clip.frames[0, 0, 0]) == (
        112,
        112,
        112,
    )
    truths, fakes = {}, {}
    for ref in dataset.refs:
        split, index = synthtvp.parse_clip_id(ref.clip_id)
        ep = synthtvp.episode(0, split, index, "move1", synthtvp.domain_of_clip_id(ref.clip_id))
        truths[ref.clip_id] = synthetic.Truth.of_episode(ep, 5, 16)
        fakes[ref.clip_id] = truths[ref.clip_id].frames
    scores = synthetic.score("instruction-accuracy@synthtvp", fakes, truths, 1)
    assert set(scores.values()) == {1.0}
