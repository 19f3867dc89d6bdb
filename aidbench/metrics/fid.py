"""Per-frame FID and KID through clean-fid: its "clean" resize (PIL bicubic to 299², no quantisation)
and the StyleGAN2 Inception TorchScript, loaded from a local file (never downloaded here)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from aidbench.errors import UserError
from aidbench.metrics.precision import ieee_float32
from aidbench.weights import load_torchscript


class InceptionFeatures:
    """clean-fid's InceptionV3W forward for resized frames: (x − 128) / 128 through the TorchScript layers."""

    def __init__(self, weights: str | Path, device: str = "cpu"):
        self.weights_sha256, base = load_torchscript("inception", weights, device)
        if not hasattr(base, "layers"):
            raise UserError(f"{weights} is a TorchScript archive without clean-fid's Inception `layers`.")
        self.layers, self.device = base.layers, device

    def __call__(self, batch):
        return self.layers.forward((batch.to(self.device) - 128) / 128).reshape(batch.shape[0], -1)


def frame_features(frames: Iterable[np.ndarray], model, batch_size: int = 64) -> np.ndarray:
    """Features of uint8 (H, W, 3) frames after clean-fid's clean resize; `model` maps (B, 3, 299, 299)
    float in [0, 255] to (B, D), as clean-fid's `custom_feat_extractor` does."""
    import torch
    from cleanfid.resize import build_resizer

    resize = build_resizer("clean")
    out, batch = [], []

    def flush():
        with torch.inference_mode(), ieee_float32():
            x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float()
            out.append(model(x).double().cpu().numpy())
        batch.clear()

    for frame in frames:
        batch.append(resize(np.ascontiguousarray(frame)))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return np.concatenate(out) if out else np.zeros((0, 2048))
