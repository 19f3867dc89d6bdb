"""Detectors run in IEEE float32 on every device.

PyTorch lets cuDNN convolutions use TF32 on Ampere and later GPUs by default (a 10-bit mantissa), so the same
I3D or Inception scores a clip differently on a GPU and on a CPU; `results/benchmarks/metric_precision_*.json`
measures by how much. Feature extraction turns TF32 off for its own duration and restores the caller's
setting afterwards, so a number does not depend on the device it was computed on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# What protocol cards say about the arithmetic.
ARITHMETIC = "float32 (TF32 off on CUDA)"


@contextmanager
def float32_precision(mode: str) -> Iterator[None]:
    """cuDNN convolutions and matmuls in `mode` ("ieee" or "tf32") for the duration; the caller's setting
    is restored afterwards."""
    import torch

    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    if hasattr(conv, "fp32_precision"):  # torch ≥ 2.9; mixing this with allow_tf32 is an error there
        saved = conv.fp32_precision, matmul.fp32_precision
        conv.fp32_precision = matmul.fp32_precision = mode
        try:
            yield
        finally:
            conv.fp32_precision, matmul.fp32_precision = saved
        return
    saved = torch.backends.cudnn.allow_tf32, matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = mode == "tf32"
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, matmul.allow_tf32 = saved


def ieee_float32():
    """What every metric's detector runs under."""
    return float32_precision("ieee")
