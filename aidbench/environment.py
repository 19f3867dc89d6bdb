"""What a result depends on besides its config: package versions, the code's git commit, the device.

Versions come from package metadata, so nothing is imported to read them; only `device()` imports torch.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from aidbench.errors import UserError

# The distributions whose versions can change a number we report.
TRACKED_PACKAGES = (
    "aidbench",
    "torch",
    "torchvision",
    "diffusers",
    "transformers",
    "accelerate",
    "safetensors",
    "open_clip_torch",
    "clean-fid",
    "cd-fvd",
    "scipy",
    "numpy",
    "pandas",
    "decord",
    "av",
    "pydantic",
)

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(root: Path = SOURCE_ROOT) -> dict[str, Any] | None:
    """The commit of the code that runs and whether it has uncommitted changes; None outside a checkout."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None  # installed inside some other repository: its commit says nothing about ours
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def python_platform() -> dict[str, str]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine()}


def cpu() -> dict[str, Any]:
    """The CPU's model name and vector extensions (from /proc/cpuinfo where there is one): speeds and
    floating-point trajectories are comparable only on the same kind."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
            if flags and model:
                break
    except OSError:
        pass
    vector = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return {"model": model, "vector_extensions": vector, "cores": os.cpu_count()}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the system keeps none): a busy machine's timings
    are not comparable with a quiet one's."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def device(requested: str = "auto") -> dict[str, Any]:
    """The device a stage runs on: kind, name and count of accelerators, and torch's build."""
    import torch

    cuda = torch.cuda.is_available()
    if requested == "cuda" and not cuda:
        raise UserError(
            "the config asks for device cuda, but torch sees no GPU; use --set device=cpu or auto."
        )
    kind = "cuda" if requested == "cuda" or (requested == "auto" and cuda) else "cpu"
    info: dict[str, Any] = {
        "kind": kind,
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cpu_threads": torch.get_num_threads(),
        "cpu": cpu(),
    }
    if cuda:
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def quiet_loading() -> None:
    """diffusers' and transformers' per-file loading bars off: aidbench reports its own progress, and a
    run's stderr is kept for what went wrong."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
