"""LPIPS (Zhang et al. 2018) between frames: the `lpips` package's network, AlexNet variant v0.1.

The package ships its calibrated linear layers (lpips/weights/v0.1/alex.pth); the AlexNet backbone it would
download from torchvision is read instead from torchvision's published file (`alexnet-owt-7be5be79.pth`),
a local path like every other weight, and loaded strictly into the package's network.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from aidbench.errors import UserError
from aidbench.weights import sha256_file

# Frames a batch: LPIPS's AlexNet at 224² holds about 2 MB of activations a frame.
BATCH = 64
# AlexNet's strides leave nothing of a frame under 32 px by its third block; smaller frames (synthtvp's 16 px)
# are upsampled to this short side first, both of a pair alike.
MIN_SIDE = 64
RESIZE = f"frames under {MIN_SIDE} px a side upsampled bilinearly to a {MIN_SIDE} px short side; [-1, 1]"


class LPIPS:
    """LPIPS distance of frame pairs; `weights_sha256` is the backbone file's."""

    def __init__(self, backbone: str | Path | None, device: str = "cpu", model=None):
        import lpips
        import torch

        self.device = device
        if model is None:
            with warnings.catch_warnings():  # the package builds its random backbone with `pretrained=False`
                warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
                model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
            load_backbone(model, Path(backbone))
            self.weights_sha256 = sha256_file(backbone)
        else:
            self.weights_sha256 = None
        self.model = model.eval().to(device)
        self._torch = torch

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 twice → (T,) LPIPS of each frame pair (0 for identical frames)."""
        torch = self._torch

        def tensor(frames: np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().to(self.device)
            short = min(x.shape[-2:])
            if short < MIN_SIDE:
                size = [round(side * MIN_SIDE / short) for side in x.shape[-2:]]
                x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
            return x / 127.5 - 1.0  # the package's input range

        values = []
        with torch.inference_mode():
            for i in range(0, len(a), BATCH):
                values.append(self.model(tensor(a[i : i + BATCH]), tensor(b[i : i + BATCH])).flatten())
        return torch.cat(values).double().cpu().numpy()


def load_backbone(model, path: Path) -> None:
    """torchvision's AlexNet state dict (`features.N.weight` …) into the package's slices (`sliceK.N.weight`)."""
    import torch

    if not path.is_file():
        raise UserError(f"LPIPS's AlexNet backbone {path} does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same one sentence
        raise UserError(f"LPIPS's AlexNet backbone {path} is not a torch state dict ({err}).") from None
    slices = model.net
    wanted = {name: f"features.{name.split('.', 1)[1]}" for name, _ in slices.named_parameters()}
    missing = [key for key in wanted.values() if key not in state]
    if missing:
        raise UserError(
            f"{path} is not torchvision's AlexNet: it lacks {', '.join(missing[:3])} (keys like features.0.weight)."
        )
    with torch.no_grad():
        for name, param in slices.named_parameters():
            value = state[wanted[name]]
            if value.shape != param.shape:
                raise UserError(
                    f"{path}: {wanted[name]} is {tuple(value.shape)}, AlexNet's is {tuple(param.shape)}."
                )
            param.copy_(value)
