"""The golden files of the conformance tests against the reference pipelines run now (slow: every
reference network runs again), so a package upgrade or another machine that moves a golden number shows."""

from __future__ import annotations

import json

import pytest

from tests.golden import make


@pytest.mark.slow
def test_the_golden_numbers_are_what_the_reference_pipelines_compute_here(golden_detectors, tmp_path):
    """expected.json against the reference pipelines run now, on this machine and these package versions."""
    expected = json.loads(make.EXPECTED.read_text())
    values = make.reference(golden_detectors, tmp_path)
    assert values.keys() == expected.keys()
    for key, value in values.items():
        assert value == pytest.approx(expected[key], rel=1e-5, abs=1e-12), key
