"""CLIPSIM: mean over frames of 100 × cos(CLIP image embedding, CLIP text embedding), per video.

OpenAI CLIP ViT-B/32 through open_clip from a local weights file. open_clip cannot infer QuickGELU from a
file path, so the architecture is named `ViT-B-32-quickgelu` explicitly. AID's Table 6 reports this ×100
(ground truth 27.80). torchmetrics' CLIPScore is max(100 · cos, 0) per pair: the same number whenever the
cosine is positive, as it is for real image-text pairs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ARCHITECTURE = "ViT-B-32-quickgelu"


class CLIPSimilarity:
    def __init__(self, weights: str | Path | None, device: str = "cpu", model=None, preprocess=None):
        import open_clip

        from aidbench.weights import sha256_file

        if model is None:
            model, _, preprocess = open_clip.create_model_and_transforms(
                ARCHITECTURE, pretrained=str(weights), device=device
            )
        self.weights_sha256 = sha256_file(weights) if weights else None
        self.model, self.preprocess, self.device = model.eval(), preprocess, device
        self.tokenizer = open_clip.get_tokenizer(ARCHITECTURE)

    def video_score(self, frames: np.ndarray, text: str) -> float:
        """100 × mean over frames of the cosine between each frame and the text."""
        import torch
        from PIL import Image

        with torch.inference_mode():
            images = torch.stack([self.preprocess(Image.fromarray(f)) for f in frames]).to(self.device)
            image = self.model.encode_image(images)
            words = self.model.encode_text(self.tokenizer([text]).to(self.device))
            image = image / image.norm(dim=-1, keepdim=True)
            words = words / words.norm(dim=-1, keepdim=True)
            return float(100.0 * (image @ words.T).mean())
