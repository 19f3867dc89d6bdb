"""`aidbench doctor`: versions, devices, and which weights and datasets are found where."""

from __future__ import annotations

from typing import Any

from aidbench import environment, registry, weights
from aidbench.config import Config
from aidbench.data.open import EMBEDDED, dataset_root


def diagnose(config: Config) -> dict[str, Any]:
    try:
        device: dict[str, Any] | str = environment.device(config.device)
    except ImportError as err:
        device = f"torch cannot be imported: {err}"
    found_weights = {}
    for name, weight in weights.KNOWN.items():
        path = weights.locate(name, config.paths.weights)
        found_weights[name] = {
            "found": str(path) if path else None,
            "searched": [str(p) for p in weights.candidates(weight, config.paths.weights)],
            "used_by": weight.used_by,
        }
    datasets = {}
    for name in registry.names("dataset"):
        if name in EMBEDDED:
            datasets[name] = {"found": "embedded", "searched": []}
            continue
        root = dataset_root(config, name)
        datasets[name] = {"found": str(root) if root.is_dir() else None, "searched": [str(root)]}
    return {
        "aidbench": environment.package_versions(("aidbench",))["aidbench"],
        **environment.python_platform(),
        "git": environment.git_state(),
        "packages": environment.package_versions(),
        "device": device,
        "paths": {
            "results": config.paths.results,
            "data": config.paths.data,
            "weights": config.paths.weights,
        },
        "weights": found_weights,
        "datasets": datasets,
    }


def render(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"aidbench {report['aidbench']} · Python {report['python']} · {report['platform']}")
    git = report["git"]
    console.print(
        f"git: {git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else "git: not a checkout"
    )
    device = report["device"]
    if isinstance(device, dict):
        gpus = ", ".join(device.get("gpus", [])) or "none"
        console.print(
            f"device: {device['kind']} · torch {device['torch']} · CUDA build {device['cuda_build']} · GPUs: {gpus}"
        )
    else:
        console.print(f"device: {device}")
    packages = Table("package", "version", title="packages")
    for name, version in report["packages"].items():
        packages.add_row(name, version or "[red]not installed[/red]")
    console.print(packages)
    found = Table("weights", "found at", "used by", title=f"weights (folder: {report['paths']['weights']})")
    for name, info in report["weights"].items():
        where = info["found"] or "[yellow]missing[/yellow] — looked in " + ", ".join(info["searched"])
        found.add_row(name, where, info["used_by"])
    console.print(found)
    data = Table("dataset", "found at", title=f"datasets (folder: {report['paths']['data']})")
    for name, info in report["datasets"].items():
        data.add_row(
            name, info["found"] or "[yellow]missing[/yellow] — looked in " + ", ".join(info["searched"])
        )
    console.print(data)
