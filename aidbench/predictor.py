"""The system interface: what a video predictor is given for one clip and what it must return.

Every system samples through it — AID, the baselines, and your own model:

    def predict(context: Context) -> np.ndarray:
        # context.reference: (K, H, W, 3) uint8, the clip's first K true frames
        # context.instruction, context.num_frames (T, references included), context.seed
        return frames  # uint8 (T, H, W, 3) or only the predicted (T − K, H, W, 3)

`aidbench sample --system package.module:predict` (or an entry point in the group `aidbench.systems`)
runs it through the same sharded, resumable, seeded loop as AID (stages/sample.py); the first K frames of
every stored sample are the true references, whatever the predictor returns there. A class instead of a
function is instantiated once per sampling run, with `sample.system_options` as keyword arguments (weights
paths and the like: `--set sample.system_options.weights=/path`), and then called for every clip.

A predictor sees the reference frames, the instruction and the clip's size, never the true future and,
unless it is one of aidbench's own systems, never the dataset's annotations (synthtvp's let anyone
rebuild the clip).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aidbench.errors import UserError


@dataclass(frozen=True)
class Context:
    """One clip to predict."""

    clip_id: str
    # (K, H, W, 3) uint8: the true reference frames
    reference: np.ndarray
    instruction: str
    # T, the whole clip's length, references included
    num_frames: int
    # derived from (run seed, clip id, sample index): seed every random draw from it, so samples reproduce
    seed: int
    # where the sampling process runs ("cpu", "cuda:0", …)
    device: str = "cpu"
    # the dataset's annotations of the clip: given to aidbench's own systems only (AID's oracle states)
    meta: Mapping[str, Any] = field(default_factory=dict)
    # (T, H, W, 3) uint8, the true clip: given to oracle systems only (vae-recon)
    truth: np.ndarray | None = None

    @property
    def num_ref_frames(self) -> int:
        return int(self.reference.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of every frame."""
        return int(self.reference.shape[1]), int(self.reference.shape[2])

    @classmethod
    def of(
        cls, clip, seed: int, device: Any = "cpu", *, annotations: bool = True, truth: bool = False
    ) -> Context:
        """The context of a loaded dataset clip (data.dataset.Clip)."""
        return cls(
            clip_id=clip.clip_id,
            reference=clip.frames[: clip.num_ref_frames],
            instruction=clip.instruction,
            num_frames=int(clip.frames.shape[0]),
            seed=seed,
            device=str(device),
            meta=dict(clip.meta) if annotations else {},
            truth=clip.frames if truth else None,
        )

    def generator(self):
        """A CPU torch.Generator seeded with the sample's seed."""
        import torch

        return torch.Generator().manual_seed(self.seed)


Predictor = Callable[[Context], Any]


def frames_of(output: Any, context: Context, system: str) -> np.ndarray:
    """A predictor's output as uint8 (T, H, W, 3), the true references first; one sentence when it is not
    frames of the clip's size."""
    if hasattr(output, "detach"):  # a torch tensor
        output = output.detach().cpu().numpy()
    t, k = context.num_frames, context.num_ref_frames
    height, width = context.size
    array = np.asarray(output) if isinstance(output, (np.ndarray, list, tuple)) else None
    if array is None or array.dtype != np.uint8 or array.ndim != 4:
        described = f"{type(output).__name__}" if array is None else f"{array.dtype} {array.shape}"
        raise UserError(
            f"system '{system}' returned {described} for clip {context.clip_id}; a predictor returns uint8 frames "
            f"shaped (T, H, W, 3) = ({t}, {height}, {width}, 3) or ({t - k}, {height}, {width}, 3)."
        )
    if array.shape[1:] != (height, width, 3) or array.shape[0] not in (t, t - k):
        raise UserError(
            f"system '{system}' returned frames shaped {array.shape} for clip {context.clip_id}; expected "
            f"({t}, {height}, {width}, 3) or, the predicted frames alone, ({t - k}, {height}, {width}, 3)."
        )
    predicted = array[k:] if array.shape[0] == t else array
    return np.concatenate([context.reference, predicted])


def instantiate(target: Any, options: Mapping[str, Any], name: str) -> Predictor:
    """A class → one instance (options as keyword arguments); a function → itself."""
    if inspect.isclass(target):
        try:
            return target(**options)
        except TypeError as err:
            raise UserError(
                f"system '{name}': {target.__name__}({', '.join(options)}) failed: {err}"
            ) from err
    if not callable(target):
        raise UserError(
            f"system '{name}' is a {type(target).__name__}, not a predictor (a callable or a class)."
        )
    if options:
        raise UserError(f"system '{name}' is a function; sample.system_options are for a predictor class.")
    return target
