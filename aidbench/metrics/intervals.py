"""Confidence intervals over clips, and the paired difference of two systems.

Per-clip metrics (PSNR, accuracies, CLIPSIM) are means: their interval is the percentile bootstrap
(scipy.stats.bootstrap, seeded), whose coverage of a mean is near nominal at tens of clips.

Set-level metrics (FVD, KVD, FID, KID) are not means, and the bootstrap fails on them: a resample drawn
with replacement repeats clips, a set with repeats has fewer distinct clips, and FVD's upward bias grows
as the distinct clips shrink, so nearly every bootstrap replicate lies above the estimate and the
percentile interval misses the metric's level altogether (simulated with 400-d Gaussian features:
0 of 100 intervals covered it at 32 clips a side). The grouped jackknife deletes clips instead of
repeating them: the clips of each side are dealt into G groups at random, the metric is recomputed with one
group left out at a time, and the spread of those G values estimates the metric's variance; the two sides
are independent samples, so their variances add. The jackknife variance is conservative (Efron and
Stein, 1981). The interval is value ± t·se with Welch–Satterthwaite's degrees of freedom. It is an interval
for the metric's expected value at these clip counts, which is what two systems scored on the same number
of clips are compared by; FVD's value at infinitely many clips is lower by a bias of order d/N.
tests/test_intervals.py measures the coverage of every set-level metric by simulation.

The recomputations run with one BLAS thread: on shared cores OpenBLAS's own threads made one 400-d
Fréchet distance 13× slower, and the metrics' float64 results do not depend on the thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

# Fewer clips than this on a side leave a group-deleted set too small for a covariance: no interval.
MIN_CLIPS = 4


def mean_interval(values, resamples: int, confidence: float, seed: int = 0) -> tuple[float, float]:
    values = np.asarray(values, np.float64)
    if resamples == 0 or len(values) < 2 or np.all(values == values[0]):
        return float(values.mean()), float(values.mean())
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class Spread:
    """A statistic's jackknife standard error and its degrees of freedom."""

    se: float
    df: float

    def interval(self, value: float, confidence: float) -> tuple[float, float]:
        half = float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se if self.se > 0 else 0.0
        return value - half, value + half

    def p_value(self, value: float) -> float:
        """Two-sided p-value of `value` against 0 (for a difference)."""
        if self.se == 0:
            return 1.0 if value == 0 else 0.0
        return float(2 * stats.t.sf(abs(value) / self.se, self.df))


def jackknife(
    statistic: Callable[..., float], sizes: tuple[int, ...], groups: int, seed: int = 0
) -> Spread | None:
    """The grouped jackknife's spread of statistic(*index_arrays), one index array per independent side
    (real and generated clips; a single side of matched clips for a paired difference). None when a side
    has fewer than MIN_CLIPS clips or `groups` is 0."""
    if groups == 0 or min(sizes) < MIN_CLIPS:
        return None
    rng = np.random.default_rng(seed)
    full = [np.arange(n) for n in sizes]
    parts: list[tuple[float, int]] = []
    with threadpool_limits(limits=1, user_api="blas"):
        for side, n in enumerate(sizes):
            g = min(groups, n)
            values = []
            for left_out in np.array_split(rng.permutation(n), g):
                kept = list(full)
                kept[side] = np.setdiff1d(full[side], left_out)
                values.append(statistic(*kept))
            values = np.asarray(values, np.float64)
            parts.append(((g - 1) / g * float(((values - values.mean()) ** 2).sum()), g - 1))
    variance = sum(v for v, _ in parts)
    if variance == 0:
        return Spread(0.0, float(min(d for _, d in parts)))
    df = variance**2 / sum(v**2 / d for v, d in parts if v > 0)
    return Spread(float(np.sqrt(variance)), float(df))


def jackknife_interval(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    value: float,
    n_real: int,
    n_fake: int,
    groups: int,
    confidence: float,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Interval of a set-level metric statistic(real_indices, fake_indices) around its `value`."""
    spread = jackknife(statistic, (n_real, n_fake), groups, seed)
    return None if spread is None else spread.interval(value, confidence)
