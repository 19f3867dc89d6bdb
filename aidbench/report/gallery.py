"""The report's gallery: per sampled clip its first frame, instruction, ground truth and every system.

Previews are animated WebP made with Pillow from the sampling runs' lossless PNG frames (Chromium plays
them without proprietary codecs; the runs' H.264 .mp4 previews need one). Ground truth comes from the
sampling run's dataset and split, read as `aidbench eval` reads it; when the dataset is not on this
machine the gallery says so instead.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aidbench import runs
from aidbench.data.open import open_dataset
from aidbench.stages import sample as samples


@dataclass
class GalleryClip:
    clip_id: str
    instruction: str
    first_frame: bytes | None  # PNG
    truth: bytes | None  # animated WebP
    # system → animated WebP, or None when that system has no sample of this clip
    systems: dict[str, bytes | None] = field(default_factory=dict)


@dataclass
class Gallery:
    dataset: str
    systems: list[str]
    clips: list[GalleryClip]
    # Why a column or the ground truth is missing, for the reader.
    notes: list[str] = field(default_factory=list)
    total_clips: int = 0


FRAME_MS = 125  # 8 fps, as the .mp4 previews
# Previews larger than this (on the long side) are scaled down and stored lossy, so a gallery of 16 clips
# at the paper's 256 px stays a few MB; smaller ones (synthtvp) stay exact.
MAX_SIDE = 128


def _image(frame: np.ndarray):
    from PIL import Image

    image = Image.fromarray(frame)
    if max(image.size) > MAX_SIDE:
        scale = MAX_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _small(frame: np.ndarray) -> bool:
    return max(frame.shape[:2]) <= MAX_SIDE


def png(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    _image(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def animated_webp(frames: list[np.ndarray]) -> bytes:
    images = [_image(f) for f in frames]
    quality = {"lossless": True} if _small(frames[0]) else {"quality": 80}
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=FRAME_MS,
        loop=0,
        **quality,
    )
    return buffer.getvalue()


def _truth(sample_dir: Path, clip_ids: list[str]) -> tuple[dict[str, np.ndarray], str | None]:
    """The real clips behind a sampling run's samples, or why they cannot be read here."""

    try:
        run = runs.load_run(sample_dir.parent.parent.parent, "sample", sample_dir.name)
        config = run.config
        dataset = open_dataset(config, run.state.get("split") or config.data.eval_split)
        wanted = set(clip_ids)
        dataset.refs = [ref for ref in dataset.refs if ref.clip_id in wanted]
        return {clip.clip_id: clip.frames for clip in dataset}, None
    except Exception as err:  # a report never fails for a dataset that is not on this machine
        return {}, f"ground truth not shown: {type(err).__name__}: {err}"


def collect(dataset: str, sample_dirs: dict[str, Path | None], max_clips: int = 16) -> Gallery:
    """Clips sampled by every system first (then by some), in clip order, at most `max_clips`."""
    systems = list(sample_dirs)
    finished = {s: set(samples.finished_clips(d)) if d else set() for s, d in sample_dirs.items()}
    everyone = set.intersection(*finished.values()) if finished else set()
    anyone = set().union(*finished.values()) if finished else set()
    chosen = (sorted(everyone) + sorted(anyone - everyone))[:max_clips]
    notes = [f"{s}: no sampling run yet" for s, d in sample_dirs.items() if d is None]
    if len(anyone) > len(chosen):
        notes.append(f"showing {len(chosen)} of {len(anyone)} clips")
    gallery = Gallery(dataset, systems, [], notes, len(anyone))
    if not chosen:
        return gallery
    source = next(sample_dirs[s] for s in systems if finished[s])
    truths, why = _truth(source, chosen)
    if why:
        notes.append(why)
    for clip_id in chosen:
        instruction, first = "", None
        previews: dict[str, bytes | None] = {}
        for system in systems:
            run_dir = sample_dirs[system]
            if run_dir is None or clip_id not in finished[system]:
                previews[system] = None
                continue
            frames = samples.read_frames(run_dir, clip_id)
            previews[system] = animated_webp(frames) if frames else None
            if first is None and frames:
                first = png(frames[0])
            if not instruction:
                instruction = samples.read_meta(run_dir, clip_id).get("instruction", "")
        truth = truths.get(clip_id)
        gallery.clips.append(
            GalleryClip(
                clip_id,
                instruction,
                first,
                animated_webp(list(truth)) if truth is not None else None,
                previews,
            )
        )
    return gallery
