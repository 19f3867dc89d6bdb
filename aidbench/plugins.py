"""Systems from outside aidbench: your own video predictor, scored on the same protocols as AID.

A system name that aidbench does not register is looked up, in this order, as
- `diffusers:FOLDER`: a diffusers image-to-video pipeline saved with `save_pretrained`
  (baselines/diffusers_pipeline.py), no code needed;
- `package.module:attribute`: a predictor (predictor.py) importable from the current environment;
- an entry point in the group `aidbench.systems` of an installed package, by its name:
      [project.entry-points."aidbench.systems"]
      my-model = "my_package.predict:MyModel"

Each becomes a `System` that samples through the shared loop (stages/sample.py) and needs no training;
its samples record the name, so eval, compare, report and the leaderboard treat it like any other.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

from aidbench.registry import Entry

GROUP = "aidbench.systems"
DIFFUSERS = "diffusers:"
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def installed() -> dict[str, metadata.EntryPoint]:
    """The `aidbench.systems` entry points of the installed packages, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def names() -> list[str]:
    return sorted(installed())


def entry(name: str) -> Entry | None:
    """The registry entry of an outside system, or None when `name` is none of the three forms."""
    if name.startswith(DIFFUSERS):
        folder = name[len(DIFFUSERS) :]
        return Entry(
            "system",
            name,
            f"diffusers pipeline folder {folder}",
            target="aidbench.baselines.diffusers_pipeline:DiffusersPipeline",
            external=True,
            argument=folder,
        )
    found = installed().get(name)
    if found is not None:
        return Entry("system", name, describe(found), target=found.value, external=True)
    if _TARGET.match(name):
        return Entry("system", name, f"predictor {name}", target=name, external=True)
    return None


def describe(found: metadata.EntryPoint) -> str:
    """An installed plugin in one line: its target and the package that ships it."""
    source = f" ({found.dist.name} {found.dist.version})" if found.dist else ""
    return f"plugin {found.value}{source}"


def label(name: str) -> str:
    """The name a system's samples record: `diffusers:` and the folder's own name, or the name itself."""
    if name.startswith(DIFFUSERS):
        return DIFFUSERS + Path(name[len(DIFFUSERS) :]).name
    return name


def source(name: str) -> dict[str, Any]:
    """Where an outside system's code comes from: its package and version where one is installed."""
    found = installed().get(name)
    if found is not None and found.dist is not None:
        return {"package": found.dist.name, "version": found.dist.version, "target": found.value}
    if name.startswith(DIFFUSERS):
        return {"package": "diffusers", "version": metadata.version("diffusers")}
    module = name.partition(":")[0].split(".")[0]
    try:
        distribution = metadata.packages_distributions().get(module, [None])[0]
        version = metadata.version(distribution) if distribution else None
    except metadata.PackageNotFoundError:
        distribution = version = None
    return {"package": distribution, "version": version, "target": name}
