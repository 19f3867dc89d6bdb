"""Kernel distances (KID, KVD): unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³.

As clean-fid's `kernel_distance` and the FVD paper's KVD: the estimate is averaged over random subsets
(default 100 subsets of at most 1000 samples), here drawn from a seeded generator, so a value never changes
from run to run.
"""

from __future__ import annotations

import numpy as np

from aidbench.errors import UserError


def mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two sample sets (sizes may differ): Seer's KVD on the full sets."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d, m, n = x.shape[1], x.shape[0], y.shape[0]
    if min(m, n) < 2:
        raise UserError(
            f"a kernel distance (KVD, KID) needs at least 2 clips on each side; got {m} real and {n} generated."
        )
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.sum() / (m * n)
    )


def kernel_distance(
    real: np.ndarray, fake: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> float:
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    m = min(real.shape[0], fake.shape[0], max_subset_size)
    if m < 2:
        raise UserError(
            f"a kernel distance (KVD, KID) needs at least 2 clips on each side; got {real.shape[0]} real and "
            f"{fake.shape[0]} generated."
        )
    if m == real.shape[0] == fake.shape[0]:  # every subset is both whole sets: each gives this one value
        return mmd2(real, fake)
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = real[rng.choice(real.shape[0], m, replace=False)]
        y = fake[rng.choice(fake.shape[0], m, replace=False)]
        total += mmd2(x, y)
    return total / num_subsets
