"""The MLLM's state descriptions: four one-sentence states per clip, written once into the state cache.

Backends: `llava` (transformers' LLaVA-1.5 from a local folder, the paper's Fig. 14 prompt with the first
frame), `oracle` (synthtvp's ground truth), `none` (nothing: train with use_states=false). An answer that
does not parse into exactly four states is asked again with a repair prompt; a clip that still fails is
skipped and counted. The pass is resumable: clips already in the cache are not asked again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aidbench.data import states as cache
from aidbench.data import synthtvp
from aidbench.environment import quiet_loading
from aidbench.errors import UserError
from aidbench.progress import track

REPAIR = (
    "Answer again with exactly four lines, 'State 1:' to 'State 4:', one sentence each, describing how "
    'the video for "{instruction}" unfolds from the given image.'
)
_LINE = re.compile(r"^\s*(?:\*\*)?\s*(?:state\s*\d+|\d+)\s*(?:\*\*)?\s*[:.)\-]\s*(?:\*\*)?\s*(.+?)\s*$", re.I)


def parse_states(answer: str) -> list[str] | None:
    """Four numbered states ("State 1: …", "1. …", "**State 1:** …") → their sentences; else None."""
    found = [m.group(1).strip().strip("*").strip() for m in map(_LINE.match, answer.splitlines()) if m]
    found = [s for s in found if s]
    return found if len(found) == cache.NUM_STATES else None


def describe(
    generate: Callable[[np.ndarray, str], str], frame: np.ndarray, instruction: str, retries: int = 1
):
    """The four states for one clip, asking again with the repair prompt when the answer does not parse."""
    answer = generate(frame, cache.PROMPT_TEMPLATE.format(instruction=instruction))
    parsed = parse_states(answer)
    for _ in range(retries):
        if parsed is not None:
            break
        parsed = parse_states(generate(frame, REPAIR.format(instruction=instruction)))
    return parsed


def llava_prompt(prompt: str) -> str:
    """LLaVA-1.5's conversation format with exactly one image token: where the prompt places `<image>` (the
    paper's Fig. 14 prompt asks about "the given <image>"), else before the prompt, as LLaVA's own template
    puts it. The processor expands that one token into the image's patch tokens."""
    body = prompt if prompt.count("<image>") == 1 else "<image>\n" + prompt.replace("<image>", "image")
    return f"USER: {body} ASSISTANT:"


class Llava:
    """LLaVA-1.5 (transformers) from a local folder; greedy decoding, its USER/ASSISTANT chat format."""

    def __init__(self, folder: str | Path, device: str = "cpu", max_new_tokens: int = 200):
        import torch
        from transformers import AutoProcessor, LlavaForConditionalGeneration

        quiet_loading()
        self.processor = AutoProcessor.from_pretrained(str(folder), local_files_only=True)
        model = LlavaForConditionalGeneration.from_pretrained(
            str(folder), local_files_only=True, dtype=torch.float32 if device == "cpu" else torch.float16
        )
        self.model = model.to(device).eval()
        self.device, self.max_new_tokens = device, max_new_tokens
        self.name = f"llava:{Path(folder).name}"

    def __call__(self, frame: np.ndarray, prompt: str) -> str:
        import torch
        from PIL import Image

        text = llava_prompt(prompt)
        inputs = self.processor(images=Image.fromarray(frame), text=text, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return self.processor.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def write_states(dataset, backend: str, out: Path, generate=None, producer: str = "") -> dict[str, Any]:
    """Describe every clip of `dataset` not yet in `out`; returns counts."""

    if backend == "none":
        return {
            "backend": "none",
            "written": 0,
            "note": "no states: train with model.mcondition.use_states=false",
        }
    have = cache.read(out).records if out.is_file() else {}
    written, failed = 0, []
    for ref in track(dataset.refs, f"states for {dataset.name}/{dataset.split}"):
        if ref.clip_id in have:
            continue
        if backend == "oracle":
            if dataset.name != "synthtvp":
                raise UserError("the oracle backend exists only for synthtvp; use --backend llava.")
            meta = ref.meta
            sentences = synthtvp.episode(
                meta["seed"],
                meta["split"],
                meta["index"],
                meta.get("task", "full"),
                meta.get("domain", "default"),
            ).state_sentences()
            record = cache.StateRecord(
                ref.clip_id, ref.instruction, tuple(sentences), "oracle:synthtvp", cache.ORACLE_PROMPT_SHA256
            )
        else:
            clip = dataset.try_load(ref)
            if not hasattr(clip, "frames"):
                failed.append(ref.clip_id)
                continue
            sentences = describe(generate, clip.frames[0], clip.instruction)
            if sentences is None:
                failed.append(ref.clip_id)
                continue
            record = cache.StateRecord(
                ref.clip_id, clip.instruction, tuple(sentences), producer, cache.PROMPT_SHA256
            )
        cache.append(out, [record])
        written += 1
    return {
        "backend": backend,
        "written": written,
        "already_cached": len(have),
        "failed": failed,
        "cache": str(out),
    }
