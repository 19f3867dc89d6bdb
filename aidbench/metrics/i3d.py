"""Inception-I3D (Carreira & Zisserman) for FVD: 400 Kinetics logits, averaged over time.

Written for aidbench with the module names of the PyTorch port that VideoGPT, Seer, TATS and cd-fvd use,
so their released `i3d_pretrained_400.pt` loads unchanged (strict). Convolutions and max-pools pad
"same" the TensorFlow way (split total padding, the extra pixel after); stride-1 layers with odd kernels
pad inside the convolution, which is the same zero padding without a copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from aidbench.errors import UserError

NUM_CLASSES = 400
MIN_FRAMES = 9  # fewer frames vanish in the temporal strides before the final pool


def _triple(value: int | Sequence[int]) -> tuple[int, int, int]:
    return (value,) * 3 if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def same_padding(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int]) -> tuple[int, ...]:
    """F.pad arguments (last dim first) for TF 'SAME' padding of a (T, H, W) input."""
    pads: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride), strict=True):
        total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


class Unit3D(nn.Module):
    """Conv3d → BatchNorm3d → ReLU with same padding; keys `conv3d.*` and `bn.*`."""

    def __init__(self, cin: int, cout: int, kernel=1, stride=1, batch_norm=True, relu=True, bias=False):
        super().__init__()
        self.kernel, self.stride, self.relu = _triple(kernel), _triple(stride), relu
        # Stride 1 with odd kernels pads symmetrically: let the convolution do it.
        self.inner = self.stride == (1, 1, 1) and all(k % 2 for k in self.kernel)
        padding = tuple(k // 2 for k in self.kernel) if self.inner else 0
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, padding=padding, bias=bias)
        if batch_norm:
            self.bn = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.001)
        else:
            self.bn = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.inner:
            x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPoolSame(nn.Module):
    """Max-pool with TF same padding. Pads with zeros, as the reference does: inputs follow a ReLU."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = _triple(kernel), _triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class Inception(nn.Module):
    """Four branches: 1×1; 1×1→3×3; 1×1→3×3; 3×3 max-pool→1×1. Widths (b0, b1a, b1b, b2a, b2b, b3b)."""

    def __init__(self, cin: int, widths: Sequence[int]):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.b0 = Unit3D(cin, b0)
        self.b1a = Unit3D(cin, b1a)
        self.b1b = Unit3D(b1a, b1b, kernel=3)
        self.b2a = Unit3D(cin, b2a)
        self.b2b = Unit3D(b2a, b2b, kernel=3)
        self.b3a = MaxPoolSame(3, 1)
        self.b3b = Unit3D(cin, b3b)
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


# (name, kind, arguments), in order; the names are the state-dict prefixes of the released weights.
LAYERS = (
    ("Conv3d_1a_7x7", "unit", (3, 64, 7, 2)),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "unit", (64, 64, 1, 1)),
    ("Conv3d_2c_3x3", "unit", (64, 192, 3, 1)),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "inception", (192, (64, 96, 128, 16, 32, 32))),
    ("Mixed_3c", "inception", (256, (128, 128, 192, 32, 96, 64))),
    ("MaxPool3d_4a_3x3", "pool", (3, 2)),
    ("Mixed_4b", "inception", (480, (192, 96, 208, 16, 48, 64))),
    ("Mixed_4c", "inception", (512, (160, 112, 224, 24, 64, 64))),
    ("Mixed_4d", "inception", (512, (128, 128, 256, 24, 64, 64))),
    ("Mixed_4e", "inception", (512, (112, 144, 288, 32, 64, 64))),
    ("Mixed_4f", "inception", (528, (256, 160, 320, 32, 128, 128))),
    ("MaxPool3d_5a_2x2", "pool", (2, 2)),
    ("Mixed_5b", "inception", (832, (256, 160, 320, 32, 128, 128))),
    ("Mixed_5c", "inception", (832, (384, 192, 384, 48, 128, 128))),
)


class InceptionI3d(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.order: list[str] = []
        for name, kind, args in LAYERS:
            if kind == "unit":
                cin, cout, kernel, stride = args
                module: nn.Module = Unit3D(cin, cout, kernel, stride)
            elif kind == "pool":
                module = MaxPoolSame(*args)
            else:
                module = Inception(*args)
            self.add_module(name, module)
            self.order.append(name)
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1], T ≥ 9, 224² → (B, num_classes) logits averaged over time."""
        if x.shape[2] < MIN_FRAMES:
            raise UserError(f"I3D needs clips of at least {MIN_FRAMES} frames; these have {x.shape[2]}.")
        for name in self.order:
            x = getattr(self, name)(x)
        x = F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)
        return self.logits(x).flatten(3).mean(dim=(2, 3))


def load(path: str | Path, device: str | torch.device = "cpu") -> InceptionI3d:
    """The released weights, loaded strictly with weights_only=True; a clear error for another file."""
    model = InceptionI3d()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unreadable file is the same user error
        raise UserError(f"cannot read I3D weights {path}: {err}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as err:
        first = str(err).splitlines()[0]
        raise UserError(f"{path} is not the InceptionI3d(400) checkpoint FVD uses ({first}).") from None
    return model.eval().to(device)


def calibrated_random(seed: int = 0, batch: int = 2, frames: int = 10) -> InceptionI3d:
    """Random weights whose BatchNorm statistics come from one batch of noise clips, so that features
    depend on the input (with default statistics every clip maps to nearly the same logits and no FVD
    comparison can fail): the stand-in for the released weights in tests, golden files and benchmarks."""
    torch.manual_seed(seed)
    model = InceptionI3d()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.momentum = None  # a cumulative average over the calibration batch
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(torch.rand(batch, 3, frames, 224, 224) * 2 - 1)
    return model.eval()
