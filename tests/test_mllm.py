from __future__ import annotations

import numpy as np
import pytest

from aidbench.data import states
from aidbench.model import mllm

FOUR = (
    "State 1: A jar is on the table.\nState 2: A hand grasps it.\nState 3: It is lifted.\nState 4: It rests."
)


@pytest.mark.parametrize(
    "answer",
    [
        FOUR,
        "1. A jar is on the table.\n2. A hand grasps it.\n3. It is lifted.\n4. It rests.",
        "Sure!\n**State 1:** A jar is on the table.\n**State 2:** A hand grasps it.\n**State 3:** It is lifted."
        "\n**State 4:** It rests.\nHope this helps.",
    ],
)
def test_answers_in_the_usual_shapes_parse_to_four_states(answer):
    assert mllm.parse_states(answer) == [
        "A jar is on the table.",
        "A hand grasps it.",
        "It is lifted.",
        "It rests.",
    ]


@pytest.mark.parametrize(
    "answer", ["A jar moves.", "State 1: a\nState 2: b\nState 3: c", FOUR + "\nState 5: more"]
)
def test_other_answers_do_not(answer):
    assert mllm.parse_states(answer) is None


def test_a_bad_answer_is_asked_again_with_the_repair_prompt():
    prompts = []

    def model(frame, prompt):
        prompts.append(prompt)
        return "I think the jar moves." if len(prompts) == 1 else FOUR

    frame = np.zeros((4, 4, 3), np.uint8)
    assert mllm.describe(model, frame, "Putting jar on a surface") is not None
    assert prompts[0] == states.PROMPT_TEMPLATE.format(instruction="Putting jar on a surface")
    assert prompts[1].startswith("Answer again with exactly four lines")
    assert mllm.describe(lambda f, p: "no", frame, "x", retries=2) is None


def test_states_command_writes_oracle_states_and_resumes(cli, tmp_path):
    args = [
        "data",
        "states",
        "--dataset",
        "synthtvp",
        "--backend",
        "oracle",
        "--split",
        "test",
        "--out",
        str(tmp_path / "s.jsonl"),
        "--set",
        "data.max_clips=8",
    ]
    first = cli(*args)
    assert first.code == 0 and '"written": 8' in first.out
    again = cli(*args)
    assert '"written": 0' in again.out and '"already_cached": 8' in again.out
    cache = states.read(tmp_path / "s.jsonl", prompt_sha256=states.ORACLE_PROMPT_SHA256)
    assert len(cache.records) == 8
    missing = cli("data", "states", "--dataset", "synthtvp", "--backend", "llava", "--split", "test")
    assert missing.code == 1 and "weights 'llava'" in missing.err
    assert cli("data", "states", "--dataset", "synthtvp", "--backend", "lava").code == 2
