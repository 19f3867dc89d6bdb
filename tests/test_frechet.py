from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
from cleanfid import fid as cleanfid

from aidbench.metrics import frechet, kernel


def _features(n, d, seed, shift=0.0, mix=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    if mix:
        x = x @ (np.eye(d) + mix * rng.standard_normal((d, d)))
    return x + shift


def _scipy_distance(ga, gb):
    root = scipy.linalg.sqrtm(ga.cov @ gb.cov).real
    diff = ga.mean - gb.mean
    return diff @ diff + np.trace(ga.cov) + np.trace(gb.cov) - 2 * np.trace(root)


@pytest.mark.parametrize(("n", "d"), [(300, 64), (500, 200), (90, 16)])
def test_matches_scipy_sqrtm_and_clean_fid(n, d):
    a, b = _features(n, d, 0), _features(n, d, 1, shift=0.3, mix=0.2)
    ga, gb = frechet.fit(a), frechet.fit(b)
    ours = frechet.frechet_distance(ga, gb)
    assert ours == pytest.approx(_scipy_distance(ga, gb), rel=1e-9)
    assert ours == pytest.approx(cleanfid.frechet_distance(ga.mean, ga.cov, gb.mean, gb.cov), rel=1e-9)


def test_rank_deficient_covariances_warn_and_still_agree():
    a, b = _features(40, 64, 2), _features(40, 64, 3, shift=0.1)
    with pytest.warns(frechet.RankDeficientWarning, match="40 samples for 64-d features"):
        ga, gb = frechet.fit(a), frechet.fit(b)
    assert frechet.frechet_distance(ga, gb) == pytest.approx(_scipy_distance(ga, gb), rel=1e-6)


def test_distance_properties():
    a = _features(200, 8, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = frechet.frechet_distance(frechet.fit(a), frechet.fit(a))
    assert same == pytest.approx(0.0, abs=1e-9)
    near = frechet.frechet_distance(frechet.fit(a), frechet.fit(a + 0.1))
    far = frechet.frechet_distance(frechet.fit(a), frechet.fit(a + 1.0))
    assert near == pytest.approx(8 * 0.01, rel=1e-6) and far == pytest.approx(8.0, rel=1e-6)


def test_population_and_sample_covariance():
    a = _features(50, 4, 5)
    assert np.allclose(frechet.fit(a, ddof=0).cov * 50, frechet.fit(a, ddof=1).cov * 49)


def test_non_finite_features_name_the_videos():
    a = _features(10, 4, 6)
    a[3, 1] = np.nan
    a[7, 0] = np.inf
    names = [f"clip{i}" for i in range(10)]
    with pytest.raises(frechet.NonFiniteFeatures, match="clip3, clip7"):
        frechet.fit(a, names=names)


def test_kernel_distance_matches_clean_fid_and_is_deterministic():
    a, b = _features(120, 32, 7), _features(120, 32, 8, shift=0.2)
    # With one subset of every sample the random choice is only a permutation: both must agree exactly.
    ours = kernel.kernel_distance(a, b, num_subsets=1, max_subset_size=120)
    assert ours == pytest.approx(
        cleanfid.kernel_distance(a, b, num_subsets=1, max_subset_size=120), rel=1e-12
    )
    assert kernel.kernel_distance(a, b, seed=3) == kernel.kernel_distance(a, b, seed=3)
    assert kernel.kernel_distance(a, a + 1.0) > 10 * abs(kernel.kernel_distance(a, _features(120, 32, 9)))


def test_full_set_mmd_is_the_unbiased_estimate_seer_computes():
    a, b = _features(30, 6, 10), _features(25, 6, 11, shift=0.5)

    def k(u, v):  # sklearn's polynomial_kernel defaults: degree 3, gamma 1/d, coef0 1
        return (sum(p * q for p, q in zip(u, v, strict=True)) / 6 + 1) ** 3

    xx = sum(k(a[i], a[j]) for i in range(30) for j in range(30) if i != j) / (30 * 29)
    yy = sum(k(b[i], b[j]) for i in range(25) for j in range(25) if i != j) / (25 * 24)
    xy = sum(k(a[i], b[j]) for i in range(30) for j in range(25)) / (30 * 25)
    assert kernel.mmd2(a, b) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_a_negative_residual_is_shown_not_clamped_to_zero():
    """A covariance that is not positive semi-definite (an upstream bug) must show, not read as a perfect 0."""
    good = frechet.Gaussian(np.zeros(3), np.eye(3), 10)
    broken = frechet.Gaussian(np.zeros(3), -2 * np.eye(3), 10)
    assert frechet.frechet_distance(good, broken) == pytest.approx(3 - 6, abs=1e-12)
