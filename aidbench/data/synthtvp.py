"""synthtvp: the embedded synthetic benchmark for instruction-guided video prediction.

A scene holds 1–3 flat-coloured shapes (squares and circles, each a distinct palette colour) on a dark
background. An instruction acts on one of them: move it left/right/up/down, push it towards another, put
it on top of another, or remove it. Every clip is fully determined by (seed, split, index), renders at any
resolution and length, and carries the exact state of every object in every frame. Objects never overlap
and are drawn without antialiasing, so each object's pixels — and so its position — are recovered exactly
from the colour of a lossless frame (`locate`).

Counterfactual groups: clips `group*G … group*G+G-1` share their scene, hence their first frame, and
differ only in the instruction, hence the future.

Domains: `default` is the above; `shifted` is the same tasks, palette and instructions with larger objects
(0.22–0.28 of the frame instead of 0.14–0.22) on a mid-grey background instead of a near-black one: a
domain a model trained on the default one has never seen (the zero-shot transfer of the paper's
supplementary Table 5, in miniature). A domain other than `default` is named in its clip ids.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from aidbench.data.clips import ClipSampling
from aidbench.data.dataset import ClipDataset, ClipRef, Rejected

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 30, 30),
    "green": (30, 200, 40),
    "blue": (40, 70, 240),
    "yellow": (240, 220, 30),
    "magenta": (220, 40, 220),
    "cyan": (30, 220, 230),
}
BACKGROUND = (24, 24, 24)
SHAPES = ("square", "circle")
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
SPLITS = {"train": 0, "validation": 1, "test": 2}
# Clips per split when a stage asks for all of them (data.max_clips picks fewer).
SPLIT_SIZES = {"train": 4096, "validation": 256, "test": 256}
GROUP_SIZE = 4  # instructions per scene (counterfactual group)
MOVE_DISTANCE = 0.3  # of the frame, for "move"
MARGIN = 0.03  # minimum gap between objects and to the border, of the frame

Kind = Literal["move", "push", "put_on", "remove"]


@dataclass(frozen=True)
class Domain:
    """How a scene looks: the background colour and the range of object sizes (fractions of the frame)."""

    background: tuple[int, int, int]
    sizes: tuple[float, float]


DOMAINS = {
    "default": Domain(BACKGROUND, (0.14, 0.22)),
    # Mid-grey stays over 150 RGB units from every palette colour, so objects are still found by colour.
    "shifted": Domain((112, 112, 112), (0.22, 0.28)),
}
# Task variants [ours, smoke]: "full" is synthtvp as described above; "move1" is one object per scene and
# the four move instructions only (each scene's counterfactual group is the four directions), a task a
# CPU-sized model learns in minutes. A variant other than "full" is named in its clip ids.
VARIANTS = ("full", "move1")


@dataclass(frozen=True)
class Obj:
    colour: str
    shape: str
    x: float  # centre, fraction of the width
    y: float  # centre, fraction of the height
    size: float  # side (square) or diameter (circle), fraction of the frame

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Action:
    kind: Kind
    target: int
    direction: str | None = None  # move
    other: int | None = None  # push, put_on

    def instruction(self, objects: Sequence[Obj]) -> str:
        name = objects[self.target].name
        if self.kind == "move":
            return f"Moving the {name} {self.direction}"
        if self.kind == "push":
            return f"Pushing the {name} towards the {objects[self.other].name}"
        if self.kind == "put_on":
            return f"Putting the {name} on top of the {objects[self.other].name}"
        return f"Removing the {name}"

    def template(self) -> str:
        return {
            "move": f"Moving [something] {self.direction}",
            "push": "Pushing [something] towards [something]",
            "put_on": "Putting [something] on top of [something]",
            "remove": "Removing [something]",
        }[self.kind]


@dataclass(frozen=True)
class Episode:
    """One clip's ground truth: the scene, the action, and where every object ends."""

    clip_id: str
    group: int
    variant: int
    objects: tuple[Obj, ...]
    action: Action
    end: tuple[float, float, float]  # target's final (x, y, size)
    domain: str = "default"

    @property
    def instruction(self) -> str:
        return self.action.instruction(self.objects)

    def states(self, num_frames: int) -> np.ndarray:
        """(T, objects, 3): x, y, size of every object in every frame; linear motion from frame 0 to T-1."""
        start = np.array([[o.x, o.y, o.size] for o in self.objects])
        out = np.repeat(start[None], num_frames, axis=0)
        progress = np.linspace(0.0, 1.0, num_frames)[:, None]
        out[:, self.action.target] = start[self.action.target] + progress * (
            np.array(self.end) - start[self.action.target]
        )
        return out

    def state_sentences(self) -> list[str]:
        """Four sentences, first frame to last, as the MLLM is asked to write them (oracle states)."""
        target = self.objects[self.action.target]
        where = ", ".join(f"a {o.name} is at the {region(o.x, o.y)}" for o in self.objects)
        first = where[0].upper() + where[1:] + "."
        x, y, _ = self.end
        kind = self.action.kind
        if kind == "move":
            middle = [
                f"The {target.name} starts moving {self.action.direction}.",
                f"The {target.name} keeps moving {self.action.direction}.",
            ]
            last = f"The {target.name} stops at the {region(x, y)} and the other objects stay still."
        elif kind == "push":
            other = self.objects[self.action.other].name
            middle = [
                f"The {target.name} starts sliding towards the {other}.",
                f"The {target.name} gets close to the {other}.",
            ]
            last = f"The {target.name} stops touching the {other}, which does not move."
        elif kind == "put_on":
            other = self.objects[self.action.other].name
            middle = [
                f"The {target.name} is lifted towards the {other}.",
                f"The {target.name} moves over the {other}.",
            ]
            last = f"The {target.name} rests on top of the {other}."
        else:
            middle = [f"The {target.name} starts to shrink.", f"The {target.name} is half its size."]
            last = f"The {target.name} has disappeared and the other objects stay still."
        return [first, *middle, last]


def region(x: float, y: float) -> str:
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else "middle"
    column = "left" if x < 1 / 3 else "right" if x > 2 / 3 else "centre"
    return "centre" if (row, column) == ("middle", "centre") else f"{row} {column}"


# --------------------------------------------------------------------------- generation


def _box(x: float, y: float, size: float, grow: float = 0.0) -> tuple[float, float, float, float]:
    half = size / 2 + grow
    return x - half, y - half, x + half, y + half


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _end_of(action: Action, objects: Sequence[Obj]) -> tuple[float, float, float]:
    o = objects[action.target]
    if action.kind == "move":
        dx, dy = DIRECTIONS[action.direction]
        return o.x + dx * MOVE_DISTANCE, o.y + dy * MOVE_DISTANCE, o.size
    if action.kind == "remove":
        return o.x, o.y, 0.0
    other = objects[action.other]
    if action.kind == "put_on":  # resting above its top edge, centred, 1.5 margins apart
        return other.x, other.y - other.size / 2 - 1.5 * MARGIN - o.size / 2, o.size
    # push: along the line between the centres, until the boxes are 1.5 margins apart
    dx, dy = other.x - o.x, other.y - o.y
    gap = max(abs(dx), abs(dy)) - (o.size + other.size) / 2 - 1.5 * MARGIN
    if gap <= 0:
        return o.x, o.y, o.size
    # Travel the fraction of the centre line that closes the gap on the axis where the boxes are apart.
    fraction = gap / max(abs(dx), abs(dy))
    return o.x + dx * fraction, o.y + dy * fraction, o.size


_PATH = np.linspace(0.0, 1.0, 24)  # the points of a path checked for staying in frame and clear


def _feasible(action: Action, objects: Sequence[Obj]) -> tuple[float, float, float] | None:
    """The end state when the whole path stays in frame and clear of the other objects, else None."""
    o = objects[action.target]
    end = _end_of(action, objects)
    if action.kind != "remove" and np.hypot(end[0] - o.x, end[1] - o.y) < 0.1:
        return None  # too little motion to tell apart
    # Every step of the path at once (the same arithmetic as one step at a time, so the same answer).
    s = _PATH
    x, y, size = o.x + s * (end[0] - o.x), o.y + s * (end[1] - o.y), o.size + s * (end[2] - o.size)
    if action.kind != "remove":
        lo, hi = size / 2 + MARGIN, 1 - size / 2 - MARGIN
        if not ((lo <= x) & (x <= hi) & (lo <= y) & (y <= hi)).all():
            return None
    half = size / 2 + MARGIN / 2
    for i, p in enumerate(objects):
        if i == action.target:
            continue
        b = _box(p.x, p.y, p.size, MARGIN / 2)
        if ((x - half < b[2]) & (b[0] < x + half) & (y - half < b[3]) & (b[1] < y + half)).any():
            return None
    return end


def _scene(rng: np.random.Generator, variant: str = "full", domain: str = "default") -> tuple[Obj, ...]:
    count = 1 if variant == "move1" else int(rng.integers(1, 4))
    colours = rng.choice(list(PALETTE), size=count, replace=False)
    objects: list[Obj] = []
    while len(objects) < count:
        size = float(rng.uniform(*DOMAINS[domain].sizes))
        x, y = (float(v) for v in rng.uniform(size / 2 + MARGIN, 1 - size / 2 - MARGIN, size=2))
        box = _box(x, y, size, MARGIN)
        if all(not _overlap(box, _box(p.x, p.y, p.size, MARGIN)) for p in objects):
            objects.append(Obj(str(colours[len(objects)]), str(rng.choice(SHAPES)), x, y, size))
    return tuple(objects)


def _actions(objects: Sequence[Obj], variant: str = "full") -> list[Action]:
    actions = []
    for i in range(len(objects)):
        actions += [Action("move", i, direction=d) for d in DIRECTIONS]
        if variant == "move1":
            continue
        actions += [
            Action(kind, i, other=j) for kind in ("push", "put_on") for j in range(len(objects)) if j != i
        ]
        actions.append(Action("remove", i))
    return actions


def episode(seed: int, split: str, index: int, task: str = "full", domain: str = "default") -> Episode:
    """The clip `index` of `split`: deterministic in (seed, split, index, task variant, domain), whatever
    else is generated."""
    if split not in SPLITS:
        raise ValueError(f"synthtvp has the splits {', '.join(SPLITS)}, not '{split}'")
    if task not in VARIANTS:
        raise ValueError(f"synthtvp has the variants {', '.join(VARIANTS)}, not '{task}'")
    if domain not in DOMAINS:
        raise ValueError(f"synthtvp has the domains {', '.join(DOMAINS)}, not '{domain}'")
    group, variant = divmod(index, GROUP_SIZE)
    objects, chosen = _group(seed, split, group, task, domain)
    action, end = chosen[variant]
    clip_id = f"{_prefix(task, domain)}-{split}-{group:05d}-{variant}"
    return Episode(clip_id, group, variant, objects, action, tuple(float(v) for v in end), domain)


def _prefix(task: str, domain: str) -> str:
    """synthtvp[-<task>][-<domain>]: the default task (full) and domain are not named."""
    return "-".join(
        ["synthtvp", *([task] if task != "full" else []), *([domain] if domain != "default" else [])]
    )


@functools.lru_cache(maxsize=4096)
def _group(seed: int, split: str, group: int, task: str, domain: str) -> tuple[tuple[Obj, ...], tuple]:
    """A counterfactual group's scene and its GROUP_SIZE (action, end) pairs, drawn once per process: the
    training loop opens the same clips again and again."""
    rng = np.random.default_rng([seed, SPLITS[split], group])
    while True:  # redraw the scene until it affords GROUP_SIZE distinct feasible instructions
        objects = _scene(rng, task, domain)
        actions, feasible = _actions(objects, task), []
        for i, action in enumerate(actions):
            if len(feasible) + len(actions) - i < GROUP_SIZE:
                break  # this scene cannot afford enough instructions any more
            if (end := _feasible(action, objects)) is not None:
                feasible.append((action, end))
        if len(feasible) >= GROUP_SIZE:
            break
    chosen = rng.choice(len(feasible), size=GROUP_SIZE, replace=False)
    return objects, tuple(feasible[int(c)] for c in chosen)


# Every clip id prefix → its (task variant, domain).
_PREFIXES = {_prefix(task, domain): (task, domain) for task in VARIANTS for domain in DOMAINS}


def task_of_clip_id(clip_id: str) -> str:
    """'synthtvp-move1-test-00001-2' → 'move1'; a plain synthtvp clip id → 'full'."""
    return _PREFIXES.get(clip_id.rsplit("-", 3)[0], ("full", "default"))[0]


def domain_of_clip_id(clip_id: str) -> str:
    """'synthtvp-move1-shifted-test-00001-2' → 'shifted'; a clip id that names no domain → 'default'."""
    return _PREFIXES.get(clip_id.rsplit("-", 3)[0], ("full", "default"))[1]


def parse_clip_id(clip_id: str) -> tuple[str, int]:
    """'synthtvp-test-00001-2' → ('test', 6): the split and index that regenerate the clip (a task
    variant's or domain's ids, 'synthtvp-move1-shifted-test-00001-2', too)."""
    try:
        prefix, split, group, variant = clip_id.rsplit("-", 3)
        if prefix not in _PREFIXES or split not in SPLITS:
            raise ValueError
        return split, int(group) * GROUP_SIZE + int(variant)
    except ValueError:
        raise ValueError(
            f"'{clip_id}' is not a synthtvp clip id (synthtvp-<split>-<group>-<variant>)"
        ) from None


# --------------------------------------------------------------------------- rendering and recovery


def object_mask(shape: str, x: float, y: float, size: float, resolution: int) -> np.ndarray:
    """Pixels (H, W) whose centres fall inside the shape: the same rule renders and checks."""
    centres = (np.arange(resolution) + 0.5) / resolution
    cx, cy = centres[None, :], centres[:, None]
    half = size / 2
    if shape == "square":
        return (np.abs(cx - x) < half) & (np.abs(cy - y) < half)
    return (cx - x) ** 2 + (cy - y) ** 2 < half**2


def render(ep: Episode, num_frames: int, resolution: int) -> np.ndarray:
    """(T, R, R, 3) uint8 frames of the episode."""
    states = ep.states(num_frames)
    frames = np.empty((num_frames, resolution, resolution, 3), np.uint8)
    frames[:] = DOMAINS[ep.domain].background
    for t in range(num_frames):
        for k, obj in enumerate(ep.objects):
            x, y, size = states[t, k]
            frames[t][object_mask(obj.shape, x, y, size, resolution)] = PALETTE[obj.colour]
    return frames


def expected_boxes(
    ep: Episode, num_frames: int, resolution: int
) -> dict[str, list[tuple[int, int, int, int] | None]]:
    """Per object colour, per frame: the pixel box (top, left, bottom, right) inclusive, None when hidden."""
    states = ep.states(num_frames)
    boxes: dict[str, list] = {}
    for k, obj in enumerate(ep.objects):
        boxes[obj.colour] = [
            _mask_box(object_mask(obj.shape, *states[t, k], resolution)) for t in range(num_frames)
        ]
    return boxes


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def locate(
    frames: np.ndarray, colours: Sequence[str], tolerance: float = 60.0, domain: str = "default"
) -> dict[str, list]:
    """Recover each colour's pixel box in every frame by nearest palette colour (the domain's background
    included).

    A pixel belongs to a colour when that palette entry is its nearest and within `tolerance` (RGB
    distance), so lossless frames recover exactly and mildly noisy generated frames still classify.
    """
    names = ["background", *PALETTE]
    table = np.array([DOMAINS[domain].background, *PALETTE.values()], np.int32)
    pixels = frames.astype(np.int32)
    best = np.full(frames.shape[:-1], np.iinfo(np.int32).max, np.int32)
    nearest = np.zeros(frames.shape[:-1], np.int8)
    for index, colour in enumerate(table):  # squared RGB distance to each palette entry, in integers
        distance = ((pixels - colour) ** 2).sum(axis=-1)
        closer = distance < best
        best[closer], nearest[closer] = distance[closer], index
    close = best <= tolerance**2
    out: dict[str, list] = {}
    for colour in colours:
        mask = (nearest == names.index(colour)) & close
        out[colour] = [_mask_box(m) for m in mask]
    return out


# --------------------------------------------------------------------------- dataset


class SynthTVP(ClipDataset):
    """synthtvp as a dataset: rendered on the fly at the sampling's resolution and length."""

    name = "synthtvp"
    layout = "nothing on disk: synthtvp is generated from its seed"
    split_aliases = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}

    def __init__(
        self,
        root,
        split: str,
        sampling: ClipSampling,
        max_clips: int | None = None,
        max_bad_fraction: float = 0.0,
        seed: int = 0,
        task: str = "full",
        domain: str = "default",
    ) -> None:
        self.seed, self.task, self.domain = seed, task, domain
        self.size = max_clips or SPLIT_SIZES.get(self.split_aliases.get(split, split), 0)
        super().__init__(root or ".", split, sampling, max_clips, max_bad_fraction)

    def _check_root(self) -> None:
        pass

    def index(self) -> Iterator[ClipRef | Rejected]:
        for i in range(self.size):
            ep = episode(self.seed, self.split, i, self.task, self.domain)
            meta = {
                "task": self.task,
                "domain": self.domain,
                "group": ep.group,
                "variant": ep.variant,
                "index": i,
                "seed": self.seed,
                "split": self.split,
            }
            yield ClipRef(ep.clip_id, ep.instruction, None, meta=meta)

    def open(self, ref: ClipRef) -> np.ndarray:
        ep = episode(self.seed, self.split, ref.meta["index"], self.task, self.domain)
        return render(ep, self.sampling.required_frames(), self.sampling.resolution)
