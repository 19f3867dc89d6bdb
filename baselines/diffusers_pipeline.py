"""`diffusers:FOLDER`: any diffusers image-to-video pipeline saved with `save_pretrained` (Stable Video
Diffusion, CogVideoX-I2V, I2VGen-XL, a fine-tune of one) as a system, without code.

For each clip the pipeline is called with the last reference frame as `image` (a PIL image), the
instruction as `prompt` where its `__call__` takes one, the clip's height and width, T − K + 1 frames, the
config's sampling steps, a generator seeded with the sample's seed, and `output_type="np"`. Its first
frame re-renders the conditioning image and is dropped; the other T − K are the prediction. Pipelines
whose frame counts are constrained (CogVideoX: 4k + 1) need clips whose T − K + 1 they accept.
Keyword arguments from `sample.system_options` go to the pipeline's call (e.g. `guidance_scale`,
`max_guidance_scale`, `fps`, `motion_bucket_id`), except `dtype` (float32, float16 or bfloat16: the
weights' dtype, float32 by default; `variant` fp16 loads the fp16 files).
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from aidbench.errors import UserError
from aidbench.predictor import Context

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")


def folder_sha256(folder: Path) -> str:
    """One sha256 over a pipeline folder: every weight, config and tokenizer file's path and bytes, in order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class DiffusersPipeline:
    """A predictor (predictor.py) around a diffusers pipeline folder."""

    @staticmethod
    def check(folder: str) -> None:
        if not (Path(folder) / "model_index.json").is_file():
            raise UserError(
                f"{folder} is not a diffusers pipeline folder (no model_index.json); save one with "
                "pipeline.save_pretrained(FOLDER)."
            )

    def __init__(
        self,
        folder: str,
        *,
        config,
        device,
        dtype: str = "float32",
        variant: str | None = None,
        **call_options: Any,
    ):
        import torch
        from diffusers import DiffusionPipeline

        self.check(folder)
        if dtype not in ("float32", "float16", "bfloat16"):
            raise UserError(f"sample.system_options.dtype={dtype}: use float32, float16 or bfloat16.")
        self.pipeline = DiffusionPipeline.from_pretrained(
            folder, local_files_only=True, torch_dtype=getattr(torch, dtype), variant=variant
        ).to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.takes = set(inspect.signature(self.pipeline.__call__).parameters)
        for needed in ("image", "num_frames"):
            if needed not in self.takes:
                raise UserError(
                    f"{type(self.pipeline).__name__} in {folder} takes no `{needed}`: not an image-to-video pipeline."
                )
        unknown = sorted(set(call_options) - self.takes)
        if unknown:
            raise UserError(
                f"{type(self.pipeline).__name__} takes no {', '.join(unknown)} (sample.system_options)."
            )
        self.device, self.steps, self.call_options = device, config.sample.num_inference_steps, call_options
        self.provenance = {
            "pipeline": type(self.pipeline).__name__,
            "folder": str(Path(folder).resolve()),
            "weights_sha256": folder_sha256(Path(folder)),
        }

    def __call__(self, context: Context) -> np.ndarray:
        import torch
        from PIL import Image

        height, width = context.size
        wanted = context.num_frames - context.num_ref_frames
        arguments: dict[str, Any] = {
            "image": Image.fromarray(context.reference[-1]),
            "num_frames": wanted + 1,
            "generator": torch.Generator(self.device).manual_seed(context.seed),
            "output_type": "np",
            **self.call_options,
        }
        optional = {
            "prompt": context.instruction,
            "height": height,
            "width": width,
            "num_inference_steps": self.steps,
        }
        arguments.update(
            {k: v for k, v in optional.items() if k in self.takes and k not in self.call_options}
        )
        frames = np.asarray(self.pipeline(**arguments).frames[0])
        if frames.ndim != 4 or frames.shape[0] != wanted + 1:
            raise UserError(
                f"{type(self.pipeline).__name__} returned frames shaped {frames.shape} for {wanted + 1} frames "
                f"of clip {context.clip_id}; it may not take that many frames."
            )
        return (frames[1:].clip(0, 1) * 255).round().astype(np.uint8)
