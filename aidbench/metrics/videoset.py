"""A folder of videos to score: each entry a video file or a folder of frames, named by its stem.

A folder in Seer's rawframes layout (`<folder>/rawframes/<id>/`, e.g. a synthtvp export) is read from
its rawframes. Instructions (for CLIPSIM) come from `<folder>/instructions.json` ({name: text}) or from a
`meta.json` with an "instruction" beside the frames. Unreadable entries are skipped and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aidbench.data.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, CorruptVideo, list_frames, read_video
from aidbench.errors import UserError
from aidbench.progress import track


@dataclass
class VideoSet:
    root: Path | None
    names: list[str]
    videos: list[np.ndarray]
    instructions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # name → why
    # How the clips were read and became uint8, for the protocol card: files are scored as stored.
    reading: str = "files as given: videos decoded, frame folders in name order"
    quantisation: str = "uint8 as stored"
    # The same clips' further samples (k = 1 … K−1), in the same order, when each clip was sampled K times.
    more: list[VideoSet] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def by_name(self) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.videos, strict=True))

    def stacked(self, what: str) -> np.ndarray:
        """(N, T, H, W, 3): every clip must have the same length and size."""
        shapes = {v.shape for v in self.videos}
        if len(shapes) > 1:
            first = self.videos[0].shape
            odd = next(n for n, v in zip(self.names, self.videos, strict=True) if v.shape != first)
            raise UserError(
                f"{what}: clips differ in length or size ({self.names[0]} is {first[0]}×{first[1]}×{first[2]}, "
                f"{odd} is {'×'.join(map(str, dict(zip(self.names, self.videos, strict=True))[odd].shape[:3]))}); "
                "score clips of one length and size."
            )
        return np.stack(self.videos) if self.videos else np.zeros((0, 1, 1, 1, 3), np.uint8)


def _entries(folder: Path) -> list[Path]:
    entries = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if (
            path.is_dir()
            and list_frames(path, recursive=False)
            or path.is_file()
            and path.suffix.lower() in VIDEO_SUFFIXES
        ):
            entries.append(path)
    return entries


def load_folder(folder: str | Path, what: str) -> VideoSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{what} folder {folder} does not exist.")
    entries = _entries(folder)
    if not entries and (folder / "rawframes").is_dir():  # a dataset in Seer's layout, e.g. a synthtvp export
        entries = _entries(folder / "rawframes")
    if not entries:
        raise UserError(
            f"{what} folder {folder} holds no videos (video files {', '.join(VIDEO_SUFFIXES)} "
            f"or folders of {', '.join(IMAGE_SUFFIXES)} frames)."
        )
    instructions: dict[str, str] = {}
    listed = folder / "instructions.json"
    if listed.is_file():
        instructions.update(json.loads(listed.read_text()))
    names, videos, skipped = [], [], {}
    for entry in track(entries, f"reading {what}"):
        name = entry.stem if entry.is_file() else entry.name
        try:
            videos.append(read_video(entry))
        except CorruptVideo as err:
            skipped[name] = str(err)
            continue
        names.append(name)
        meta = entry / "meta.json"
        if entry.is_dir() and meta.is_file():
            text = json.loads(meta.read_text()).get("instruction")
            if text:
                instructions.setdefault(name, text)
    if not names:
        raise UserError(f"{what} folder {folder}: no readable videos ({len(skipped)} corrupt).")
    return VideoSet(folder, names, videos, instructions, skipped)
