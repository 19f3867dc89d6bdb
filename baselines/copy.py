"""The trivial predictors: every predicted frame a copy of the first frame (copy-first-frame) or of the
last reference frame (copy-last-reference). No training and no weights; they run in every preset, so each
number in a report has the do-nothing prediction beside it."""

from __future__ import annotations

import numpy as np

from aidbench import distributed
from aidbench.stages.sample import sample_clips
from aidbench.systems import System


def _copier(name: str, last_reference: bool):
    def sample(config, run, checkpoint, split):
        state = distributed.state(cpu=True)

        def generate(context):
            source = context.reference[-1] if last_reference else context.reference[0]
            return np.repeat(source[None], context.num_frames, axis=0)

        return sample_clips(config, run, split, generate, state, lambda context: {"system": name})

    return sample


COPY_FIRST_FRAME = System("copy-first-frame", sample=_copier("copy-first-frame", last_reference=False))
COPY_LAST_REFERENCE = System(
    "copy-last-reference", sample=_copier("copy-last-reference", last_reference=True)
)
