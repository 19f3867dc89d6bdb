"""The MLLM state cache: for each clip, exactly four one-sentence states, computed once and reused.

JSON Lines, one record per line:
  {"clip_id": str, "instruction": str, "states": [4 × str], "producer": str, "prompt_sha256": str}
`producer` names who wrote the states ("oracle:synthtvp", "llava:<weights>"); `prompt_sha256` is the hash
of the prompt template that produced them, so states from another prompt are never mixed in silently.
Records are appended one line at a time (flushed and synced), so a long LLaVA pass resumes after a crash;
a torn last line is ignored and counted when reading.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from aidbench.errors import UserError

NUM_STATES = 4

# AID supplementary, Fig. 14: the prompt LLaVA receives with the first frame.
PROMPT_TEMPLATE = (
    'I have a prompt "{instruction}" for video generation. This prompt guides the process of generating a '
    "video from the given <image>. Can you describe this process in separate states? Each state should be "
    "described in only one sentence, and please ensure the descriptions between states are coherent. Be "
    "straightforward and avoid a narrative style. Additionally, can you align the description with the "
    "provided image? There should be four states in total."
)
PROMPT_SHA256 = hashlib.sha256(PROMPT_TEMPLATE.encode()).hexdigest()
ORACLE_PROMPT_SHA256 = hashlib.sha256(b"oracle: ground-truth states, no prompt").hexdigest()


@dataclass(frozen=True)
class StateRecord:
    clip_id: str
    instruction: str
    states: tuple[str, ...]
    producer: str
    prompt_sha256: str

    def __post_init__(self) -> None:
        if len(self.states) != NUM_STATES or not all(isinstance(s, str) and s.strip() for s in self.states):
            raise ValueError(
                f"clip {self.clip_id}: expected exactly {NUM_STATES} non-empty states, got {self.states!r}"
            )


def append(path: str | Path, records: Iterable[StateRecord]) -> int:
    """Append records durably; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            row = asdict(record)
            row["states"] = list(record.states)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            written += 1
    return written


@dataclass
class StateCache:
    records: dict[str, StateRecord]
    # Lines that could not be used: a torn final line after a crash, or a malformed record.
    bad_lines: list[int]


def read(path: str | Path, prompt_sha256: str | None = None) -> StateCache:
    """Records by clip id (a later line for the same clip wins). A missing file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"state cache {path} does not exist; write it with `aidbench data states`.")
    records: dict[str, StateRecord] = {}
    bad: list[int] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                record = StateRecord(
                    clip_id=str(row["clip_id"]),
                    instruction=str(row["instruction"]),
                    states=tuple(row["states"]),
                    producer=str(row["producer"]),
                    prompt_sha256=str(row["prompt_sha256"]),
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                bad.append(number)
                continue
            if prompt_sha256 is not None and record.prompt_sha256 != prompt_sha256:
                raise UserError(
                    f"{path} line {number}: states for clip {record.clip_id} come from another prompt "
                    f"(sha256 {record.prompt_sha256[:12]}…, expected {prompt_sha256[:12]}…); use a separate cache file."
                )
            records[record.clip_id] = record
    return StateCache(records, bad)
