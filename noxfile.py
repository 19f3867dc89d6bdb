"""Sessions: tests, lint, demo (the smoke preset), report.

The sessions that need torch share one environment, .nox/torch, so the 6 GB stack is installed once per
checkout; it is reinstalled only when pyproject.toml changes. `lint` installs ruff alone.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
TORCH_ENV = ROOT / ".nox" / "torch"
# torch and torchvision must come as a pair that imports together (torchvision's C++ ops match torch).
TORCH_PINS = ("torch==2.14.1", "torchvision==0.29.1")


def _torch_env(session: nox.Session) -> Path:
    """Create or update the shared environment; return its bin folder."""
    bin_dir = TORCH_ENV / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    stamp = TORCH_ENV / ".installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + "".join(TORCH_PINS).encode()).hexdigest()
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(TORCH_ENV), external=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        pip = (str(python), "-m", "pip", "install", "--disable-pip-version-check")
        session.run(*pip, *TORCH_PINS, external=True)
        session.run(*pip, "-e", f"{ROOT}[dev]", *TORCH_PINS, external=True)
        stamp.write_text(wanted)
    return bin_dir


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The test suite (pytest) on one worker per core; extra arguments go to pytest, e.g. `nox -s tests -- -k
    config` (`-n 0` runs it in one process)."""
    bin_dir = _torch_env(session)
    # Each test uses one thread (tests/conftest.py), so a worker per core halves the wall time on two cores.
    workers = (
        [] if any(arg.startswith("-n") for arg in session.posargs) else ["-n", "auto", "--dist", "worksteal"]
    )
    session.run(
        str(bin_dir / "python"),
        "-m",
        "pytest",
        *workers,
        *session.posargs,
        external=True,
        env={"HF_HUB_OFFLINE": "1"},
    )


@nox.session(venv_backend="none")
def demo(session: nox.Session) -> None:
    """The main job: `aidbench reproduce --preset smoke`."""
    bin_dir = _torch_env(session)
    session.run(str(bin_dir / "aidbench"), "reproduce", "--preset", "smoke", *session.posargs, external=True)


@nox.session(venv_backend="none")
def report(session: nox.Session) -> None:
    """Regenerate the report for a preset (default smoke): `nox -s report -- --preset paper-ssv2`."""
    bin_dir = _torch_env(session)
    args = session.posargs or ["--preset", "smoke"]
    session.run(str(bin_dir / "aidbench"), "report", *args, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
