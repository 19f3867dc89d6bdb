"""Per-horizon curves: PSNR, SSIM and LPIPS of each predicted frame against the true one, as the prediction runs on.

A video predictor is judged by how it falls apart with the horizon (OpenSTL and vp-suite report metrics
per frame); one number pooled over every frame hides it. Horizon h is the h-th predicted frame (frame
K + h − 1 of a clip with K reference frames). Each horizon's value is the mean over clips with the mean's
percentile bootstrap interval; the clip's own score is its mean over the predicted frames.
"""

from __future__ import annotations

import numpy as np

from aidbench.metrics import intervals

# An exact copy has no error: it counts this many dB, as synthtvp's PSNR does.
PSNR_CAP = 100.0


def psnr(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """PSNR (dB, uint8 range) of each frame: (T, H, W, 3) twice → (T,)."""
    diff = fake.astype(np.float64) - real.astype(np.float64)
    mse = (diff**2).reshape(len(diff), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        values = 10 * np.log10(255.0**2 / mse)
    return np.minimum(np.where(mse == 0, PSNR_CAP, values), PSNR_CAP)


def ssim(reals: list[np.ndarray], fakes: list[np.ndarray]) -> np.ndarray:
    """torchmetrics' SSIM (Gaussian 11×11, σ 1.5) of each frame of each clip: → (N, T)."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    def stack(videos):
        return torch.from_numpy(np.concatenate(videos)).permute(0, 3, 1, 2).double()

    values = structural_similarity_index_measure(
        stack(fakes), stack(reals), data_range=255.0, reduction="none"
    )
    return values.numpy().reshape(len(reals), -1)


def per_frame(
    kind: str, reals: list[np.ndarray], fakes: list[np.ndarray], skip: int, lpips=None
) -> np.ndarray:
    """(clips, predicted frames) scores of `kind` (psnr, ssim, or lpips with its scorer), the first `skip`
    frames left out."""
    reals, fakes = [r[skip:] for r in reals], [f[skip:] for f in fakes]
    if kind == "ssim":
        return ssim(reals, fakes)
    if kind == "lpips":
        return np.stack([lpips.distance(r, f) for r, f in zip(reals, fakes, strict=True)])
    return np.stack([psnr(r, f) for r, f in zip(reals, fakes, strict=True)])


def curve(scores: np.ndarray, resamples: int, confidence: float, seed: int) -> list[dict[str, float]]:
    """Each horizon's mean over clips with its interval: [{horizon, value, ci_low, ci_high}, …]."""
    points = []
    for h in range(scores.shape[1]):
        low, high = intervals.mean_interval(scores[:, h], resamples, confidence, seed)
        points.append({"horizon": h + 1, "value": float(scores[:, h].mean()), "ci_low": low, "ci_high": high})
    return points
