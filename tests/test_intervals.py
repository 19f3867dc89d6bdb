"""The intervals cover what they claim to, measured by simulation on Gaussian features."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from aidbench import registry
from aidbench.metrics import intervals
from aidbench.metrics.protocols import FrameDistance, VideoDistance, frame_statistic, video_statistic

CLIPS, DIM, FRAMES = 40, 8, 3


def _set_level_metrics():
    for name in registry.names("metric"):
        metric = registry.load("metric", name)
        if isinstance(metric, (VideoDistance, FrameDistance)):
            yield name, metric


def _statistic(metric, real, fake):
    if isinstance(metric, FrameDistance):  # KID over 10 random subsets instead of 100: ten times faster
        return frame_statistic(metric.kind, real, fake, seed=0, subsets=10)
    return video_statistic(metric.kind, real, fake, metric.protocol.ddof)


def _draw(rng, shifted: bool, frames: bool):
    shape = (CLIPS, FRAMES, DIM) if frames else (CLIPS, DIM)
    real = rng.normal(size=shape)
    fake = rng.normal(size=shape) * (1.5 if shifted else 1.0) + (0.5 if shifted else 0.0)
    return real, fake


@pytest.mark.parametrize("shifted", [False, True], ids=["same distribution", "shifted"])
@pytest.mark.parametrize("name", [n for n, _ in _set_level_metrics()])
def test_the_jackknife_interval_of_every_set_level_metric_covers_its_level(name, shifted):
    """The level is the metric's expected value at these clip counts (the mean of 1000 independent draws);
    the 95% interval must hold it in about 95 of 100 draws, where the percentile bootstrap held it in none.
    Between two samples of one distribution the jackknife is conservative (up to every interval)."""
    metric = registry.load("metric", name)
    frames = isinstance(metric, FrameDistance)
    every = (np.arange(CLIPS), np.arange(CLIPS))
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        level = np.mean([_statistic(metric, *_draw(rng, shifted, frames))(*every) for _ in range(1000)])
        hits, runs = 0, 100 if frames and metric.kind == "kid" else 200
        for run in range(runs):
            statistic = _statistic(metric, *_draw(rng, shifted, frames))
            low, high = intervals.jackknife_interval(
                statistic, statistic(*every), CLIPS, CLIPS, 20, 0.95, run
            )
            hits += low <= level <= high
    coverage = hits / runs
    assert coverage >= 0.88, f"{name}: {hits} of {runs} intervals hold the level {level:.4f}"
    assert coverage <= 0.985 or not shifted, f"{name}: {hits} of {runs}: intervals wider than they need be"


def test_the_bootstrap_interval_of_a_mean_covers_it():
    rng = np.random.default_rng(3)
    hits, runs = 0, 300
    for run in range(runs):
        scores = (rng.random(48) < 0.3).astype(float)
        low, high = intervals.mean_interval(scores, 500, 0.95, seed=run)
        hits += low <= 0.3 <= high
    assert 0.90 <= hits / runs <= 0.99, hits


def test_too_few_clips_give_no_interval_and_a_spread_knows_its_p_value():
    assert intervals.jackknife(lambda i, j: 0.0, (3, 10), 20) is None
    assert intervals.jackknife(lambda i, j: 0.0, (10, 10), 0) is None
    spread = intervals.Spread(se=1.0, df=30)
    low, high = spread.interval(2.0, 0.95)
    assert low == pytest.approx(2.0 - 2.042, abs=1e-3) and high == pytest.approx(2.0 + 2.042, abs=1e-3)
    assert spread.p_value(0.0) == 1.0 and spread.p_value(2.042) == pytest.approx(0.05, abs=1e-3)


def test_a_set_level_metric_of_k_samples_is_also_computed_over_all_of_them_pooled():
    from aidbench.metrics.protocols import CARD_FIELDS, Context, Metric, set_level
    from aidbench.metrics.videoset import VideoSet

    class MeanGap(Metric):
        """|mean pixel of the real clips − mean pixel of the generated ones|: a set-level metric by hand."""

        name = "mean-gap"

        def measure(self, real, fake, ctx):
            a = np.array([v.mean() for v in real.videos])
            b = np.array([v.mean() for v in fake.videos])
            return set_level(
                self.name,
                lambda i, j: abs(a[i].mean() - b[j].mean()),
                (real, fake),
                protocol={},
                weights_sha256={},
                steps=dict.fromkeys(CARD_FIELDS, ""),
            )

    rng = np.random.default_rng(0)
    names = [f"clip{i}" for i in range(12)]

    def clips(level):
        return [np.full((2, 4, 4, 3), level + rng.integers(0, 20), np.uint8) for _ in names]

    real = VideoSet(None, names, clips(100))
    first, second = clips(110), clips(130)
    fake = VideoSet(None, names, first, more=[VideoSet(None, names, second)])
    record = MeanGap().compute(real, fake, Context(jackknife_groups=6))
    pooled = record.samples["pooled"]
    everything = np.mean([v.mean() for v in first + second])
    assert record.samples["k"] == 2
    assert pooled["value"] == pytest.approx(abs(np.mean([v.mean() for v in real.videos]) - everything))
    assert record.value < pooled["value"]  # the second samples are further from the real clips
    assert pooled["ci_low"] < pooled["value"] < pooled["ci_high"]
