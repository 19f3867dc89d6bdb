"""`aidbench data export synthtvp`: write synthtvp to disk in the SSv2 (Seer rawframes) layout.

<out>/annotations/<split>.json   SSv2 entries {id, label, template, placeholders}
<out>/rawframes/<id>/img_00001.png …   lossless frames, read back by the ssv2 adapter
<out>/states.jsonl               the oracle (ground-truth) MLLM states, in the state-cache schema
<out>/synthtvp.json              the generator settings and every object's per-frame state
Each clip folder is written atomically; an interrupted export resumes and never rewrites a finished clip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aidbench import atomic
from aidbench.data import states, synthtvp
from aidbench.data.video import write_png_frames
from aidbench.errors import UserError
from aidbench.progress import track


def export_synthtvp(
    out: str | Path,
    n: int,
    seed: int,
    resolution: int,
    num_frames: int,
    splits: tuple[str, ...] = tuple(synthtvp.SPLITS),
    task: str = "full",
    domain: str = "default",
) -> dict[str, Any]:
    out = Path(out)
    previous = out / "synthtvp.json"
    if previous.is_file():
        import json

        old = json.loads(previous.read_text())
        settings = {
            "seed": seed,
            "resolution": resolution,
            "num_frames": num_frames,
            "task": task,
            "domain": domain,
        }
        old.setdefault("task", "full")  # exports from before the task variants and domains
        old.setdefault("domain", "default")
        if {k: old.get(k) for k in settings} != settings:
            raise UserError(
                f"{out} holds a synthtvp export with other settings ({ {k: old.get(k) for k in settings} }); "
                "export into an empty folder."
            )
    cache_path = out / "states.jsonl"
    cached = states.read(cache_path).records if cache_path.is_file() else {}
    summary: dict[str, Any] = {
        "seed": seed,
        "resolution": resolution,
        "num_frames": num_frames,
        "task": task,
        "domain": domain,
        "splits": {},
    }
    tracks: dict[str, Any] = {}
    written = 0
    for split in splits:
        annotations = []
        for index in track(range(n), f"exporting synthtvp/{split}"):
            ep = synthtvp.episode(seed, split, index, task, domain)
            folder = out / "rawframes" / ep.clip_id
            if not folder.is_dir():
                write_png_frames(folder, synthtvp.render(ep, num_frames, resolution), prefix="img_", start=1)
                written += 1
            if ep.clip_id not in cached:
                record = states.StateRecord(
                    ep.clip_id,
                    ep.instruction,
                    tuple(ep.state_sentences()),
                    "oracle:synthtvp",
                    states.ORACLE_PROMPT_SHA256,
                )
                states.append(cache_path, [record])
            target = ep.objects[ep.action.target]
            placeholders = [target.name] + (
                [ep.objects[ep.action.other].name] if ep.action.other is not None else []
            )
            annotations.append(
                {
                    "id": ep.clip_id,
                    "label": ep.instruction,
                    "template": ep.action.template(),
                    "placeholders": placeholders,
                }
            )
            tracks[ep.clip_id] = {
                "group": ep.group,
                "variant": ep.variant,
                "action": ep.action.kind,
                "target": target.colour,
                "objects": [{"colour": o.colour, "shape": o.shape} for o in ep.objects],
                "states": ep.states(num_frames).round(6).tolist(),
            }
        atomic.write_json(out / "annotations" / f"{split}.json", annotations)
        summary["splits"][split] = len(annotations)
    atomic.write_json(out / "synthtvp.json", {**summary, "tracks": tracks})
    return {**summary, "clips_written": written, "out": str(out)}
