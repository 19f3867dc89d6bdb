"""`aidbench human-eval make`: a blinded side-by-side questionnaire of two systems' samples.

A study folder:
    site/index.html      the questionnaire: static HTML and script, no server needed (open it from the disk
                         or put site/ on any static host); the study is embedded in it
    site/media/          each pair's reference frame (PNG) and its two videos (animated WebP), under random
                         names that say nothing about the system
    key.json             the un-blinding key: which video is which system's sample of which clip; never
                         under site/, so a rater never sees it
    raters.json          the rater tokens (`links.txt`: one link per rater, `index.html#rater=TOKEN`)
    answers.jsonl        answers collected by `aidbench human-eval serve` (one per line)

Pairs: clips both systems sampled, drawn without replacement by `seed`, per dataset (`per_dataset`, as the
paper's 50 SSv2, 25 Bridge and 25 Epic-Kitchens pairs) or `pairs` split evenly over the datasets the runs
share. Which video is first on the page is random per pair and per rater (the page draws it from the study,
rater and pair ids, and the answers record what was shown where).
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from aidbench import atomic, runs
from aidbench.errors import UsageError, UserError

SITE, MEDIA, KEY, RATERS, LINKS, ANSWERS = (
    "site",
    "media",
    "key.json",
    "raters.json",
    "links.txt",
    "answers.jsonl",
)

# Supplementary Fig. 12's questionnaire; A.3 reports three preferences (quality, instruction, consistency),
# so its second question ("which video has higher quality and more coherence?") is asked as two.
INTRO = (
    "Please review the text prompt and reference frame. Based on the description, choose the video that has "
    "higher quality and more coherence, or select the one that more closely matches the text description "
    "from the two candidates."
)
QUESTIONS = (
    (
        "instruction",
        'According to the following text prompt, the video that needs to be generated is: "{instruction}". '
        "Please note that the given reference video may not match the language description exactly, but your "
        "task is to choose a video that accurately reflects the given language description.",
    ),
    ("quality", "Which video has higher quality?"),
    ("coherence", "Which video is more coherent (consistent from frame to frame)?"),
)


@dataclass(frozen=True)
class Question:
    id: str
    # "{instruction}" is replaced by the pair's instruction on the page
    text: str


@dataclass(frozen=True)
class Questionnaire:
    intro: str = INTRO
    questions: tuple[Question, ...] = tuple(Question(i, t) for i, t in QUESTIONS)
    # a third answer, "Same / cannot tell"; the paper's form offers two
    allow_tie: bool = True


def questionnaire(path: Path | None) -> Questionnaire:
    """The default questionnaire, or one from a YAML file: {intro, questions: [{id, text}], allow_tie}."""
    if path is None:
        return Questionnaire()
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise UserError(f"cannot read the questionnaire {path}: {err}") from err
    try:
        questions = tuple(Question(str(q["id"]), str(q["text"])) for q in data.get("questions") or ())
        ids = [q.id for q in questions]
        if not questions or len(set(ids)) != len(ids):
            raise ValueError("it needs questions with distinct ids")
        return Questionnaire(str(data.get("intro", INTRO)), questions, bool(data.get("allow_tie", True)))
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise UserError(
            f"{path}: a questionnaire is {{intro, questions: [{{id, text}}, …], allow_tie}} ({err})."
        ) from err


@dataclass(frozen=True)
class Side:
    """One system's sample run on one dataset."""

    system: str
    dataset: str
    run: Path


def _side(results: Path, given: str) -> Side:
    from aidbench.stages.sample import system_of

    folder = Path(given)
    if not folder.is_dir():
        folder = runs.stage_dir(results, "sample") / given
    if not (folder / "manifest.json").is_file():
        raise UserError(f"{given} is not a sample run (an id under {results}/runs/sample, or a run folder).")
    run = runs.load_run(folder.parent.parent.parent, "sample", folder.name)
    system = system_of(folder) or run.config.model.name
    return Side(system, run.config.data.dataset, folder)


def _by_dataset(sides: list[Side], which: str) -> dict[str, Side]:
    found: dict[str, Side] = {}
    for side in sides:
        if side.dataset in found:
            raise UsageError(f"two --{which} runs sample {side.dataset}; give one run per dataset and side.")
        found[side.dataset] = side
    if len({s.system for s in sides}) > 1:
        raise UsageError(f"the --{which} runs are of different systems: {sorted({s.system for s in sides})}.")
    return found


def parse_quota(text: str | None) -> dict[str, int] | None:
    """'ssv2=50,bridge=25,epic=25' → {dataset: pairs}."""
    if not text:
        return None
    quota = {}
    for item in text.split(","):
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit():
            raise UsageError(f"--per-dataset takes DATASET=PAIRS,…, e.g. ssv2=50,bridge=25; got '{item}'.")
        quota[name.strip()] = int(count)
    return quota


def choose_pairs(
    shared: dict[str, list[str]], pairs: int | None, quota: dict[str, int] | None, seed: int
) -> list[tuple[str, str]]:
    """(dataset, clip id) pairs: per dataset its quota (or an even share of `pairs`), drawn by `seed`."""
    if quota is None:
        names = sorted(shared)
        total = pairs if pairs is not None else sum(len(c) for c in shared.values())
        quota = {name: total // len(names) + (i < total % len(names)) for i, name in enumerate(names)}
    rng = np.random.default_rng(seed)
    chosen = []
    for dataset, count in quota.items():
        clips = sorted(shared.get(dataset, ()))
        if count > len(clips):
            raise UserError(
                f"{count} pairs asked from {dataset}, but both systems sampled only {len(clips)} of its clips."
            )
        picked = rng.choice(len(clips), size=count, replace=False) if count else []
        chosen += [(dataset, clips[i]) for i in sorted(picked)]
    return chosen


def make(
    results: Path,
    runs_a: list[str],
    runs_b: list[str],
    out: Path,
    *,
    pairs: int | None = None,
    per_dataset: dict[str, int] | None = None,
    raters: int = 30,
    seed: int = 0,
    questions: Questionnaire | None = None,
) -> dict[str, Any]:
    """Write a study folder (see the module's text); returns what the key records about it."""
    from aidbench.human.page import page
    from aidbench.report.gallery import animated_webp, png
    from aidbench.stages.sample import finished_clips, read_frames, read_meta

    questions = questions or Questionnaire()
    a = _by_dataset([_side(results, r) for r in runs_a], "a")
    b = _by_dataset([_side(results, r) for r in runs_b], "b")
    if not a or not b:
        raise UsageError("give at least one sample run for each side: --a RUN_A --b RUN_B.")
    system_a, system_b = next(iter(a.values())).system, next(iter(b.values())).system
    if system_a == system_b:
        raise UsageError(f"both sides are {system_a}; a study compares two systems.")
    shared = {
        d: sorted(set(finished_clips(a[d].run)) & set(finished_clips(b[d].run)))
        for d in sorted(set(a) & set(b))
    }
    if not any(shared.values()):
        raise UserError(
            "the two sides share no sampled clip of any dataset; sample the same split with both."
        )
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; a study is written into a new folder.")
    chosen = choose_pairs(shared, pairs, per_dataset, seed)
    rng = np.random.default_rng(seed + 1)
    study = secrets.token_hex(6)
    media = out / SITE / MEDIA
    media.mkdir(parents=True)
    page_pairs, key_pairs = [], {}
    for n, (dataset, clip_id) in enumerate(chosen, 1):
        pair_id = f"p{n:03d}"
        meta = read_meta(a[dataset].run, clip_id)
        frames = {"a": read_frames(a[dataset].run, clip_id), "b": read_frames(b[dataset].run, clip_id)}
        k = int(meta.get("num_ref_frames", 1))
        reference = f"{secrets.token_hex(8)}.png"
        atomic.write_bytes(media / reference, png(frames["a"][k - 1]))
        names = {side: f"{secrets.token_hex(8)}.webp" for side in ("a", "b")}
        for side, name in names.items():
            atomic.write_bytes(media / name, animated_webp(frames[side]))
        order = ["a", "b"] if rng.random() < 0.5 else ["b", "a"]  # the page's list says nothing of the side
        page_pairs.append(
            {
                "id": pair_id,
                "instruction": str(meta.get("instruction", "")),
                "reference": f"{MEDIA}/{reference}",
                "videos": [f"{MEDIA}/{names[side]}" for side in order],
            }
        )
        key_pairs[pair_id] = {
            "dataset": dataset,
            "clip_id": clip_id,
            "videos": {f"{MEDIA}/{names[side]}": side for side in order},
        }
    tokens = [secrets.token_urlsafe(9) for _ in range(raters)]
    content = {"study": study, "intro": questions.intro, "allow_tie": questions.allow_tie}
    content["questions"] = [asdict(q) for q in questions.questions]
    atomic.write_text(out / SITE / "index.html", page({**content, "pairs": page_pairs}))
    key = {
        **content,
        "seed": seed,
        "systems": {"a": system_a, "b": system_b},
        "runs": {
            "a": {d: str(s.run) for d, s in a.items()},
            "b": {d: str(s.run) for d, s in b.items()},
        },
        "pairs": key_pairs,
        "per_dataset": dict(_count(chosen)),
    }
    atomic.write_json(out / KEY, key)
    atomic.write_json(out / RATERS, {"study": study, "raters": tokens})
    atomic.write_text(out / LINKS, "".join(f"{SITE}/index.html#rater={t}\n" for t in tokens))
    return key


def _count(chosen: list[tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for dataset, _ in chosen:
        counts[dataset] += 1
    return counts


def read_key(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(folder) / KEY).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(
            f"{folder} holds no readable {KEY}; is it a study folder made by human-eval make?"
        ) from err
