"""Video I/O: read video files (decord, PyAV as fallback) and frame folders; write samples losslessly.

Frames are uint8 arrays of shape (T, H, W, 3), RGB, everywhere in aidbench until `clips.to_model`.
Scoring reads PNG frames (or a lossless yuv444p crf-0 encode), never a lossy preview.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aidbench.atomic import DIR_MODE, FILE_MODE

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".webm", ".mp4", ".avi", ".mkv", ".mov", ".m4v")


class CorruptVideo(Exception):
    """A video or frame that exists but cannot be decoded (or holds no frames)."""


def _natural_key(path: Path) -> list:
    """'im_10' after 'im_9': digits compare as numbers (frame folders rarely zero-pad)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def list_frames(folder: Path, recursive: bool = False) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    files = [p for p in folder.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: (_natural_key(p.parent), _natural_key(p)))


def glob_frames(folder: Path) -> list[Path]:
    """A frame folder as Seer lists it: `Path.glob('**/*.<ext>')` per extension, in the file system's
    order (unsorted, so it can differ between machines; `list_frames` is aidbench's sorted order)."""
    return [p for ext in IMAGE_SUFFIXES for p in folder.glob(f"**/*{ext}") if p.is_file()]


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise CorruptVideo(f"{path}: {err}") from None


@dataclass
class FrameFiles:
    """A video stored as image files, one per frame, in order."""

    files: Sequence[Path]

    def __len__(self) -> int:
        return len(self.files)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        return np.stack([_read_image(Path(self.files[i])) for i in indices])


@dataclass
class VideoFile:
    """A video file, decoded by decord where it is installed, else by PyAV.

    With backend "auto", a file decord cannot decode (decord fails on some valid files, e.g. odd frame
    sizes) is retried with PyAV before it is called corrupt.
    """

    path: Path
    backend: str = "auto"

    def __post_init__(self) -> None:
        self._reader = None
        self._frames: np.ndarray | None = None  # PyAV decodes the whole file once
        self._may_fall_back = self.backend == "auto"
        if self.backend == "auto":
            self.backend = "decord" if _has_decord() else "pyav"

    def _decord(self):
        if self._reader is None:
            import decord

            self._reader = decord.VideoReader(str(self.path), num_threads=1)
        return self._reader

    def _pyav(self) -> np.ndarray:
        if self._frames is None:
            self._frames = _pyav_decode_all(self.path)
        return self._frames

    def _with_decord(self, use):
        import decord

        try:
            return use(self._decord())
        except (decord.DECORDError, RuntimeError, IndexError) as err:
            if not self._may_fall_back:
                raise CorruptVideo(f"{self.path}: {str(err).splitlines()[0]}") from None
            self.backend = "pyav"
            return None

    def __len__(self) -> int:
        if self.backend == "decord":
            length = self._with_decord(len)
            if length is not None:
                return length
        return len(self._pyav())

    def read(self, indices: Sequence[int]) -> np.ndarray:
        indices = list(indices)
        if self.backend == "decord":
            frames = self._with_decord(lambda reader: reader.get_batch(indices).asnumpy())
            if frames is not None:
                return frames
        return self._pyav()[indices]


def _has_decord() -> bool:
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def _pyav_decode_all(path: Path) -> np.ndarray:
    import av

    try:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, ValueError, IndexError) as err:
        raise CorruptVideo(f"{path}: {err}") from None
    if not frames:
        raise CorruptVideo(f"{path}: no video frames")
    return np.stack(frames)


def open_video(path: Path, backend: str = "auto") -> FrameFiles | VideoFile:
    """A folder of images or a video file; FileNotFoundError when neither exists."""
    path = Path(path)
    if path.is_dir():
        return FrameFiles(list_frames(path, recursive=True))
    if path.is_file():
        return VideoFile(path, backend)
    raise FileNotFoundError(path)


def read_video(path: Path, backend: str = "auto") -> np.ndarray:
    """Every frame of a video file or frame folder, (T, H, W, 3) uint8."""
    video = open_video(path, backend)
    n = len(video)
    if n == 0:
        raise CorruptVideo(f"{path}: no frames")
    return video.read(range(n))


# --------------------------------------------------------------------------- writing


def _check(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


def write_png_frames(folder: Path, frames: np.ndarray, prefix: str = "frame_", start: int = 0) -> Path:
    """Lossless frames `<prefix>00000.png …`, written into a temporary folder and renamed into place."""
    from PIL import Image

    frames = _check(frames)
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    tmp.chmod(DIR_MODE)
    try:
        for i, frame in enumerate(frames):
            Image.fromarray(frame).save(tmp / f"{prefix}{start + i:05d}.png", compress_level=1)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def write_video(path: Path, frames: np.ndarray, fps: float = 8.0, lossless: bool = False) -> Path:
    """Encode frames with PyAV, atomically.

    mp4 → H.264 (lossless: yuv444p, crf 0; preview: yuv420p, crf 18); webm → VP9 (lossless: yuv444p,
    lossless=1); avi → MPEG-4 Part 2 (as UCF-101 ships). Odd sizes are padded for 4:2:0 previews.
    """
    import av

    frames = _check(frames)
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)  # PyAV opens the file by name and overwrites it
    height, width = frames.shape[1:3]
    if suffix == ".mp4":
        codec, options = "libx264", {"crf": "0" if lossless else "18", "preset": "medium"}
        pix_fmt = "yuv444p" if lossless else "yuv420p"
    elif suffix == ".webm":
        codec, options = "libvpx-vp9", ({"lossless": "1"} if lossless else {"crf": "30", "b": "0"})
        pix_fmt = "yuv444p" if lossless else "yuv420p"
    elif suffix == ".avi":
        codec, options, pix_fmt = "mpeg4", {"qscale": "2"}, "yuv420p"
    else:
        raise ValueError(f"cannot write {path}: use .mp4, .webm or .avi")
    if pix_fmt == "yuv420p" and (height % 2 or width % 2):
        frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        height, width = frames.shape[1:3]
    try:
        with av.open(tmp_name, mode="w") as container:
            stream = container.add_stream(codec, rate=int(round(fps)), options=options)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
