"""I3D feature throughput for 16×224² clips: ours (channels-last) against cd-fvd's I3D, identical logits."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from aidbench import environment
from aidbench.metrics import fvd


def run(clips: int = 8, rounds: int = 3, batch_size: int = 4, seed: int = 0) -> dict[str, Any]:
    import torch
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as Reference

    from aidbench.metrics import i3d

    torch.manual_seed(seed)
    reference = Reference(400, in_channels=3).eval()
    ours = i3d.InceptionI3d()
    ours.load_state_dict(reference.state_dict())
    features = fvd.I3DFeatures.from_model(ours, fvd.SEER, batch_size=batch_size)
    videos = np.random.default_rng(seed).integers(0, 256, size=(clips, 16, 224, 224, 3), dtype=np.uint8)
    inputs = fvd.preprocess(videos, fvd.SEER)

    def run_reference() -> np.ndarray:
        with torch.inference_mode():
            return (
                torch.cat([reference(inputs[i : i + batch_size]) for i in range(0, clips, batch_size)])
                .double()
                .numpy()
            )

    run_reference(), features(videos[:batch_size])  # warm-up
    ours_rates, reference_rates = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        ours_logits = features(videos)  # includes our preprocessing
        ours_rates.append(clips / (time.perf_counter() - start))
        start = time.perf_counter()
        reference_logits = run_reference()  # preprocessing excluded: the reference gets it for free
        reference_rates.append(clips / (time.perf_counter() - start))
    ours_rate, reference_rate = float(np.median(ours_rates)), float(np.median(reference_rates))
    return {
        "benchmark": "i3d-features",
        "what": f"I3D logits for {clips} clips of 16×224², batch {batch_size}, random weights",
        "ours_clips_per_s": round(ours_rate, 2),
        "reference_clips_per_s": round(reference_rate, 2),
        "speedup": round(ours_rate / reference_rate, 2),
        "max_abs_logit_difference": float(np.abs(ours_logits - reference_logits).max()),
        "reference": "cd-fvd 0.1.1 third_party/i3d/pytorch_i3d.InceptionI3d, same weights and inputs",
        "rounds": rounds,
        "torch_threads": torch.get_num_threads(),
        "device": environment.device("cpu"),
        "packages": {k: v for k, v in environment.package_versions().items() if k in ("torch", "cd-fvd")},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
