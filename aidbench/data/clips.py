"""Clip sampling as config: which frames of a video make a clip, at what size, in what value range.

- uniform: Seer's protocol, the whole video resampled to N frames by linear interpolation over time
  (torch's trilinear with align_corners=False, as Seer's `cast_num_frames`); videos shorter than N frames
  are "too short" (Seer zero-pads them; we skip and count them instead).
- stride: every k-th frame from an offset; consecutive: stride 1.
Frames are resized short side → resolution (bilinear, antialiased, torchvision's size rule) and
centre-cropped. `to_model` / `from_model` are the one place that defines the value range models see, and
`quantise` the one place float frames become uint8.

With `chain="seer"` a clip is read as Seer's loader reads it instead: every frame PIL-resized and cropped,
then [0, 1] float32 → [-1, 1], resampled over time with torch's trilinear interpolation (or zero-padded
when the video is short), back to [0, 1] and truncated to uint8 as its evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from aidbench.config import DataConfig


class TooShort(Exception):
    """The video has fewer frames than the clip needs."""


@dataclass(frozen=True)
class ClipSampling:
    num_frames: int
    num_ref_frames: int
    resolution: int
    mode: Literal["uniform", "stride", "consecutive"] = "uniform"
    stride: int = 1
    offset: int = 0
    chain: Literal["aidbench", "seer"] = "aidbench"

    @classmethod
    def from_config(cls, data: DataConfig) -> ClipSampling:
        return cls(
            num_frames=data.num_frames,
            num_ref_frames=data.num_ref_frames,
            resolution=data.resolution,
            mode=data.frame_sampling,
            stride=data.frame_stride,
            offset=data.frame_offset,
            chain=data.chain,
        )

    def required_frames(self) -> int:
        if self.chain == "seer":  # Seer zero-pads a short video
            return 1
        if self.mode == "uniform":
            return self.num_frames
        step = self.stride if self.mode == "stride" else 1
        return self.offset + (self.num_frames - 1) * step + 1

    def plan(self, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, weight): clip frame t = (1 - weight[t]) * video[lower[t]] + weight[t] * video[upper[t]]."""
        if length < self.required_frames():
            raise TooShort(f"{length} frames, the clip needs {self.required_frames()}")
        t = np.arange(self.num_frames)
        if self.mode != "uniform":
            step = self.stride if self.mode == "stride" else 1
            index = self.offset + t * step
            return index, index, np.zeros(self.num_frames)
        scale = length / self.num_frames
        source = np.maximum((t + 0.5) * scale - 0.5, 0.0)
        lower = np.floor(source).astype(int)
        upper = np.minimum(lower + 1, length - 1)
        return lower, upper, source - lower


def read_clip(video, sampling: ClipSampling) -> tuple[np.ndarray, tuple[int, int]]:
    """The clip from a FrameFiles/VideoFile/array source: (T, R, R, 3) uint8, and the source (H, W).

    Seer's order: each decoded frame is resized and cropped, then frames are blended over time. Only the
    frames the plan uses are decoded to RGB; blending runs in float32 and rounds once.
    """
    if sampling.chain == "seer":
        return _seer_clip(video, sampling)
    lower, upper, weight = sampling.plan(len(video))
    blended = weight > 0
    needed = np.unique(np.concatenate([lower, upper[blended]]))
    raw = video[needed] if isinstance(video, np.ndarray) else video.read(needed.tolist())
    frames = resize_center_crop(raw, sampling.resolution)
    low = frames[np.searchsorted(needed, lower)]
    source_size = (int(raw.shape[1]), int(raw.shape[2]))
    if not blended.any():
        return low, source_size
    import torch

    high = frames[np.searchsorted(needed, np.where(blended, upper, lower))]
    w = torch.from_numpy(weight.astype(np.float32)).view(-1, 1, 1, 1)
    mixed = torch.from_numpy(low).float().mul_(1 - w).add_(torch.from_numpy(high).float().mul_(w))
    return mixed.round_().clamp_(0, 255).to(torch.uint8).numpy(), source_size


def _seer_clip(video, sampling: ClipSampling) -> tuple[np.ndarray, tuple[int, int]]:
    """Seer's `Dataset.__getitem__` then its evaluation's quantisation: T.Resize + T.CenterCrop on PIL
    images, ToTensor, 2x − 1, `cast_num_frames`, (x + 1) / 2, (x * 255).astype(uint8)."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    raw = video if isinstance(video, np.ndarray) else video.read(range(len(video)))
    height, width = raw.shape[1:3]
    new_h, new_w = resized_size(height, width, sampling.resolution)
    top = int(round((new_h - sampling.resolution) / 2.0))
    left = int(round((new_w - sampling.resolution) / 2.0))
    size = sampling.resolution
    frames = np.stack(
        [
            np.asarray(Image.fromarray(f).resize((new_w, new_h), Image.BILINEAR))[
                top : top + size, left : left + size
            ]
            for f in raw
        ]
    )
    x = torch.from_numpy(frames).permute(3, 0, 1, 2).float().div(255) * 2.0 - 1.0  # (C, T, H, W)
    length, wanted = x.shape[1], sampling.num_frames
    if length > wanted:
        x = F.interpolate(x[None], size=(wanted, size, size), mode="trilinear")[0]
    elif length < wanted:
        x = F.pad(x, (0, 0, 0, 0, 0, wanted - length))
    return quantise(((x + 1.0) / 2.0).permute(1, 2, 3, 0).numpy(), "truncate"), (int(height), int(width))


def quantisation(data: DataConfig) -> Literal["round", "truncate"]:
    """How a system's float predictions become uint8 under the configured data chain."""
    return "truncate" if data.chain == "seer" else "round"


def quantise(frames: np.ndarray, mode: Literal["round", "truncate"] = "round") -> np.ndarray:
    """float frames in [0, 1] → uint8: rounded (aidbench), or truncated as Seer's
    `(x * 255).astype('uint8')` does (in the frames' own float precision, clipped first)."""
    frames = np.asarray(frames)
    if mode == "truncate":
        return np.clip(frames * 255, 0, 255).astype(np.uint8)
    return np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)


def resized_size(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision's Resize(size) rule: the short side becomes `size`, the long side is truncated."""
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def resize_center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Short side → size (bilinear, antialiased), centre crop size × size; uint8 in, uint8 out.

    Resizes uint8 frames in channels-last layout, torch's vectorised path (~20× faster than float on the
    CPU, within 1 level of the float result).
    """
    height, width = frames.shape[1:3]
    if height == width == size:
        return frames
    import torch
    import torch.nn.functional as F

    new_h, new_w = resized_size(height, width, size)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # NCHW view, channels-last memory
    if (new_h, new_w) != (height, width):
        # Antialiasing only changes a downscale; upscaling (SSv2's 240p → 256) takes the faster kernel.
        shrink = new_h < height or new_w < width
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=shrink, align_corners=False)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return x[:, :, top : top + size, left : left + size].permute(0, 2, 3, 1).contiguous().numpy()


def to_model(frames):
    """uint8 (..., T, H, W, 3) → float32 tensor (..., T, 3, H, W) in [-1, 1]: what every model receives."""
    import torch

    x = torch.as_tensor(np.asarray(frames)).float()
    return x.div_(127.5).sub_(1.0).movedim(-1, -3).contiguous()


def from_model(x, mode: Literal["round", "truncate"] = "round") -> np.ndarray:
    """float (..., T, 3, H, W) in [-1, 1] → uint8 (..., T, H, W, 3), clipped and quantised by `mode`."""
    if mode == "truncate":
        return quantise(((x.detach().float().cpu() + 1.0) / 2.0).movedim(-3, -1).numpy(), mode)
    import torch

    y = ((x.detach().float().cpu() + 1.0) * 127.5).round_().clamp_(0, 255)
    return y.movedim(-3, -1).to(torch.uint8).numpy()
