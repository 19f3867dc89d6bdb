from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
# Tiny tensors: one thread is fastest, and on shared cores two threads made 3D convolutions ~100x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def isolated_paths(tmp_path, monkeypatch):
    """Every test writes under its own tmp folder: results, data and weights."""
    monkeypatch.setenv("AIDBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("AIDBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("AIDBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def one_thread():
    """Tiny 3D convolutions and attention run many times faster on one thread than on cores others share."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cli(capsys):
    """Run `aidbench ARGS` in-process through the real entry point; return its exit code and output."""
    from aidbench.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0
        else:
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_subprocess(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture(scope="session")
def i3d_weights(tmp_path_factory):
    """Random I3D weights with BatchNorm statistics calibrated on a batch (`i3d.calibrated_random`)."""
    import torch

    from aidbench.metrics.i3d import calibrated_random

    model = calibrated_random(seed=0)
    path = tmp_path_factory.mktemp("i3d") / "i3d_pretrained_400.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def golden_detectors(tmp_path_factory):
    """The conformance tests' detector files (tests/golden/make.py), built once per session."""
    from tests.golden import make

    return make.detectors(tmp_path_factory.mktemp("golden-weights"))
