"""The settings the tests share, in one place: the smoke preset shrunk to what each kind of test needs,
as `--set` overrides (config.resolve's `overrides`) or as command-line arguments (`args`)."""

from __future__ import annotations

# A few clips of a few small frames: enough to run every stage of a system.
TINY = (
    "data.max_clips=4",
    "data.train_clips=null",  # the smoke preset's own training-split cap would beat max_clips
    "data.resolution=16",
    "data.num_frames=4",
)
# Two denoising steps per sample: sampling runs, its quality is not what these tests check.
FEW_STEPS = ("sample.num_inference_steps=2",)
# No intervals and no noise floor: for tests of values alone (each would recompute a metric tens of times).
NO_INTERVALS = ("eval.bootstrap_samples=0", "eval.jackknife_groups=0", "eval.noise_floor_splits=0")
# One training step on one clip.
ONE_STEP = ("train.max_steps=1", "train.batch_size_per_device=1")


def args(*overrides: str, preset: str = "smoke") -> list[str]:
    """`--preset PRESET --set A --set B …`."""
    return ["--preset", preset, *(part for item in overrides for part in ("--set", item))]
