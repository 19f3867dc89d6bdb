"""Sampling and eval runs written through the real run-folder and Record code, with chosen numbers.

A sampling run holds a few 16×16 PNG frames per clip (one colour per system) and meta.json, as
`aidbench sample` writes them; an eval run holds records.jsonl and its state names the sampling run,
as `aidbench eval --run` writes them.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from aidbench import atomic, runs
from aidbench.config import resolve
from aidbench.metrics.protocols import Record

CLIPS = ("synthtvp-move1-test-00000-0", "synthtvp-move1-test-00000-1", "synthtvp-move1-test-00000-2")
DEVICE = {"kind": "cpu"}


def sample_run(
    system: str,
    *,
    dataset: str = "synthtvp",
    clips: tuple[str, ...] = CLIPS,
    run_id: str | None = None,
    overrides: tuple[str, ...] = (),
    checkpoint: str | None = None,
    frames: int = 4,
) -> runs.Run:
    config = resolve(
        preset="smoke",
        overrides=[
            f"model.name={system}",
            f"data.dataset={dataset}",
            "data.resolution=16",
            f"data.num_frames={frames}",
            *overrides,
        ],
    )
    run = runs.start_run("sample", config, run_id=run_id or f"sample-{system}", argv=["test"], device=DEVICE)
    with runs.running(run):
        run.update_state(checkpoint=checkpoint, split="test")
        colour = np.frombuffer(hashlib.sha256(system.encode()).digest()[:3], dtype=np.uint8)
        for clip in clips:
            folder = run.path / "samples" / clip
            folder.mkdir(parents=True)
            for t in range(frames):
                frame = np.zeros((16, 16, 3), np.uint8) + colour
                frame[t * 4 : t * 4 + 4, :, :] = 255  # a bar that moves down: an animation to see
                Image.fromarray(frame).save(folder / f"frame_{t:05d}.png")
            atomic.write_json(
                folder / "meta.json",
                {
                    "clip_id": clip,
                    "instruction": f"move the red cube ({clip[-1]})",
                    "seed": 1,
                    "system": system,
                },
            )
        run.update_state(result={"generated": len(clips)})
    return run


def _card(metric: str, n: int) -> dict[str, str]:
    """The card the metric's own compute would write for n clips a side (no detector file behind it)."""
    from aidbench import registry
    from aidbench.metrics import protocols
    from aidbench.metrics.videoset import VideoSet

    if metric not in registry.names("metric"):
        return {}
    clips = VideoSet(None, [f"c{i}" for i in range(n)], [None] * n)
    steps = registry.load("metric", metric).steps(protocols.Context(), 16)
    return protocols.card(steps, clips, clips, {w: None for w in registry.load("metric", metric).weights})


def eval_run(
    sample: runs.Run,
    values: dict[str, tuple[float, float, float]],
    *,
    run_id: str,
    created_at: str = "2026-01-01T00:00:00+00:00",
    n: int = 3,
    floors: dict[str, float] | None = None,
) -> runs.Run:
    """An eval run of `sample` whose records carry `values`: metric → (value, ci_low, ci_high), and
    `floors`: metric → its real-vs-real noise floor."""
    run = runs.start_run("eval", sample.config, run_id=run_id, argv=["test"], device=DEVICE)
    run.manifest["created_at"] = created_at
    run.save()
    with runs.running(run):
        records = [
            Record(
                metric,
                value,
                low,
                high,
                0.95,
                200,
                n,
                n,
                {"metric": metric.split("@")[0]},
                {},
                card=_card(metric, n),
                noise_floor={
                    "value": floors[metric],
                    "low": 0.0,
                    "high": 1.0,
                    "splits": 10,
                    "clips": "1 vs 2 real",
                }
                if floors and metric in floors
                else None,
            )
            for metric, (value, low, high) in values.items()
        ]
        path = atomic.write_text(run.path / "records.jsonl", "".join(r.to_json() + "\n" for r in records))
        run.update_state(
            records=str(path),
            sources={"real": sample.run_id, "generated": sample.run_id},
            skipped={"real": [], "generated": []},
        )
    return run
