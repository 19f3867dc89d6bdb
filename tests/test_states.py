from __future__ import annotations

import pytest

from aidbench.data import states
from aidbench.errors import UserError


def _record(clip_id="c1", prompt=states.PROMPT_SHA256):
    return states.StateRecord(
        clip_id, "Putting jar on a surface", ("a.", "b.", "c.", "d."), "llava:test", prompt
    )


def test_append_then_read(tmp_path):
    path = tmp_path / "states.jsonl"
    assert states.append(path, [_record("c1"), _record("c2")]) == 2
    cache = states.read(path, prompt_sha256=states.PROMPT_SHA256)
    assert set(cache.records) == {"c1", "c2"} and cache.bad_lines == []
    assert cache.records["c1"].states == ("a.", "b.", "c.", "d.")


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    path = tmp_path / "states.jsonl"
    states.append(path, [_record("c1")])
    with open(path, "a") as handle:
        handle.write('{"clip_id": "c2", "instruction": "x", "sta')
    cache = states.read(path)
    assert set(cache.records) == {"c1"} and cache.bad_lines == [2]


def test_exactly_four_states():
    with pytest.raises(ValueError, match="exactly 4 non-empty states"):
        states.StateRecord("c", "i", ("a", "b", "c"), "p", "h")
    with pytest.raises(ValueError):
        states.StateRecord("c", "i", ("a", "b", "c", " "), "p", "h")


def test_states_from_another_prompt_are_refused(tmp_path):
    path = tmp_path / "states.jsonl"
    states.append(path, [_record("c1", prompt="0" * 64)])
    with pytest.raises(UserError, match="come from another prompt"):
        states.read(path, prompt_sha256=states.PROMPT_SHA256)
    with pytest.raises(UserError, match="does not exist"):
        states.read(tmp_path / "absent.jsonl")


def test_the_prompt_is_the_papers_figure_14():
    assert states.PROMPT_TEMPLATE.startswith('I have a prompt "{instruction}" for video generation.')
    assert states.PROMPT_TEMPLATE.endswith("There should be four states in total.")
