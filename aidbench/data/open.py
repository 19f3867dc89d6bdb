"""From a config to a dataset: where its root is, which adapter reads it, how clips are sampled."""

from __future__ import annotations

from pathlib import Path

from aidbench import registry
from aidbench.config import Config
from aidbench.data.clips import ClipSampling
from aidbench.data.dataset import ClipDataset

# Datasets generated in code: they need nothing on disk.
EMBEDDED = {"synthtvp"}


def dataset_root(config: Config, name: str) -> Path:
    """data.root when it belongs to this dataset, else <paths.data>/<name>."""
    if config.data.root and config.data.dataset == name:
        return Path(config.data.root).expanduser()
    return Path(config.paths.data).expanduser() / name


def open_dataset(
    config: Config, split: str, root: str | Path | None = None, name: str | None = None
) -> ClipDataset:
    name = name or config.data.dataset
    adapter = registry.load("dataset", name)
    kwargs = (
        {"seed": config.seed, "task": config.data.synthtvp_task, "domain": config.data.synthtvp_domain}
        if name in EMBEDDED
        else {}
    )
    return adapter(
        root if root is not None else dataset_root(config, name),
        split,
        ClipSampling.from_config(config.data),
        max_clips=_clip_cap(config, split),
        max_bad_fraction=config.data.max_corrupt_fraction,
        **kwargs,
    )


def _clip_cap(config: Config, split: str) -> int | None:
    """data.train_clips for the training split when it is set, else data.max_clips."""
    if config.data.train_clips is not None and split == config.data.train_split:
        return config.data.train_clips
    return config.data.max_clips
