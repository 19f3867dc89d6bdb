"""`aidbench human-eval score`: preferences, their intervals, agreement between raters and, across studies
of more than two systems, a Bradley–Terry fit.

- Preference: per question, the share of answers preferring each system and the share of ties (Fig. 7 of
  the paper shows the two systems' shares). Interval: a crossed bootstrap that resamples raters and pairs
  together (both are samples: other people, other clips), percentile, seeded.
- Agreement: Krippendorff's α (nominal: system A, system B, tie) over pairs rated by two or more raters. α
  takes any number of raters per pair and missing answers; Fleiss' κ needs every pair rated by the same
  number of raters, which an open questionnaire does not give.
- Bradley–Terry: with studies that together compare more than two systems, each question's strengths by
  Hunter's MM algorithm, a tie counting half a win to each side, plus half a tie per compared pair so a
  system that always wins keeps a finite strength; strengths sum to 1.

Answers: the study folder's answers.jsonl (from `serve`) and any exported files (`Export answers`). Each
answer names what was on the left and right; the key turns the chosen video into its system. The newest
answer of a (rater, pair, question) counts; answers of another study, unknown pairs, questions or videos
are skipped and counted.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aidbench.errors import UserError
from aidbench.human.study import ANSWERS, read_key

OUTCOMES = ("a", "b", "tie")


@dataclass(frozen=True)
class Answer:
    rater: str
    pair: str
    question: str
    # "a", "b" (the system preferred) or "tie"
    outcome: str
    answered_at: str = ""


def _read(path: Path) -> list[dict[str, Any]]:
    """The answers of one file: an export ({study, rater, answers: […]}) or JSON lines ({study, rater,
    answer}), each answer with its study and rater."""
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"cannot read answers from {path}: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("answers"), list):
        return [
            {**a, "study": data.get("study"), "rater": data.get("rater")}
            for a in data["answers"]
            if isinstance(a, dict)
        ]
    found = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            found.append({"unreadable": True})
            continue
        if isinstance(item, dict) and isinstance(item.get("answer"), dict):
            found.append({**item["answer"], "study": item.get("study"), "rater": item.get("rater")})
        else:
            found.append({"unreadable": True})
    return found


def collect(key: dict[str, Any], sources: list[Path]) -> tuple[list[Answer], Counter]:
    """The answers of `key`'s study from `sources`, newest per (rater, pair, question); what was skipped."""
    skipped: Counter = Counter()
    newest: dict[tuple[str, str, str], Answer] = {}
    questions = {q["id"] for q in key["questions"]}
    for source in sources:
        for raw in _read(source):
            if raw.get("unreadable"):
                skipped["unreadable"] += 1
                continue
            if raw.get("study") != key["study"]:
                skipped["another study"] += 1
                continue
            pair = key["pairs"].get(str(raw.get("pair")))
            if pair is None or raw.get("question") not in questions or not raw.get("rater"):
                skipped["unknown pair, question or rater"] += 1
                continue
            shown = {"left": raw.get("left"), "right": raw.get("right")}
            if set(shown.values()) != set(pair["videos"]):
                skipped["videos not of this pair"] += 1
                continue
            choice = raw.get("choice")
            if choice == "tie" and key.get("allow_tie", True):
                outcome = "tie"
            elif choice in shown:
                outcome = pair["videos"][shown[choice]]
            else:
                skipped["no valid choice"] += 1
                continue
            answer = Answer(
                str(raw["rater"]), str(raw["pair"]), raw["question"], outcome, str(raw.get("answered_at", ""))
            )
            slot = (answer.rater, answer.pair, answer.question)
            if slot not in newest or newest[slot].answered_at <= answer.answered_at:
                newest[slot] = answer
    return list(newest.values()), skipped


def _matrix(answers: list[Answer]) -> tuple[np.ndarray, list[str], list[str]]:
    """raters × pairs of outcome codes: 0 no answer, 1 a, 2 b, 3 tie."""
    raters = sorted({a.rater for a in answers})
    pairs = sorted({a.pair for a in answers})
    r, p = {x: i for i, x in enumerate(raters)}, {x: i for i, x in enumerate(pairs)}
    codes = np.zeros((len(raters), len(pairs)), dtype=np.int8)
    for a in answers:
        codes[r[a.rater], p[a.pair]] = OUTCOMES.index(a.outcome) + 1
    return codes, raters, pairs


def preference(
    answers: list[Answer], resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Each outcome's share of the answers to one question, with crossed-bootstrap intervals over raters
    and pairs, and the difference a − b."""
    codes, raters, pairs = _matrix(answers)
    hits = {o: (codes == i + 1).astype(float) for i, o in enumerate(OUTCOMES)}
    answered = (codes > 0).astype(float)
    total = answered.sum()
    shares = {o: hits[o].sum() / total for o in OUTCOMES}
    rng = np.random.default_rng(seed)
    wr = rng.multinomial(len(raters), np.full(len(raters), 1 / len(raters)), size=resamples).astype(float)
    wp = rng.multinomial(len(pairs), np.full(len(pairs), 1 / len(pairs)), size=resamples).astype(float)

    def weighted(m: np.ndarray) -> np.ndarray:
        return np.einsum("br,rp,bp->b", wr, m, wp)

    denominator = weighted(answered)
    keep = denominator > 0
    draws = {o: weighted(hits[o])[keep] / denominator[keep] for o in OUTCOMES}
    tail = (1 - confidence) / 2

    def interval(values: np.ndarray, point: float) -> dict[str, float]:
        low, high = np.quantile(values, [tail, 1 - tail])
        return {"value": float(point), "ci_low": float(low), "ci_high": float(high)}

    out = {o: interval(draws[o], shares[o]) for o in OUTCOMES}
    out["a_minus_b"] = interval(draws["a"] - draws["b"], shares["a"] - shares["b"])
    out.update(
        answers=int(total),
        raters=len(raters),
        pairs=len(pairs),
        counts={o: int(hits[o].sum()) for o in OUTCOMES},
        confidence=confidence,
        alpha=krippendorff_alpha(codes),
    )
    return out


def krippendorff_alpha(codes: np.ndarray) -> float | None:
    """Nominal Krippendorff's α of coders × units (0: no value); None when it is undefined (fewer than two
    values in pairable units, or every value the same)."""
    values = [v for v in np.unique(codes) if v != 0]
    index = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in codes.T:
        present = [index[v] for v in unit if v != 0]
        m = len(present)
        if m < 2:
            continue
        counts = np.bincount(present, minlength=len(values)).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return None
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n_c.sum() ** 2 - (n_c**2).sum()) / (n - 1)
    if expected == 0:
        return None
    return float(1 - observed / expected)


def bradley_terry(outcomes: list[tuple[str, str, str]], iterations: int = 1000) -> dict[str, float]:
    """Strengths (summing to 1) from (system i, system j, winner: i, j or "tie") outcomes."""
    systems = sorted({s for i, j, _ in outcomes for s in (i, j)})
    at = {s: k for k, s in enumerate(systems)}
    wins = np.zeros((len(systems), len(systems)))
    for i, j, winner in outcomes:
        a, b = at[i], at[j]
        if winner == "tie":
            wins[a, b] += 0.5
            wins[b, a] += 0.5
        else:
            wins[at[winner], b if winner == i else a] += 1
    compared = (wins + wins.T) > 0
    wins += 0.25 * compared  # half a tie per compared pair: finite strengths for a system that always wins
    games = wins + wins.T
    p = np.full(len(systems), 1 / len(systems))
    for _ in range(iterations):
        denominator = (games / (p[:, None] + p[None, :])).sum(axis=1)
        updated = wins.sum(axis=1) / denominator
        updated /= updated.sum()
        if np.abs(updated - p).max() < 1e-12:
            p = updated
            break
        p = updated
    return {s: float(p[at[s]]) for s in systems}


def score_study(
    folder: Path, extra: list[Path], resamples: int, confidence: float, seed: int
) -> dict[str, Any]:
    """One study's preferences per question (see the module's text)."""
    key = read_key(folder)
    sources = ([folder / ANSWERS] if (folder / ANSWERS).is_file() else []) + [p for p in extra if p.is_file()]
    answers, skipped = collect(key, sources)
    if not answers:
        raise UserError(
            f"no answers of study {key['study']} in {', '.join(map(str, sources)) or folder}; export them from "
            "the questionnaire (Export answers) and pass the files, or collect them with `human-eval serve`."
        )
    questions = {}
    for q in key["questions"]:
        mine = [a for a in answers if a.question == q["id"]]
        if mine:
            questions[q["id"]] = preference(mine, resamples, confidence, seed)
    return {
        "study": key["study"],
        "folder": str(folder),
        "systems": key["systems"],
        "per_dataset": key.get("per_dataset", {}),
        "questions": questions,
        "skipped": dict(skipped),
        "sources": [str(s) for s in sources],
        "outcomes": [(key["systems"]["a"], key["systems"]["b"], a.question, a.outcome) for a in answers],
    }


def score(
    folders: list[Path], extra: list[Path], resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Every study's preferences, and Bradley–Terry strengths per question when the studies compare more
    than two systems."""
    studies = [score_study(f, extra, resamples, confidence, seed) for f in folders]
    systems = {s for study in studies for s in study["systems"].values()}
    fits = {}
    if len(systems) > 2:
        questions = sorted({q for study in studies for q in study["questions"]})
        for question in questions:
            outcomes = [
                (a, b, {"a": a, "b": b}.get(o, "tie"))
                for study in studies
                for a, b, q, o in study["outcomes"]
                if q == question
            ]
            fits[question] = bradley_terry(outcomes)
    for study in studies:
        del study["outcomes"]
    return {"studies": studies, "bradley_terry": fits}


def records(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per study, question and system, in the fields every metric's records carry."""
    found = []
    for study in result["studies"]:
        for question, p in study["questions"].items():
            for side in ("a", "b"):
                system = study["systems"][side]
                other = study["systems"]["b" if side == "a" else "a"]
                found.append(
                    {
                        "metric": f"preference-{question}@human",
                        "system": system,
                        "against": other,
                        "value": p[side]["value"],
                        "ci_low": p[side]["ci_low"],
                        "ci_high": p[side]["ci_high"],
                        "confidence": p["confidence"],
                        "n_fake": p["answers"],
                        "ties": p["tie"]["value"],
                        "raters": p["raters"],
                        "pairs": p["pairs"],
                        "alpha": p["alpha"],
                        "study": study["study"],
                        "card": {
                            "protocol": "blinded side-by-side preference, left/right random per rater and pair",
                            "interval": "crossed bootstrap over raters and pairs (percentile)",
                            "agreement": "Krippendorff's alpha, nominal (A, B, tie)",
                        },
                    }
                )
    return found


STAGE = "human"


def run_score(cfg, folders: list[Path], extra: list[Path]) -> tuple[dict[str, Any], Path]:
    """`human-eval score` in a run of its own (runs/human/<id>/): summary.json and records.jsonl."""
    from aidbench import atomic, runs

    label = "-".join(read_key(f)["study"] for f in folders)[:60]
    run = runs.open_run(STAGE, cfg, label=f"human-{label}")
    found: dict[str, Any] = {}

    def work() -> str:
        found.update(score(folders, extra, cfg.eval.bootstrap_samples or 2000, cfg.eval.confidence, cfg.seed))
        atomic.write_json(run.path / "summary.json", found)
        atomic.write_text(run.path / "records.jsonl", "".join(json.dumps(r) + "\n" for r in records(found)))
        return str(run.path / "summary.json")

    runs.execute(run, work, key="summary")
    return found, run.path


def latest(results: Path) -> dict[str, Any] | None:
    """The newest finished human-eval scoring's summary under `results`, with its run id."""
    from aidbench import runs

    for run in reversed(runs.list_runs(results, STAGE)):
        path = run.path / "summary.json"
        if run.status == "done" and path.is_file():
            try:
                return {**json.loads(path.read_text()), "run": run.run_id}
            except json.JSONDecodeError:
                continue
    return None
