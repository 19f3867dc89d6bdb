"""Weight-free, exact metrics for synthtvp: objects are found by colour in every generated frame.

Per clip (so every metric has a bootstrap interval over clips):
- psnr@synthtvp, ssim@synthtvp: against the ground-truth frames, over the predicted frames only
  (an exact copy's PSNR is reported as 100 dB, not infinity).
- trajectory-error@synthtvp: mean distance, in frame widths, between each object's recovered centre and
  its true centre over the predicted frames; an object present in one and absent in the other costs 1.
- instruction-accuracy@synthtvp: 1 when, in the last frame, the named object ended within half its true
  displacement of its true end (for "remove": shrank below a quarter of its first-frame area) and every
  other object stayed within 0.05 frame widths (+1 pixel) of its start; else 0.
- counterfactual-accuracy@synthtvp: in each complete counterfactual group (one first frame, four
  instructions), each clip's last frame is matched to the nearest of the group's four true last frames;
  1 when it matches its own. A text-blind model scores 1/4 in expectation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aidbench.data import synthtvp

PSNR_CAP = 100.0
STAY_TOLERANCE = 0.05  # frame widths, plus one pixel
MOVE_FRACTION = 0.5  # of the true displacement
REMOVED_AREA = 0.25  # of the first-frame area


@dataclass(frozen=True)
class Truth:
    """The ground truth of one synthtvp clip at the resolution and length it was scored at."""

    clip_id: str
    group: str
    colours: tuple[str, ...]
    states: np.ndarray  # (T, K, 3): x, y, size per frame and object
    target: int
    action: str
    frames: np.ndarray  # (T, R, R, 3) uint8, the rendered ground truth
    domain: str = "default"

    @classmethod
    def of_episode(cls, ep: synthtvp.Episode, num_frames: int, resolution: int) -> Truth:
        return cls(
            ep.clip_id,
            ep.clip_id.rsplit("-", 1)[0],
            tuple(o.colour for o in ep.objects),
            ep.states(num_frames),
            ep.action.target,
            ep.action.kind,
            synthtvp.render(ep, num_frames, resolution),
            ep.domain,
        )


def centres(
    frames: np.ndarray, colours: Sequence[str], domain: str = "default"
) -> tuple[np.ndarray, np.ndarray]:
    """(T, K, 2) box centres in frame widths (NaN when absent) and (T, K) pixel areas of each colour."""
    resolution = frames.shape[1]
    boxes = synthtvp.locate(frames, colours, domain=domain)
    t, k = frames.shape[0], len(colours)
    out = np.full((t, k, 2), np.nan)
    area = np.zeros((t, k))
    for j, colour in enumerate(colours):
        for i, box in enumerate(boxes[colour]):
            if box is not None:
                top, left, bottom, right = box
                out[i, j] = ((left + right + 1) / 2 / resolution, (top + bottom + 1) / 2 / resolution)
                area[i, j] = (bottom - top + 1) * (right - left + 1)
    return out, area


def _true_centres(truth: Truth) -> np.ndarray:
    xy = truth.states[..., :2].copy()
    xy[truth.states[..., 2] <= 0] = np.nan
    return xy


def psnr(fake: np.ndarray, truth: Truth, num_ref: int) -> float:
    diff = fake[num_ref:].astype(np.float64) - truth.frames[num_ref:]
    mse = float(np.mean(diff**2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * np.log10(255.0**2 / mse))


def ssim(fakes: Mapping[str, np.ndarray], truths: Mapping[str, Truth], num_ref: int) -> dict[str, float]:
    """torchmetrics' SSIM (Gaussian 11×11, σ 1.5) per predicted frame, averaged per clip; one batched call."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    ids = list(fakes)

    def stack(videos):
        return torch.from_numpy(np.concatenate([v[num_ref:] for v in videos])).permute(0, 3, 1, 2).float()

    per_frame = structural_similarity_index_measure(
        stack([fakes[c] for c in ids]),
        stack([truths[c].frames for c in ids]),
        data_range=255.0,
        reduction="none",
    )
    return {c: float(v) for c, v in zip(ids, per_frame.reshape(len(ids), -1).mean(dim=1), strict=True)}


def trajectory_error(fake: np.ndarray, truth: Truth, num_ref: int) -> float:
    found, _ = centres(fake[num_ref:], truth.colours, truth.domain)
    true = _true_centres(truth)[num_ref:]
    present_f, present_t = ~np.isnan(found[..., 0]), ~np.isnan(true[..., 0])
    error = np.where(present_f & present_t, np.linalg.norm(np.nan_to_num(found - true), axis=-1), 0.0)
    error = np.where(present_f != present_t, 1.0, error)
    return float(error.mean())


def instruction_correct(fake: np.ndarray, truth: Truth) -> float:
    resolution = fake.shape[1]
    found, area = centres(fake[[0, -1]], truth.colours, truth.domain)
    true = _true_centres(truth)
    for k in range(len(truth.colours)):
        start, end = true[0, k], found[1, k]
        if k == truth.target:
            if truth.action == "remove":
                if area[1, k] > REMOVED_AREA * max(area[0, k], 1):
                    return 0.0
                continue
            target_end = true[-1, k]
            allowed = MOVE_FRACTION * np.linalg.norm(target_end - start)
            if np.isnan(end[0]) or np.linalg.norm(end - target_end) >= allowed:
                return 0.0
        elif np.isnan(end[0]) or np.linalg.norm(end - start) > STAY_TOLERANCE + 1 / resolution:
            return 0.0
    return 1.0


def _last_config_distance(found: np.ndarray, true: np.ndarray) -> float:
    """Between two (K, 2) last-frame configurations; a presence mismatch costs 1 per object."""
    present_f, present_t = ~np.isnan(found[:, 0]), ~np.isnan(true[:, 0])
    both = present_f & present_t
    return float(np.linalg.norm(found[both] - true[both], axis=-1).sum() + (present_f != present_t).sum())


def counterfactual_correct(fakes: Mapping[str, np.ndarray], truths: Mapping[str, Truth]) -> dict[str, float]:
    """Per clip of every complete group: 1 when its last frame is nearest its own true outcome."""
    groups: dict[str, list[str]] = defaultdict(list)
    for clip_id in fakes:
        groups[truths[clip_id].group].append(clip_id)
    scores = {}
    for members in groups.values():
        if len(members) < synthtvp.GROUP_SIZE:
            continue  # an incomplete group cannot be told apart fairly
        members = sorted(members)
        outcomes = [_true_centres(truths[m])[-1] for m in members]
        for own, clip_id in enumerate(members):
            found, _ = centres(fakes[clip_id][-1:], truths[clip_id].colours, truths[clip_id].domain)
            distances = [_last_config_distance(found[0], outcome) for outcome in outcomes]
            scores[clip_id] = float(int(np.argmin(distances)) == own)
    return scores


PER_CLIP = {"psnr@synthtvp": psnr, "trajectory-error@synthtvp": trajectory_error}


def score(
    metric: str, fakes: Mapping[str, np.ndarray], truths: Mapping[str, Truth], num_ref: int
) -> dict[str, float]:
    """Per-clip scores of one synthtvp metric (clip id → value)."""
    if metric == "counterfactual-accuracy@synthtvp":
        return counterfactual_correct(fakes, truths)
    if metric == "ssim@synthtvp":
        return ssim(fakes, truths, num_ref)
    if metric == "instruction-accuracy@synthtvp":
        return {c: instruction_correct(f, truths[c]) for c, f in fakes.items()}
    function = PER_CLIP[metric]
    return {c: function(f, truths[c], num_ref) for c, f in fakes.items()}
