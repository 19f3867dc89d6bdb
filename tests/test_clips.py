from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2 as T

from aidbench.config import resolve
from aidbench.data.clips import (
    ClipSampling,
    TooShort,
    from_model,
    read_clip,
    resize_center_crop,
    to_model,
)


def _video(t, h=8, w=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("length", [16, 17, 23, 45, 100])
def test_uniform_resampling_is_seers_trilinear_cast(length):
    frames = _video(length)
    sampling = ClipSampling(num_frames=16, num_ref_frames=1, resolution=8, mode="uniform")
    ours = read_clip(frames, sampling)[0].astype(np.float64)  # 8×8 frames at resolution 8: no resize
    x = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].double()  # (1, C, T, H, W)
    reference = F.interpolate(x, size=(16, 8, 8), mode="trilinear")[0].permute(1, 2, 3, 0).numpy()
    assert np.abs(ours - reference).max() <= 0.5 + 1e-4  # ours rounds to uint8 (float32 blend)
    if length == 16:
        np.testing.assert_array_equal(read_clip(frames, sampling)[0], frames)


def test_stride_and_consecutive_pick_exact_frames():
    frames = _video(30)
    stride = ClipSampling(num_frames=4, num_ref_frames=1, resolution=8, mode="stride", stride=3, offset=2)
    np.testing.assert_array_equal(read_clip(frames, stride)[0], frames[[2, 5, 8, 11]])
    consecutive = ClipSampling(num_frames=5, num_ref_frames=2, resolution=8, mode="consecutive", offset=25)
    np.testing.assert_array_equal(read_clip(frames, consecutive)[0], frames[25:30])
    with pytest.raises(TooShort, match="30 frames, the clip needs 31"):
        ClipSampling(num_frames=6, num_ref_frames=2, resolution=8, mode="consecutive", offset=25).plan(30)
    with pytest.raises(TooShort):
        ClipSampling(num_frames=16, num_ref_frames=1, resolution=8).plan(15)


def test_frames_are_resized_before_they_are_blended_as_seer_does():
    frames = _video(24, 12, 20)
    sampling = ClipSampling(num_frames=16, num_ref_frames=1, resolution=8)
    x = torch.from_numpy(resize_center_crop(frames, 8)).permute(3, 0, 1, 2)[None].double()
    reference = F.interpolate(x, size=(16, 8, 8), mode="trilinear")[0].permute(1, 2, 3, 0).numpy()
    clip, source_size = read_clip(frames, sampling)
    assert source_size == (12, 20) and clip.shape == (16, 8, 8, 3)
    assert np.abs(clip - reference).max() <= 0.5 + 1e-4


def test_sampling_comes_from_the_config():
    cfg = resolve(overrides=["data.frame_sampling=stride", "data.frame_stride=2", "data.frame_offset=1"])
    sampling = ClipSampling.from_config(cfg.data)
    assert (sampling.mode, sampling.stride, sampling.offset, sampling.num_frames) == ("stride", 2, 1, 16)
    assert sampling.required_frames() == 1 + 15 * 2 + 1


@pytest.mark.parametrize(("h", "w"), [(240, 427), (480, 360), (64, 64), (50, 30)])
def test_resize_and_crop_match_torchvision(h, w):
    frames = _video(3, h, w)
    ours = resize_center_crop(frames, 32)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    reference = T.CenterCrop(32)(T.Resize(32, antialias=True)(x)).round().clamp(0, 255)
    assert ours.shape == (3, 32, 32, 3)
    assert np.abs(ours.astype(int) - reference.permute(0, 2, 3, 1).numpy()).max() <= 1


def test_model_range_round_trips():
    frames = _video(4, 6, 5)
    x = to_model(frames)
    assert x.shape == (4, 3, 6, 5) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert float(to_model(np.full((1, 1, 1, 3), 255, np.uint8)).max()) == 1.0
    np.testing.assert_array_equal(from_model(x), frames)
    np.testing.assert_array_equal(
        from_model(torch.full((1, 3, 2, 2), 7.0)), np.full((1, 2, 2, 3), 255, np.uint8)
    )


def _seers_loader(folder, resolution: int, num_frames: int) -> np.ndarray:
    """Seer's sthv2 `Dataset.__getitem__` (normalize=False) then eval.py's `(gt + 1) / 2` and
    compute_fvd's `(x * 255).astype('uint8')`, step by step, with torchvision's PIL transforms."""
    from pathlib import Path

    from PIL import Image
    from torchvision import transforms as TV

    transform = TV.Compose([TV.Resize(resolution), TV.CenterCrop(resolution), TV.ToTensor()])
    paths = [p for ext in ["jpg"] for p in Path(folder).glob(f"**/*.{ext}")]
    tensor = torch.stack([transform(Image.open(p)) for p in paths], dim=1)
    tensor = 2.0 * tensor - 1.0
    c, f, h, w = tensor.shape
    if f > num_frames:
        tensor = F.interpolate(tensor.unsqueeze(0), size=(num_frames, h, w), mode="trilinear").squeeze(0)
    elif f < num_frames:
        tensor = F.pad(tensor, (0, 0, 0, 0, 0, num_frames - f, 0, 0))
    gt = (tensor + 1.0) / 2.0
    return (gt.permute(1, 2, 3, 0).numpy() * 255).astype("uint8")


@pytest.mark.parametrize("length", [7, 12, 31])  # zero-padded, as it is, resampled
def test_conformance_the_seer_chain_reads_a_frame_folder_as_seers_loader_does(tmp_path, length):
    from PIL import Image

    from aidbench.data.video import FrameFiles, glob_frames

    rng = np.random.default_rng(length)
    coarse = rng.integers(0, 256, size=(length, 6, 8, 3), dtype=np.uint8)
    for i, frame in enumerate(coarse.repeat(10, 1).repeat(10, 2)):  # 60×80 frames, as JPEG files
        Image.fromarray(frame).save(tmp_path / f"img_{i + 1:05d}.jpg", quality=90)
    sampling = ClipSampling(num_frames=12, num_ref_frames=2, resolution=32, chain="seer")
    ours, size = read_clip(FrameFiles(glob_frames(tmp_path)), sampling)
    assert size == (60, 80) and ours.shape == (12, 32, 32, 3)
    np.testing.assert_array_equal(ours, _seers_loader(tmp_path, 32, 12))
    if length == 12:  # same frames, same order: aidbench's chain (uint8 resize, rounding) differs
        plain = read_clip(FrameFiles(glob_frames(tmp_path)), ClipSampling(12, 2, 32))[0]
        assert (plain != ours).mean() > 0.05


def test_quantisation_rounds_or_truncates_and_the_seer_chain_needs_uniform_sampling():
    from aidbench.data.clips import quantise

    x = np.array([0.0, 0.5, 254.7 / 255, 1.2, -0.1], dtype=np.float32)
    assert quantise(x).tolist() == [0, 128, 255, 255, 0]
    assert quantise(x, "truncate").tolist() == [0, 127, 254, 255, 0]
    assert (from_model(torch.full((1, 3, 1, 1), 0.999), "truncate") == 254).all()
    assert resolve(overrides=["data.chain=seer"]).data.chain == "seer"
    with pytest.raises(Exception, match="frame_sampling uniform"):
        resolve(overrides=["data.frame_sampling=stride", "data.chain=seer"])
