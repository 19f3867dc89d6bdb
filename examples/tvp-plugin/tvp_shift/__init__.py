"""An instruction-guided video predictor in a few lines, packaged as an aidbench plugin.

It reads a direction word (left, right, up, down) in the instruction and slides the last reference frame
that way, `distance` of the frame over the predicted frames, filling the uncovered edge with the frame's
border colour; with no direction word it repeats the frame. Not a good model: an example of the interface.
aidbench calls the class once with `sample.system_options` as keyword arguments, then the instance once
per clip with a context (aidbench.predictor.Context).
"""

from __future__ import annotations

import re

import numpy as np

DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def shifted(frame: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`frame` moved by (dy, dx) pixels, the uncovered edge filled with the colour of its top-left pixel."""
    height, width = frame.shape[:2]
    out = np.empty_like(frame)
    out[:] = frame[0, 0]
    ys, yd = slice(max(0, -dy), height - max(0, dy)), slice(max(0, dy), height - max(0, -dy))
    xs, xd = slice(max(0, -dx), width - max(0, dx)), slice(max(0, dx), width - max(0, -dx))
    out[yd, xd] = frame[ys, xs]
    return out


class ShiftByWords:
    def __init__(self, distance: float | str = 0.3):
        self.distance = float(distance)  # options given with --set arrive as text
        self.provenance = {"distance": self.distance}  # recorded with the samples

    def __call__(self, context) -> np.ndarray:
        words = re.findall(r"[a-z]+", context.instruction.lower())
        dy, dx = next((DIRECTIONS[w] for w in reversed(words) if w in DIRECTIONS), (0, 0))
        last = context.reference[-1]
        height, width = context.size
        steps = context.num_frames - context.num_ref_frames
        frames = []
        for i in range(1, steps + 1):
            fraction = self.distance * i / steps
            frames.append(shifted(last, round(dy * fraction * height), round(dx * fraction * width)))
        return np.stack(frames)  # the predicted frames, uint8 (T - K, H, W, 3)
