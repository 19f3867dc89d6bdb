"""The GPU's arithmetic against the CPU's for the metric detectors: I3D logits (FVD) and Inception-v3 pool
features (FID) on the CPU, on CUDA in IEEE float32 (what aidbench's metrics use) and on CUDA with TF32
convolutions (PyTorch's default for cuDNN), with the distances each gives and the cost of IEEE in speed.

Random weights (I3D's BatchNorm calibrated on a batch so that features depend on the input): the question
is the arithmetic, not the detector's training. Runs only where torch sees a GPU; also runnable as
`python -m aidbench.bench.precision OUT.json` where aidbench's CLI dependencies are not installed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from aidbench import environment
from aidbench.errors import UserError
from aidbench.metrics import fvd
from aidbench.metrics.frechet import fit, frechet_distance
from aidbench.metrics.precision import float32_precision


def _clips(n: int, seed: int, shift: int = 0, t: int = 16, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(n, t, size // 16, size // 16, 3))
    return np.clip(coarse.repeat(16, 2).repeat(16, 3) + shift, 0, 255).astype(np.uint8)


def _inception(seed: int):
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
    model.fc = torch.nn.Identity()
    for module in model.modules():  # statistics from a batch, as for I3D: random init alone saturates
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 299, 299) * 2 - 1)
    return model.eval()


def _features(model, inputs, device: str, tf32: bool, batch: int = 8) -> tuple[np.ndarray, float]:
    """Features of float inputs in batches, with TF32 on or off for cuDNN and matmuls; and the seconds taken."""
    import torch

    model = model.to(device)
    out = []
    with torch.inference_mode(), float32_precision("tf32" if tf32 else "ieee"):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(inputs), batch):
            out.append(model(inputs[i : i + batch].to(device)).double().cpu())
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return torch.cat(out).numpy(), seconds


def _compare(reference: np.ndarray, other: np.ndarray) -> float:
    return float(np.abs(other - reference).max() / np.abs(reference).max())


def run(clips: int = 32, rounds: int = 3, seed: int = 0) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from aidbench.metrics.i3d import calibrated_random

    if not torch.cuda.is_available():
        raise UserError("bench precision compares a GPU's arithmetic with the CPU's; torch sees no GPU.")
    real, fake = _clips(clips, seed + 1), _clips(clips, seed + 2, shift=40)
    video_inputs = torch.cat([fvd.preprocess(real, fvd.SEER), fvd.preprocess(fake, fvd.SEER)])
    frames = video_inputs[:, :, ::4].transpose(1, 2).flatten(0, 1)  # 4 frames per clip, in [-1, 1]
    frame_inputs = F.interpolate(frames, size=(299, 299), mode="bilinear", align_corners=False)
    detectors = {
        "i3d": (calibrated_random(seed, batch=4, frames=16), video_inputs, clips, "FVD (N−1)"),
        "inception-v3": (_inception(seed), frame_inputs, clips * 4, "FID (N−1) over frames"),
    }
    results: dict[str, Any] = {}
    for name, (model, inputs, n, distance) in detectors.items():
        features, speed = {}, {}
        for device, tf32 in (("cpu", False), ("cuda", False), ("cuda", True)):
            mode = "cpu" if device == "cpu" else ("cuda-tf32" if tf32 else "cuda-ieee")
            runs = [_features(model, inputs, device, tf32) for _ in range(1 if device == "cpu" else rounds)]
            features[mode] = runs[0][0]
            speed[mode] = round(len(inputs) / float(np.median([s for _, s in runs])), 2)
        distances = {mode: frechet_distance(fit(f[:n]), fit(f[n:])) for mode, f in features.items()}
        results[name] = {
            "distance": distance,
            "inputs": list(inputs.shape),
            "value": distances,
            "relative_difference_from_cpu": {
                mode: abs(v - distances["cpu"]) / abs(distances["cpu"]) for mode, v in distances.items()
            },
            "max_feature_difference_from_cpu_relative_to_largest": {
                mode: _compare(features["cpu"], f) for mode, f in features.items()
            },
            "inputs_per_s": speed,
        }
    return {
        "benchmark": "metric-precision",
        "what": f"{clips} real and {clips} generated clips of 16×128² (frames 299² for Inception), random weights",
        "detectors": results,
        "rounds": rounds,
        "device": environment.device("cuda"),
        "packages": {
            k: v for k, v in environment.package_versions().items() if k in ("torch", "torchvision")
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


if __name__ == "__main__":
    import json
    from pathlib import Path

    record = run()
    record["command"] = ["python", "-m", "aidbench.bench.precision", *sys.argv[1:]]
    text = json.dumps(record, indent=2) + "\n"
    print(text)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
