"""Fréchet distance at 2048-d (FID's size): ours against scipy's sqrtm and clean-fid, in one run."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from aidbench import environment
from aidbench.metrics.frechet import fit, frechet_distance


def run(dim: int = 2048, samples: int = 4096, rounds: int = 3, seed: int = 0) -> dict[str, Any]:
    import scipy.linalg
    from cleanfid import fid as cleanfid

    rng = np.random.default_rng(seed)
    a = fit(rng.standard_normal((samples, dim)))
    mixing = np.eye(dim) + 0.02 * rng.standard_normal((dim, dim))
    b = fit(rng.standard_normal((samples, dim)) @ mixing + 0.1)

    def scipy_fd() -> float:
        root = scipy.linalg.sqrtm(a.cov @ b.cov).real
        diff = a.mean - b.mean
        return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * np.trace(root))

    def clean() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's deprecated `disp` argument inside clean-fid
            return float(cleanfid.frechet_distance(a.mean, a.cov, b.mean, b.cov))

    timings: dict[str, list[float]] = {"ours": [], "scipy_sqrtm": [], "clean_fid": []}
    values: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in (
            ("ours", lambda: frechet_distance(a, b)),
            ("scipy_sqrtm", scipy_fd),
            ("clean_fid", clean),
        ):
            start = time.perf_counter()
            values[name] = fn()
            timings[name].append(time.perf_counter() - start)
    median = {k: float(np.median(v)) for k, v in timings.items()}
    return {
        "benchmark": "frechet-distance",
        "what": f"FD between two {dim}-d Gaussians fitted to {samples} samples each (float64)",
        "seconds": {k: round(v, 4) for k, v in median.items()},
        "speedup_vs_scipy_sqrtm": round(median["scipy_sqrtm"] / median["ours"], 1),
        "speedup_vs_clean_fid": round(median["clean_fid"] / median["ours"], 1),
        "values": values,
        "relative_difference_vs_scipy": abs(values["ours"] - values["scipy_sqrtm"]) / values["scipy_sqrtm"],
        "relative_difference_vs_clean_fid": abs(values["ours"] - values["clean_fid"]) / values["clean_fid"],
        "rounds": rounds,
        "device": environment.device("cpu"),
        "packages": {
            k: v for k, v in environment.package_versions().items() if k in ("numpy", "scipy", "clean-fid")
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
