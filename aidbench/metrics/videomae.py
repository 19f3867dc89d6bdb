"""Content-debiased FVD's detector (cd-fvd, Ge et al., CVPR 2024): VideoMAE-v2 ViT-g/14, pre-trained
self-supervised and fine-tuned on SSv2, whose mean-pooled token features (1408-d) weigh motion more than
I3D's Kinetics logits do.

The network is cd-fvd's own class (`cdfvd.third_party.VideoMAEv2`), its sizes read from the checkpoint
(`vit_g_hybrid_pt_1200e_ssv2_ft.pth`, loaded with `weights_only=True`, strictly); inputs as cd-fvd feeds
them: the first 16 frames, [0, 1], each frame bilinearly resized to 224² without keeping the aspect, no
mean/std normalisation.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from aidbench.errors import UserError
from aidbench.metrics.precision import ieee_float32
from aidbench.weights import sha256_file

SIZE, FRAMES, PATCH, TUBELET, HEADS = 224, 16, 14, 2, 16


def build(state: dict):
    """cd-fvd's VisionTransformer at the sizes the weights carry (ViT-g/14: width 1408, 40 blocks)."""
    import torch
    from cdfvd.third_party.VideoMAEv2.videomaev2_finetune import VisionTransformer

    width = state["patch_embed.proj.weight"].shape[0]
    depth = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
    hidden = state["blocks.0.mlp.fc1.weight"].shape[0]
    return VisionTransformer(
        img_size=SIZE,
        patch_size=PATCH,
        embed_dim=width,
        depth=depth,
        num_heads=HEADS,
        mlp_ratio=hidden / width,
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_classes=state["head.weight"].shape[0],
        all_frames=FRAMES,
        tubelet_size=TUBELET,
        use_mean_pooling=True,
    )


def load(path: str | Path, device: str = "cpu"):
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unreadable file is the same user error
        raise UserError(f"cannot read VideoMAE-v2 weights {path}: {err}") from None
    for key in ("model", "module"):  # the release nests the weights under one of these
        if isinstance(state, dict) and key in state:
            state = state[key]
            break
    if not isinstance(state, dict) or "patch_embed.proj.weight" not in state or "head.weight" not in state:
        raise UserError(
            f"{path} is not a VideoMAE-v2 fine-tuned checkpoint (no patch_embed or head weights)."
        )
    model = build(state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise UserError(f"{path} does not fit VideoMAE-v2 ViT-g/14 ({first}).") from None
    return model.eval().to(device)


def preprocess(videos: np.ndarray):
    """uint8 (B, T, H, W, 3) → float32 (B, 3, 16, 224, 224) in [0, 1], as cd-fvd's preprocess_videomae."""
    import torch
    import torch.nn.functional as F

    videos = np.asarray(videos)
    if videos.shape[1] < FRAMES:
        raise UserError(f"fvd@videomae scores {FRAMES} frames; the clips have {videos.shape[1]}.")
    x = torch.from_numpy(np.ascontiguousarray(videos[:, :FRAMES])).permute(0, 4, 1, 2, 3).float() / 255
    b, c, t, h, w = x.shape
    x = F.interpolate(x.reshape(b * c, t, h, w), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return x.reshape(b, c, t, SIZE, SIZE)


class VideoMAEFeatures:
    """Batched 1408-d features of uint8 clips (clips of several sizes are resized one by one)."""

    def __init__(self, weights: str | Path, device: str = "cpu", batch_size: int = 4):
        self.weights_sha256 = sha256_file(weights)
        self.model, self.device, self.batch_size = load(weights, device), device, batch_size

    @classmethod
    def from_model(cls, model, device: str = "cpu", batch_size: int = 4) -> VideoMAEFeatures:
        self = cls.__new__(cls)
        self.weights_sha256, self.model = None, model.eval().to(device)
        self.device, self.batch_size = device, batch_size
        return self

    def __call__(self, videos) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode(), ieee_float32():
            for start in range(0, len(videos), self.batch_size):
                batch = videos[start : start + self.batch_size]
                parts = [batch] if len({v.shape for v in batch}) == 1 else [v[None] for v in batch]
                x = torch.cat([preprocess(np.stack(p)) for p in parts]).to(self.device)
                out.append(self.model.forward_features(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 1408))
