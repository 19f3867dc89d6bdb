"""Confidence intervals by bootstrap over clips (scipy.stats.bootstrap, percentile method, seeded).

Per-clip metrics resample the clip scores; distribution metrics (FVD, FID, KVD) resample real and
generated clips independently and recompute the distance each time. The percentile method is used
throughout: BCa breaks down on degenerate scores (e.g. every clip correct).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats


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


def two_sample_interval(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    n_real: int,
    n_fake: int,
    resamples: int,
    confidence: float,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval of statistic(real_indices, fake_indices) under independent resampling of both sides."""
    if resamples == 0:
        value = statistic(np.arange(n_real), np.arange(n_fake))
        return value, value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resamples repeat clips: rank warnings say nothing new here
        result = stats.bootstrap(
            (np.arange(n_real), np.arange(n_fake)),
            statistic,
            paired=False,
            vectorized=False,
            n_resamples=resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
