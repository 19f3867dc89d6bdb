"""CLIPSIM: mean over frames of 100 × cos(CLIP image embedding, CLIP text embedding), per video.

OpenAI CLIP ViT-B/32 (QuickGELU, as OpenAI trained it) in open_clip, from a local file in either form
OpenAI's weights come in: the TorchScript archive OpenAI publishes (`ViT-B-32.pt`, read only when its
sha256 is the published one, since an archive carries code) or its state dict (`torch.load` with
`weights_only=True`). AID's Table 6 reports this ×100 (ground truth 27.80). torchmetrics' CLIPScore
(1.9) clamps the mean, max(mean of 100 · cos, 0), not each pair: the same number whenever the mean
cosine is positive, as it is for real image-text pairs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aidbench.errors import UserError
from aidbench.metrics.precision import ieee_float32
from aidbench.weights import load_torchscript, sha256_file

ARCHITECTURE = "ViT-B-32-quickgelu"


def openai_state_dict(path: str | Path) -> dict:
    """The weights of an OpenAI CLIP file: its TorchScript archive (the published file, by its sha256, or
    one pinned) or a plain state dict; anything else is one clear error."""
    import pickle  # only for its error type: nothing is unpickled but by torch.load(weights_only=True)
    import warnings
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"CLIP weights {path} do not exist; run `aidbench weights fetch clip`.")
    try:
        with warnings.catch_warnings():  # torch warns before it refuses an archive, which is handled
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as err:
        if "TorchScript" not in str(err):
            raise UserError(f"{path} is not a CLIP weights file torch can read ({err}).") from None
        state = load_torchscript("clip", path)[1].state_dict()
    if isinstance(state, dict) and "state_dict" in state:  # a training checkpoint around the weights
        state = {k.removeprefix("module."): v for k, v in state["state_dict"].items()}
    if not isinstance(state, dict) or "visual.proj" not in state:
        raise UserError(f"{path} holds no OpenAI CLIP ViT weights (no 'visual.proj').")
    return dict(state)


class CLIPSimilarity:
    def __init__(self, weights: str | Path | None, device: str = "cpu", model=None, preprocess=None):
        import open_clip
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
        from open_clip.model import build_model_from_openai_state_dict

        self.weights_sha256 = sha256_file(weights) if weights else None
        if model is None:
            state = openai_state_dict(weights)
            model = build_model_from_openai_state_dict(state, cast_dtype=None).float().to(device)
            preprocess = open_clip.image_transform(
                model.visual.image_size, is_train=False, mean=OPENAI_DATASET_MEAN, std=OPENAI_DATASET_STD
            )
        self.model, self.preprocess, self.device = model.eval(), preprocess, device
        self.tokenizer = open_clip.get_tokenizer(ARCHITECTURE)

    def video_score(self, frames: np.ndarray, text: str) -> float:
        """100 × mean over frames of the cosine between each frame and the text."""
        import torch
        from PIL import Image

        with torch.inference_mode(), ieee_float32():
            images = torch.stack([self.preprocess(Image.fromarray(f)) for f in frames]).to(self.device)
            image = self.model.encode_image(images)
            words = self.model.encode_text(self.tokenizer([text]).to(self.device))
            image = image / image.norm(dim=-1, keepdim=True)
            words = words / words.norm(dim=-1, keepdim=True)
            return float(100.0 * (image @ words.T).mean())
