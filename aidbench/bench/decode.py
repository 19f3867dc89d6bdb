"""Decode + resize + crop throughput of the SSv2 adapter against a straightforward PyAV loop.

Both read the same SSv2-like files (VP9 webm, 427×240, 32–60 frames, moving texture) and produce
16-frame 256×256 clips. Ours is the real code path (`SSv2` → decord, uniform resampling, uint8
channels-last resize); the baseline decodes every frame with PyAV, converts each to RGB, picks 16 evenly
spaced frames and resizes them one by one with PIL, as typical training code does.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from aidbench import atomic, environment
from aidbench.data.clips import ClipSampling
from aidbench.data.ssv2 import SSv2
from aidbench.data.video import write_video

SOURCE_SIZE = (240, 427)  # SSv2 videos are 240 pixels high
FRAMES = 16
RESOLUTION = 256


def make_videos(root: Path, count: int, seed: int = 0) -> Path:
    """An SSv2 layout (labels/validation.json + 20bn-something-something-v2/<id>.webm) of moving textures."""
    from PIL import Image

    videos = root / "20bn-something-something-v2"
    rng = np.random.default_rng(seed)
    height, width = SOURCE_SIZE
    entries = []
    for i in range(count):
        length = int(rng.integers(32, 61))
        path = videos / f"{i}.webm"
        if not path.exists():
            coarse = rng.integers(0, 256, size=(height // 16 + 8, width // 16 + 8, 3)).astype(np.uint8)
            texture = np.asarray(
                Image.fromarray(coarse).resize((coarse.shape[1] * 16, coarse.shape[0] * 16), Image.BICUBIC)
            )
            frames = np.stack(
                [
                    texture[t % 64 : t % 64 + height, (2 * t) % 64 : (2 * t) % 64 + width]
                    for t in range(length)
                ]
            )
            write_video(path, frames, fps=12)
        entries.append(
            {"id": str(i), "label": "Moving something", "template": "Moving [something]", "placeholders": []}
        )
    atomic.write_json(root / "labels" / "validation.json", entries)
    return root


def _baseline(paths: list[Path]) -> None:
    import av
    from PIL import Image

    for path in paths:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        for index in np.linspace(0, len(frames) - 1, FRAMES).round().astype(int):
            image = Image.fromarray(frames[index])
            scale = RESOLUTION / min(image.size)
            image = image.resize((int(image.width * scale), int(image.height * scale)), Image.BILINEAR)
            left, top = (image.width - RESOLUTION) // 2, (image.height - RESOLUTION) // 2
            np.asarray(image.crop((left, top, left + RESOLUTION, top + RESOLUTION)))


def _ours(root: Path) -> int:
    dataset = SSv2(
        root, "validation", ClipSampling(FRAMES, 1, RESOLUTION, mode="uniform"), max_bad_fraction=0.0
    )
    return sum(1 for _ in dataset)


def run(work_dir: Path, clips: int = 24, rounds: int = 3) -> dict[str, Any]:
    import torch

    root = make_videos(work_dir, clips)
    paths = sorted((root / "20bn-something-something-v2").glob("*.webm"))
    _ours(root), _baseline(paths[:2])  # warm-up: imports, codec initialisation
    ours, baseline = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine state
        start = time.perf_counter()
        assert _ours(root) == clips
        ours.append(clips / (time.perf_counter() - start))
        start = time.perf_counter()
        _baseline(paths)
        baseline.append(clips / (time.perf_counter() - start))
    ours_rate, baseline_rate = statistics.median(ours), statistics.median(baseline)
    return {
        "benchmark": "video-decode",
        "what": f"decode + resize + centre crop to {FRAMES}×{RESOLUTION}² clips from VP9 webm "
        f"({SOURCE_SIZE[1]}×{SOURCE_SIZE[0]}, 32–60 frames)",
        "clips": clips,
        "rounds": rounds,
        "ours_clips_per_s": round(ours_rate, 2),
        "baseline_clips_per_s": round(baseline_rate, 2),
        "speedup": round(ours_rate / baseline_rate, 2),
        "ours_rounds": [round(r, 2) for r in ours],
        "baseline_rounds": [round(r, 2) for r in baseline],
        "baseline": "PyAV: decode all frames to RGB, 16 evenly spaced, PIL bilinear resize + crop, one by one",
        "torch_threads": torch.get_num_threads(),
        "device": environment.device("cpu"),
        "python": environment.python_platform(),
        "packages": {
            k: v for k, v in environment.package_versions().items() if k in ("torch", "decord", "av", "numpy")
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
