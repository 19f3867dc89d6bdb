"""The installed package must hold every module of the source tree (a wheel ships only listed packages)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_every_source_package_is_listed_in_pyproject():
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(settings["packages"])
    mapping = settings["package-dir"]
    found = set()
    for name, folder in mapping.items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    assert found == listed


def test_no_source_file_is_ignored_by_git():
    import subprocess

    ignored = subprocess.run(
        [
            "git",
            "-C",
            str(REPO),
            "ls-files",
            "--others",
            "--ignored",
            "--exclude-standard",
            "aidbench",
            "model",
            "baselines",
            "tests",
            "results/paper",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [f for f in ignored if f.endswith((".py", ".yaml", ".csv"))] == []
