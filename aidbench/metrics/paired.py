"""Two systems scored on the same clips: the difference of a metric with its paired interval and p-value.

The clips are matched by id, and the grouped jackknife leaves the same clips out of the real set and of
both systems' samples at once (the paired form of the intervals in intervals.py; a bootstrap would repeat
clips and bias set-level metrics, see there). A set-level metric's difference is recomputed from features
on every subset; a per-clip metric's is the mean of the clip-by-clip differences. The p-value is the
t-test's of difference = 0 with the jackknife's standard error; `clips_needed` is how many clips would
detect a difference of this size at 80% power at the confidence level, from the standard error's 1/√N.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from aidbench.errors import UserError
from aidbench.metrics import intervals
from aidbench.metrics.protocols import Measured


@dataclass(frozen=True)
class Difference:
    metric: str
    a: float
    b: float
    delta: float  # a − b
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float | None  # None: too few clips for a spread
    clips: int
    # Clips the same difference would need to be detected at 80% power (None: no spread, or no difference).
    clips_needed: int | None
    interval: str

    def to_dict(self) -> dict:
        return asdict(self)


def _order(names: list[str], wanted: list[str]) -> np.ndarray:
    where = {name: i for i, name in enumerate(names)}
    return np.array([where[name] for name in wanted])


def difference(a: Measured, b: Measured, groups: int, confidence: float, seed: int = 0) -> Difference:
    """a − b for one metric measured on the same real clips and the same clip ids."""
    if a.name != b.name:
        raise ValueError(f"cannot difference {a.name} and {b.name}")
    if a.scores is not None:
        keys = sorted(a.scores)
        if sorted(b.scores) != keys:
            raise UserError(
                f"{a.name}: the two systems were scored on different clips; compare the same clips."
            )
        deltas = np.array([a.scores[k] - b.scores[k] for k in keys])

        def statistic(i: np.ndarray) -> float:
            return float(deltas[i].mean())

        clips = len(keys)
    else:
        real, fake_a = a.sets
        fake_b = b.sets[1]
        common = sorted(fake_a.names)
        if sorted(fake_b.names) != common or sorted(b.sets[0].names) != sorted(real.names):
            raise UserError(
                f"{a.name}: the two systems were scored on different clips; compare the same clips."
            )
        r, ia, ib = _order(real.names, common), _order(fake_a.names, common), _order(fake_b.names, common)
        rb = _order(b.sets[0].names, common)

        def statistic(i: np.ndarray) -> float:
            return a.statistic(r[i], ia[i]) - b.statistic(rb[i], ib[i])

        clips = len(common)
    delta = a.value - b.value
    spread = intervals.jackknife(statistic, (clips,), groups, seed)
    if spread is None:
        how = f"none: fewer than {intervals.MIN_CLIPS} matched clips"
        return Difference(a.name, a.value, b.value, delta, delta, delta, confidence, None, clips, None, how)
    low, high = spread.interval(delta, confidence)
    needed = None
    if spread.se > 0 and delta != 0:
        z = stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(0.8)
        needed = int(np.ceil(clips * (z * spread.se / abs(delta)) ** 2))
    how = f"paired grouped jackknife over {clips} matched clips, {min(groups, clips)} groups, t interval"
    return Difference(
        a.name, a.value, b.value, delta, low, high, confidence, spread.p_value(delta), clips, needed, how
    )
