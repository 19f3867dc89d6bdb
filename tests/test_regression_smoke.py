"""CI's fast regression check: a short variant of the smoke preset runs every stage, and `aidbench check`
compares its numbers with the curated records committed for exactly this variant
(results/curated/smoke-fast; results/curated/README.md says how they were made). The curated numbers
come from five seeds, and each margin from their spread: this run is one seed on whatever CPU CI has,
and another CPU moves the numbers as another seed does."""

from __future__ import annotations

import json

import pytest

from tests import settings
from tests.conftest import REPO

# The variant the curated records were made with: fewer steps and clips than the smoke preset, the same code.
# The systems the curated records hold (the copy baselines came later and are not curated).
FAST = settings.args(
    "train.base_steps=100",
    "train.max_steps=60",
    "data.max_clips=16",
    "data.train_clips=512",
    "systems=[aid,svd-zeroshot,svd-fullft,vae-recon]",
)
CURATED = REPO / "results/curated/smoke-fast"


@pytest.mark.slow
def test_the_fast_smoke_variant_has_not_regressed(cli, tmp_path):
    done = cli("reproduce", *FAST, "--run-id", "fast")
    assert done.code == 0, done
    summary = tmp_path / "results/reports/smoke/summary.json"
    checked = cli("check", "--against", str(CURATED), "--summary", str(summary))
    assert checked.code == 0, checked.out + checked.err
    assert "no regression" in checked.out
    # every curated system and metric was compared (a vanished one would have failed above)
    curated = json.loads((CURATED / "summary.json").read_text())
    assert curated["curated"]["measured"] is True and curated["curated"]["cpu"]["model"]
    assert len(curated["seeds"]) >= 5
    assert set(json.loads(summary.read_text())["systems"]) == set(curated["systems"])
