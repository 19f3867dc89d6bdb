"""Build the golden files of the protocol conformance tests: `python -m tests.golden.make`.

Inputs (committed): `clips/real/<id>/` and `clips/generated/<id>/`, frame folders of PNGs (4 clips a side,
18 frames of 40×56, so that fixed-length protocols have frames to choose from and the short-side resize
has an aspect to keep), and `clips/generated/instructions.json`. Detectors: random weights, re-created
from their seeds by `detectors()` (I3D with BatchNorm statistics calibrated on a batch, and tiny versions
of StyleGAN-V's detector, clean-fid's Inception, OpenAI's CLIP and VideoMAE-v2 in their published file
layouts).
Outputs (committed): `expected.json`, every protocol's number as its reference pipeline computes it
(tests/reference_metrics.py) on those inputs and detectors.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLIPS = HERE / "clips"
EXPECTED = HERE / "expected.json"
SEED = 0  # eval seed: StyleGAN-V's random offsets
COUNT, FRAMES, HEIGHT, WIDTH = 4, 18, 40, 56
INSTRUCTIONS = ["Putting jar on a surface", "Pushing cup from left to right", "Removing lid", "Moving pen up"]


def _clip(rng: np.random.Generator, drift: float) -> np.ndarray:
    """A coloured blob moving over a gradient, with a little noise: smooth enough for small PNGs."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    background = rng.uniform(40, 200, 3) + rng.uniform(-60, 60, 3) * (x[..., None] / WIDTH)
    colour = rng.uniform(0, 255, 3)
    start, step = rng.uniform([8, 8], [HEIGHT - 8, WIDTH - 8]), rng.normal(0, 1.5, 2) + drift
    frames = []
    for t in range(FRAMES):
        cy, cx = start + t * step
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 40.0)[..., None]
        frame = background * (1 - blob) + colour * blob + rng.normal(0, 4, (HEIGHT, WIDTH, 3))
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return np.stack(frames)


def write_inputs(root: Path = CLIPS) -> None:
    from aidbench.data.video import write_png_frames

    rng = np.random.default_rng(SEED)
    for side, drift in (("real", 0.0), ("generated", 0.8)):
        for i in range(COUNT):
            write_png_frames(root / side / f"clip{i}", _clip(rng, drift))
    names = {f"clip{i}": text for i, text in enumerate(INSTRUCTIONS)}
    (root / "generated" / "instructions.json").write_text(json.dumps(names, indent=1) + "\n")


def detectors(root: Path) -> dict[str, Path]:
    """The detector files, re-created from their seeds; TorchScript archives pinned as a user would."""
    import torch

    from aidbench import weights
    from aidbench.metrics.i3d import calibrated_random
    from tests import published

    i3d = root / "i3d" / "i3d_pretrained_400.pt"
    i3d.parent.mkdir(parents=True, exist_ok=True)
    torch.save(calibrated_random(seed=0).state_dict(), i3d)
    files = {
        "i3d": i3d,
        "i3d-torchscript": published.styleganv_detector(root / "styleganv"),
        # clean-fid's wrapper reads 2048 features: the published width
        "inception": published.inception_torchscript(root / "inception", width=2048),
        "clip": published.openai_clip(root / "clip", "state"),
        "videomae": published.videomae_checkpoint(root / "videomae"),
    }
    for name in ("i3d-torchscript", "inception"):
        weights.pin(files[name])
    return files


def reference(files: dict[str, Path], work: Path, clips: Path = CLIPS) -> dict[str, float]:
    from tests import reference_metrics as ref

    real, fake = clips / "real", clips / "generated"
    return {
        **ref.seer(real, fake, files["i3d"]),
        "fvd@styleganv/i3d-torchscript": ref.styleganv(real, fake, files["i3d-torchscript"], SEED),
        "fvd@styleganv/i3d": ref.cd_fvd_i3d(real, fake, files["i3d"]),
        "fvd@videomae": ref.cd_fvd_videomae(real, fake, files["videomae"]),
        **ref.clean_fid(real, fake, files["inception"], work),
        "clipsim@vitb32": ref.clip_score(fake, files["clip"]),
    }


def main() -> None:
    import torch

    torch.set_num_threads(1)  # as the tests run (conftest): float32 convolutions round by thread count
    write_inputs()
    with tempfile.TemporaryDirectory() as work:
        values = reference(detectors(Path(work) / "weights"), Path(work))
    EXPECTED.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
    print(json.dumps(values, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
