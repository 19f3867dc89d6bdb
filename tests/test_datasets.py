from __future__ import annotations

import numpy as np
import pytest

from aidbench import registry
from aidbench.data.clips import ClipSampling
from aidbench.data.dataset import DatasetLayoutError, TooManyBadClips, UnsafePath, safe_join
from aidbench.data.ucf101_captions import CAPTIONS
from tests import fakes

SAMPLING = ClipSampling(num_frames=8, num_ref_frames=2, resolution=16, mode="uniform")


def open_(name, root, split, sampling=SAMPLING, **kwargs):
    return registry.load("dataset", name)(root, split, sampling, **kwargs)


def test_ssv2_webm_layout_yields_every_field_and_counts_the_bad(tmp_path):
    data = open_("ssv2", fakes.ssv2_webm(tmp_path), "validation", max_bad_fraction=1.0)
    clips = list(data)
    assert [c.clip_id for c in clips] == ["101", "102"]
    first = clips[0]
    assert first.instruction == "Putting jar on a surface"
    assert first.frames.shape == (8, 16, 16, 3) and first.frames.dtype == np.uint8
    assert first.num_ref_frames == 2
    assert first.meta == {"template": "Putting [something] on a surface", "placeholders": ["jar"]}
    assert (first.source_length, first.source_size) == (20, (24, 32))
    kinds = {s.clip_id: s.kind for s in data.skipped}
    assert kinds == {
        "103": "too_short",
        "104": "corrupt",
        "105": "missing",
        "../../etc/passwd": "rejected",
        "106": "rejected",
    }
    assert data.counts() == {"listed": 7, "missing": 1, "corrupt": 1, "too_short": 1, "rejected": 2}


def test_ssv2_stops_when_too_many_clips_are_bad(tmp_path):
    data = open_("ssv2", fakes.ssv2_webm(tmp_path), "validation", max_bad_fraction=0.2)
    with pytest.raises(TooManyBadClips, match=r"ssv2/validation: 2 of 7 clips are unusable .*rejected 2"):
        list(data)


def test_ssv2_rawframes_layout(tmp_path):
    data = open_("ssv2", fakes.ssv2_rawframes(tmp_path), "train")
    (clip,) = list(data)
    assert (clip.clip_id, clip.instruction, clip.source_length) == ("7", "Pushing something", 18)


def test_ssv2_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="ssv2 root .* does not exist; expected <root>/labels"):
        open_("ssv2", tmp_path / "nowhere", "train")
    tmp_path.joinpath("labels").mkdir()
    with pytest.raises(DatasetLayoutError, match="labels/train.json"):
        open_("ssv2", tmp_path, "train")
    tmp_path.joinpath("labels", "train.json").write_text("{not json")
    with pytest.raises(DatasetLayoutError, match="not readable JSON"):
        open_("ssv2", tmp_path, "train")
    tmp_path.joinpath("labels", "test.json").write_text('[{"id": "1"}, {"id": "2"}]')
    with pytest.raises(DatasetLayoutError, match="no labels, so no instructions"):
        open_("ssv2", tmp_path, "test")
    with pytest.raises(DatasetLayoutError, match="no split 'tran'; did you mean 'train'"):
        open_("ssv2", tmp_path, "tran")


@pytest.mark.parametrize("with_list", [True, False])
def test_bridge_split_order_and_instructions(tmp_path, with_list):
    order = fakes.bridge(tmp_path, with_list)
    train = open_("bridge", tmp_path, "train")
    val = open_("bridge", tmp_path, "validation")
    assert [r.clip_id for r in train.refs] == order[:4]  # int(0.8 * 6) = 4
    assert [r.clip_id for r in val.refs] == order[4:]
    by_task = {r.meta["task"]: r.instruction for r in train.refs + val.refs}
    assert by_task == {
        "put_carrot_in_bowl": "put carrot in bowl",
        "flip_pot_upright_in_sink_distractors": "flip pot upright in sink",
        "turn_lever-vertical": "turn lever vertical",
    }
    clip = next(iter(val))
    assert clip.source_length == 12 and clip.frames.shape == (8, 16, 16, 3)


def test_bridge_reads_frames_in_natural_order(tmp_path):
    fakes.bridge(tmp_path, with_list=False)
    data = open_("bridge", tmp_path, "train", ClipSampling(num_frames=12, num_ref_frames=1, resolution=24))
    clip = data.load(data.refs[0])
    expected = fakes.frames(12, seed=int(data.refs[0].clip_id.split("/")[1]))[:, :, 4:28].astype(int)
    distance = np.abs(clip.frames.astype(int)[:, None] - expected[None]).mean(axis=(2, 3, 4))
    assert distance.argmin(axis=1).tolist() == list(range(12))  # im_10 after im_9, not after im_1


def test_epic_segments_narration_and_seer_thinning(tmp_path):
    data = open_("epic", fakes.epic(tmp_path), "validation", max_bad_fraction=1.0)
    refs = {r.clip_id: r for r in data.refs}
    assert refs["P01_01_0"].instruction == "pick up knife"
    assert [p.name for p in refs["P01_01_0"].frame_files[:2]] == [
        "frame_0000000001.jpg",
        "frame_0000000002.jpg",
    ]
    assert len(refs["P01_01_0"].frame_files) == 20
    long = refs["P01_01_1"].frame_files  # 205 frames, step (210 - 5) // 100 = 2
    assert len(long) == 103 and long[1].name == "frame_0000000007.jpg"
    clips = {c.clip_id: c for c in data}
    assert set(clips) == {"P01_01_0", "P01_01_1"}
    assert clips["P01_01_0"].frames.shape == (8, 16, 16, 3)
    assert clips["P01_01_0"].meta == {"video_id": "P01_01", "start_frame": 1, "stop_frame": 20}
    kinds = {s.clip_id: s.kind for s in data.skipped}
    assert kinds == {"P01_01_2": "missing", "P02_01_0": "rejected"}
    consecutive = open_("epic", tmp_path, "validation", ClipSampling(8, 1, 16, mode="consecutive"))
    assert len({r.clip_id: r for r in consecutive.refs}["P01_01_1"].frame_files) == 206


def test_epic_needs_its_columns(tmp_path):
    (tmp_path / "EPIC_100_train.csv").write_text("narration_id,narration\nx,y\n")
    with pytest.raises(DatasetLayoutError, match="lacks the columns participant_id, video_id"):
        open_("epic", tmp_path, "train")


def test_ucf101_split1_with_written_captions(tmp_path):
    data = open_("ucf101", fakes.ucf101(tmp_path), "test", max_bad_fraction=1.0)
    (clip,) = list(data)
    assert clip.clip_id == "v_Biking_g01_c01"
    assert clip.instruction == "A person is riding a bicycle."
    assert clip.meta == {"class": "Biking"}
    assert [(s.clip_id, s.kind) for s in data.skipped] == [("v_UnknownClass_g01_c01", "rejected")]
    train = open_("ucf101", tmp_path, "train")
    assert [r.instruction for r in train.refs] == ["A person is applying eye makeup."]


def test_ucf101_captions_cover_the_101_classes():
    assert len(CAPTIONS) == 101
    assert all(c[0].isupper() and c.endswith(".") for c in CAPTIONS.values())
    assert len(set(CAPTIONS.values())) == 101


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "a/../../b",
        "/etc/passwd",
        "C:\\x",
        "..\\x",
        "  ",
        ".",
        "./",
        "a//b",
        "a/./b",
        "x\0y",
        "y" * 300,
    ],
)
def test_safe_join_refuses_escapes(tmp_path, bad):
    with pytest.raises(UnsafePath):
        safe_join(tmp_path, bad)
    assert safe_join(tmp_path, "P01/rgb_frames/P01_01") == tmp_path / "P01/rgb_frames/P01_01"


def test_a_symlink_below_the_root_that_leads_outside_is_refused_and_counted(tmp_path):
    """SSv2 rawframes whose clip folder is a link to elsewhere: rejected, counted, never read; a root that is
    itself a link (data on another disk) is fine."""
    import json

    from tests.fakes import frames, write_jpgs

    elsewhere = tmp_path / "elsewhere"
    write_jpgs(elsewhere, frames(18))
    root = tmp_path / "ssv2"
    rawframes = root / "rawframes"
    write_jpgs(rawframes / "1", frames(18))
    (rawframes / "2").symlink_to(elsewhere, target_is_directory=True)
    (root / "annotations").mkdir(parents=True)
    entries = [{"id": "1", "label": "Putting jar on a surface"}, {"id": "2", "label": "Pushing a cup"}]
    (root / "annotations" / "train.json").write_text(json.dumps(entries))
    data = open_("ssv2", root, "train")
    assert [r.clip_id for r in data.refs] == ["1"]
    assert [(s.clip_id, s.kind) for s in data.skipped] == [("2", "rejected")]
    linked = tmp_path / "linked-root"
    linked.symlink_to(root, target_is_directory=True)
    assert [r.clip_id for r in open_("ssv2", linked, "train").refs] == ["1"]


def test_max_clips_caps_the_index(tmp_path):
    data = open_("ssv2", fakes.ssv2_webm(tmp_path), "validation", max_clips=2)
    assert [r.clip_id for r in data.refs] == ["101", "102"]
