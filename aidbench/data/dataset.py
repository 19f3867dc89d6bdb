"""What every dataset adapter shares: an index of clip references, safe paths, loading, skip accounting.

An adapter only parses its annotation files into ClipRefs (`index`). Loading, sampling and the handling
of bad videos live here: a missing, corrupt, empty or too-short video is skipped and counted, an id or path
that would leave the dataset root is rejected without being opened, and iteration stops with one clear
error once the bad fraction passes `max_bad_fraction`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

import numpy as np

from aidbench.data.clips import ClipSampling, TooShort, read_clip
from aidbench.data.video import CorruptVideo, FrameFiles, glob_frames, open_video
from aidbench.errors import UserError, did_you_mean
from aidbench.progress import track

SKIP_KINDS = ("missing", "corrupt", "too_short", "rejected")


class DatasetLayoutError(UserError):
    """The dataset root or a split file is missing or malformed."""


class TooManyBadClips(UserError):
    """More clips failed than the configured fraction allows."""


class UnsafePath(Exception):
    """An id or path from an annotation file that could name something other than one entry below its root."""


NAME_MAX = 255  # bytes in one path component on Linux, macOS and Windows file systems


def safe_join(base: Path, relative: str) -> Path:
    """base / relative for a path that comes from a dataset or a user: refused (UnsafePath) when it is empty,
    absolute, holds '..', '.', an empty component, a NUL or a component longer than the file system
    allows, or when a symbolic link below `base` leads it outside `base`."""
    text = str(relative)
    if not text.strip():
        raise UnsafePath("empty path")
    if "\0" in text:
        raise UnsafePath("a NUL character")
    for flavour in (PurePosixPath(text), PureWindowsPath(text)):
        if flavour.is_absolute() or flavour.drive:
            raise UnsafePath(f"'{text[:80]}' is absolute")
    for part in text.replace("\\", "/").split("/"):
        if part in ("", ".", ".."):
            raise UnsafePath(f"'{text[:80]}' holds an empty, '.' or '..' component")
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise UnsafePath(f"a name of {len(part)} characters, longer than file systems allow")
    path = Path(base) / text
    root = Path(base).resolve()
    if not path.resolve().is_relative_to(root):
        raise UnsafePath(f"'{text[:80]}' leads outside {base} through a symbolic link")
    return path


@dataclass(frozen=True)
class ClipRef:
    """One clip as the annotations describe it; nothing is opened until `ClipDataset.load`."""

    clip_id: str
    instruction: str
    # A video file or a folder of frames; ignored when frame_files is given.
    source: Path | None = None
    # Explicit frame files (e.g. an Epic-Kitchens segment), in order.
    frame_files: tuple[Path, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    clip_id: str
    reason: str


@dataclass
class Clip:
    clip_id: str
    # (T, H, W, 3) uint8 after sampling, resize and crop; clips.to_model gives the model's view.
    frames: np.ndarray
    instruction: str
    num_ref_frames: int
    meta: Mapping[str, Any] = field(default_factory=dict)
    # The video as stored: its frame count and (height, width) before sampling and resizing.
    source_length: int = 0
    source_size: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Skipped:
    clip_id: str
    kind: str  # one of SKIP_KINDS
    detail: str


class ClipDataset:
    """Base of every adapter: subclasses set `name`, `layout`, `split_aliases` and implement `index`."""

    name: ClassVar[str]
    # One sentence describing the official layout, quoted in every layout error.
    layout: ClassVar[str]
    # Accepted split names → the canonical one.
    split_aliases: ClassVar[Mapping[str, str]] = {
        "train": "train",
        "validation": "validation",
        "val": "validation",
    }

    def __init__(
        self,
        root: str | Path,
        split: str,
        sampling: ClipSampling,
        max_clips: int | None = None,
        max_bad_fraction: float = 0.01,
    ) -> None:
        self.root = Path(root).expanduser()
        if split not in self.split_aliases:
            raise DatasetLayoutError(
                f"{self.name} has no split '{split}'{did_you_mean(split, self.split_aliases)} "
                f"(splits: {', '.join(sorted(self.split_aliases))})."
            )
        self.split = self.split_aliases[split]
        self.sampling = sampling
        self.max_bad_fraction = max_bad_fraction
        self._check_root()
        refs: list[ClipRef] = []
        self.skipped: list[Skipped] = []
        for item in self.index():
            if isinstance(item, Rejected):
                self.skipped.append(Skipped(item.clip_id, "rejected", item.reason))
            else:
                refs.append(item)
        if not refs and not self.skipped:
            raise DatasetLayoutError(f"{self.name} split '{self.split}' under {self.root} lists no clips.")
        self.refs = refs[:max_clips] if max_clips else refs
        self.total = len(self.refs) + len(self.skipped)

    # ------------------------------------------------------------------ for subclasses

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise DatasetLayoutError(f"{self.name} root {self.root} does not exist; expected {self.layout}")

    def index(self) -> Iterable[ClipRef | Rejected]:
        raise NotImplementedError

    def find_file(self, *candidates: str) -> Path:
        """The first of root/candidate that exists, or a layout error naming them all."""
        for candidate in candidates:
            path = self.root / candidate
            if path.is_file():
                return path
        tried = ", ".join(str(self.root / c) for c in candidates)
        raise DatasetLayoutError(
            f"{self.name} split '{self.split}': none of {tried} exists; expected {self.layout}"
        )

    def read_json(self, path: Path) -> Any:
        import json

        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DatasetLayoutError(f"{path} is not readable JSON ({err}); expected {self.layout}") from None

    def open(self, ref: ClipRef):
        """The frame source behind a ref (FileNotFoundError when absent)."""
        if self.sampling.chain == "seer" and ref.frame_files is None and ref.source and ref.source.is_dir():
            return FrameFiles(glob_frames(ref.source))
        if ref.frame_files is not None:
            missing = [p for p in ref.frame_files if not p.is_file()]
            if missing:
                raise FileNotFoundError(missing[0])
            return FrameFiles(ref.frame_files)
        return open_video(ref.source)

    # ------------------------------------------------------------------ loading

    def __len__(self) -> int:
        return len(self.refs)

    def load(self, ref: ClipRef) -> Clip:
        """Decode, sample, resize and crop one clip; raises FileNotFoundError, CorruptVideo or TooShort."""
        video = self.open(ref)
        length = len(video)
        if length == 0:
            raise CorruptVideo(f"{ref.source}: no frames")
        frames, source_size = read_clip(video, self.sampling)
        return Clip(
            ref.clip_id,
            frames,
            ref.instruction,
            self.sampling.num_ref_frames,
            dict(ref.meta),
            source_length=length,
            source_size=source_size,
        )

    def try_load(self, ref: ClipRef) -> Clip | Skipped:
        try:
            return self.load(ref)
        except FileNotFoundError as err:
            return Skipped(ref.clip_id, "missing", f"{err.filename or err} does not exist")
        except CorruptVideo as err:
            return Skipped(ref.clip_id, "corrupt", str(err))
        except TooShort as err:
            return Skipped(ref.clip_id, "too_short", str(err))

    def __iter__(self) -> Iterator[Clip]:
        """Clips in index order; bad ones are skipped, recorded in `skipped`, and bounded by the fraction."""
        self.check_bad_fraction()
        for ref in track(self.refs, f"reading {self.name}/{self.split}"):
            result = self.try_load(ref)
            if isinstance(result, Skipped):
                self.skipped.append(result)
                self.check_bad_fraction()
                continue
            yield result

    # ------------------------------------------------------------------ accounting

    def counts(self) -> dict[str, int]:
        kinds = Counter(s.kind for s in self.skipped)
        return {"listed": self.total, **{kind: kinds.get(kind, 0) for kind in SKIP_KINDS}}

    def bad_fraction(self) -> float:
        return len(self.skipped) / self.total if self.total else 0.0

    def check_bad_fraction(self) -> None:
        if self.bad_fraction() > self.max_bad_fraction:
            counts = ", ".join(f"{k} {v}" for k, v in self.counts().items() if k != "listed" and v)
            first = "; ".join(f"{s.clip_id}: {s.detail}" for s in self.skipped[:3])
            raise TooManyBadClips(
                f"{self.name}/{self.split}: {len(self.skipped)} of {self.total} clips are unusable ({counts}), "
                f"more than data.max_corrupt_fraction={self.max_bad_fraction}; first: {first}. "
                f"Run `aidbench data verify {self.name} --root {self.root}` for the full list."
            )

    def skipped_report(self) -> list[dict[str, str]]:
        return [{"clip_id": s.clip_id, "kind": s.kind, "detail": s.detail} for s in self.skipped]
