"""FVD and KVD on I3D logits, under named protocols (each reference implementation computes its own way).

- fvd@seer / kvd@seer (VideoGPT's code, which Seer and so AID compare with): short side bilinear → 224
  (long side rounded up), centre crop, [-1, 1]; covariance N−1; the predicted clip is scored with its
  reference frames included. KVD as Seer's code computes it: its covariance step centres both sets of
  logits in place before they reach the unbiased cubic-polynomial MMD², so kvd@seer is the MMD of the
  mean-removed sets; kvd@textbook is the MMD of the logits themselves.
- fvd@styleganv (`fvd2048_16f`): 2048 clips × 16 frames, squash resize to 224², population covariance;
  the PyTorch I3D port by default, or StyleGAN-V's TorchScript detector with `--weights i3d-torchscript=…`.
- fvd@videomae: content-debiased FVD (cd-fvd) on VideoMAE-v2 features (metrics/videomae.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aidbench.errors import UserError
from aidbench.metrics import frechet, kernel
from aidbench.metrics.precision import ieee_float32
from aidbench.weights import load_torchscript, sha256_file

SIZE = 224


@dataclass(frozen=True)
class VideoProtocol:
    name: str
    resize: Literal["short-side-crop", "squash"]
    ddof: int  # covariance normaliser N − ddof
    include_reference: bool
    num_frames: int | None = None  # frames scored from the start of each clip (None: all)
    expected_clips: int | None = None  # the protocol's sample count; fewer gives a warning
    detector: Literal["i3d", "i3d-torchscript", "videomae"] = "i3d"
    features: str = "I3D Kinetics-400 logits (400-d), averaged over time"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SEER = VideoProtocol("seer", "short-side-crop", ddof=1, include_reference=True)
STYLEGANV = VideoProtocol(
    "styleganv", "squash", ddof=0, include_reference=True, num_frames=16, expected_clips=2048
)
# Content-debiased FVD as cd-fvd computes it: its loader's 16 frames, squash resize, population covariance.
VIDEOMAE = VideoProtocol(
    "videomae",
    "squash",
    ddof=0,
    include_reference=True,
    num_frames=16,
    detector="videomae",
    features="VideoMAE-v2 ViT-g/14 (SSv2 fine-tuned) tokens, mean-pooled and normalised (1408-d)",
)
PROTOCOLS = {"seer": SEER, "styleganv": STYLEGANV, "videomae": VIDEOMAE}


def preprocess(videos: np.ndarray, protocol: VideoProtocol):
    """uint8 (B, T, H, W, 3) → float32 (B, 3, T, 224, 224) in [-1, 1], as the protocol's reference does."""
    import torch
    import torch.nn.functional as F

    videos = np.asarray(videos)
    if protocol.num_frames is not None:
        if videos.shape[1] < protocol.num_frames:
            raise UserError(
                f"{protocol.name} scores {protocol.num_frames} frames; the clips have {videos.shape[1]}: "
                "use fvd@seer, which scores clips of any length from 9 frames"
            )
        videos = videos[:, : protocol.num_frames]
    b, t, h, w, _ = videos.shape
    x = torch.from_numpy(np.ascontiguousarray(videos)).flatten(0, 1).permute(0, 3, 1, 2).float()
    if protocol.resize == "squash":
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        x = 2.0 * x / 255.0 - 1.0
    else:
        scale = SIZE / min(h, w)
        size = (SIZE, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), SIZE)
        x = F.interpolate(x / 255.0, size=size, mode="bilinear", align_corners=False)
        top, left = (x.shape[2] - SIZE) // 2, (x.shape[3] - SIZE) // 2
        x = (x[:, :, top : top + SIZE, left : left + SIZE] - 0.5) * 2.0
    return x.reshape(b, t, 3, SIZE, SIZE).permute(0, 2, 1, 3, 4).contiguous()


class I3DFeatures:
    """Batched I3D logits for uint8 clips; channels-last 3D convolutions (≈2× on CPUs, same logits to 1e-7)."""

    def __init__(
        self, weights: str | Path, protocol: VideoProtocol, device: str = "cpu", batch_size: int = 8
    ):
        import torch

        from aidbench.metrics import i3d

        self.protocol, self.device, self.batch_size = protocol, device, batch_size
        if protocol.detector == "i3d-torchscript":
            self.weights_sha256, self.model = load_torchscript("i3d-torchscript", weights, device)
        else:
            self.weights_sha256 = sha256_file(weights)
            self.model = i3d.load(weights, device).to(memory_format=torch.channels_last_3d)

    @classmethod
    def from_model(
        cls, model, protocol: VideoProtocol, device: str = "cpu", batch_size: int = 8
    ) -> I3DFeatures:
        """Wrap an already built InceptionI3d (tests use random weights)."""
        import torch

        self = cls.__new__(cls)
        self.protocol, self.device, self.batch_size = protocol, device, batch_size
        self.weights_sha256 = None
        self.model = model.eval().to(device).to(memory_format=torch.channels_last_3d)
        return self

    def __call__(self, videos: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """(N, 400) logits of uint8 (T, H, W, 3) clips: an array, or a list of clips whose sizes may differ."""
        import torch

        out = []
        with torch.inference_mode(), ieee_float32():
            for start in range(0, len(videos), self.batch_size):
                batch = videos[start : start + self.batch_size]
                sizes = {v.shape for v in batch}
                if self.protocol.detector == "i3d-torchscript":
                    if len(sizes) > 1:
                        raise UserError("StyleGAN-V's detector takes clips of one size; these differ.")
                    # StyleGAN-V's detector takes uint8 (B, 3, T, H, W) and rescales and resizes itself.
                    clip = np.stack(batch)
                    clip = clip[:, : self.protocol.num_frames] if self.protocol.num_frames else clip
                    x = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 4, 1, 2, 3).to(self.device)
                    logits = self.model(x, rescale=True, resize=True, return_features=True)
                else:  # clips of several sizes are each resized on their own, as Seer's loader does
                    parts = [batch] if len(sizes) == 1 else [v[None] for v in batch]
                    x = torch.cat([preprocess(np.stack(p), self.protocol) for p in parts]).to(self.device)
                    logits = self.model(x.contiguous(memory_format=torch.channels_last_3d))
                out.append(logits.double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 400))


def fvd(
    real: np.ndarray, fake: np.ndarray, protocol: VideoProtocol, names: tuple[list, list] | None = None
) -> float:
    """FVD between two (N, 400) feature sets under the protocol's covariance normaliser."""
    real_names, fake_names = names if names is not None else (None, None)
    a = frechet.fit(real, protocol.ddof, real_names, what="real videos")
    b = frechet.fit(fake, protocol.ddof, fake_names, what="generated videos")
    return frechet.frechet_distance(a, b)


def kvd(real: np.ndarray, fake: np.ndarray, centred: bool = True) -> float:
    """KVD over all clips: the unbiased cubic-polynomial MMD² of the two sets, each first centred on its own
    mean as Seer's evaluation does (`centred`), or as they are (the textbook definition)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if centred:
        real, fake = real - real.mean(axis=0), fake - fake.mean(axis=0)
    return kernel.mmd2(real, fake)
