from __future__ import annotations

import numpy as np
import pytest

from aidbench.data import video
from aidbench.data.video import CorruptVideo, FrameFiles, VideoFile, list_frames, open_video, read_video


def _frames(t=10, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    # Smooth content: codecs keep it nearly intact, so decoders can be compared closely.
    base = rng.integers(0, 255, size=(t, h // 8, w // 8, 3)).astype(np.uint8)
    return base.repeat(8, axis=1).repeat(8, axis=2)


def test_png_frames_are_lossless_and_atomic(tmp_path):
    frames = _frames()
    folder = video.write_png_frames(tmp_path / "clip", frames)
    assert [p.name for p in list_frames(folder)][:2] == ["frame_00000.png", "frame_00001.png"]
    np.testing.assert_array_equal(read_video(folder), frames)
    assert not list(tmp_path.glob(".*tmp"))


def test_frame_folders_sort_naturally(tmp_path):
    frames = _frames(t=12)
    from PIL import Image

    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"im_{i}.png")
    assert [p.name for p in list_frames(tmp_path)][9:11] == ["im_9.png", "im_10.png"]
    np.testing.assert_array_equal(read_video(tmp_path), frames)


@pytest.mark.parametrize("suffix", [".webm", ".mp4"])
def test_lossless_encodes_round_trip_closely(tmp_path, suffix):
    frames = _frames()
    path = video.write_video(tmp_path / f"v{suffix}", frames, lossless=True)
    for backend in ("decord", "pyav"):
        decoded = VideoFile(path, backend).read(range(len(frames)))
        assert decoded.shape == frames.shape
        # yuv444p keeps every pixel; only the RGB↔YUV conversion rounds.
        assert np.abs(decoded.astype(int) - frames).max() <= 3, backend


def test_decord_and_pyav_decode_the_same_frames(tmp_path):
    frames = _frames(t=20)
    path = video.write_video(tmp_path / "v.webm", frames)
    a = VideoFile(path, "decord")
    b = VideoFile(path, "pyav")
    assert len(a) == len(b) == 20
    indices = [0, 3, 7, 19]
    assert np.abs(a.read(indices).astype(int) - b.read(indices)).mean() < 1.0


def test_preview_mp4_of_odd_size(tmp_path):
    odd = np.random.default_rng(1).integers(0, 256, size=(5, 33, 47, 3), dtype=np.uint8)
    path = video.write_video(tmp_path / "preview.mp4", odd)
    assert read_video(path).shape[1:3] == (34, 48)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_corrupt_and_empty_files_raise_corrupt_video(tmp_path, backend):
    garbage = tmp_path / "bad.webm"
    garbage.write_bytes(b"\x1a\x45\xdf\xa3 not really a webm" * 10)
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    for path in (garbage, empty):
        with pytest.raises(CorruptVideo):
            v = VideoFile(path, backend)
            v.read(range(len(v)))


def test_corrupt_frame_files_raise_corrupt_video(tmp_path):
    (tmp_path / "f_0.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(CorruptVideo, match="f_0.jpg"):
        FrameFiles(list_frames(tmp_path)).read([0])


def test_missing_sources_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_video(tmp_path / "absent.webm")


def test_writers_refuse_wrong_arrays(tmp_path):
    with pytest.raises(ValueError, match="uint8 frames"):
        video.write_png_frames(tmp_path / "x", np.zeros((2, 4, 4, 3), np.float32))
