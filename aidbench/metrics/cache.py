"""Feature cache: features of each clip stored under (extractor, clip content), so nothing is computed twice.

<root>/<extractor key>/meta.json       what the key stands for: metric family, protocol, weights sha256
<root>/<extractor key>/<clip sha256>.npy   that clip's features (written atomically, loaded without pickle)
The extractor key hashes everything that changes a feature (protocol settings, detector weights); the
clip key hashes the clip's pixels, so a dataset, split or sampling change gives new entries by itself.
An interrupted evaluation resumes clip by clip.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aidbench import atomic, distributed
from aidbench.progress import track


def extractor_key(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[:24]


def clip_key(video: np.ndarray) -> str:
    digest = hashlib.sha256(str(video.shape).encode())
    digest.update(np.ascontiguousarray(video).tobytes())
    return digest.hexdigest()


@dataclass
class FeatureCache:
    root: Path

    def features(
        self,
        description: dict[str, Any],
        videos: Sequence[np.ndarray],
        compute: Callable[[list[np.ndarray]], np.ndarray],
        batch_size: int = 8,
        label: str = "features",
    ) -> np.ndarray:
        """Features of every video (rows in order); only clips not yet cached are computed."""
        folder = self.root / extractor_key(description)
        meta = folder / "meta.json"
        if not meta.is_file():
            atomic.write_json(meta, description)
        keys = [clip_key(v) for v in videos]
        # Several processes: each computes its share of what is missing, then all read everything.
        distributed.barrier()  # every process sees the same missing list
        missing = [i for i, k in enumerate(keys) if not (folder / f"{k}.npy").is_file()]
        missing = missing[distributed.rank() :: distributed.world_size()]
        for start in track(range(0, len(missing), batch_size), f"{label} ({len(missing)} to compute)"):
            chosen = missing[start : start + batch_size]
            rows = compute([videos[i] for i in chosen])
            for i, row in zip(chosen, rows, strict=True):
                buffer = io.BytesIO()
                np.save(buffer, np.asarray(row, np.float64), allow_pickle=False)
                atomic.write_bytes(folder / f"{keys[i]}.npy", buffer.getvalue())
        distributed.barrier()
        return (
            np.stack([np.load(folder / f"{k}.npy", allow_pickle=False) for k in keys])
            if keys
            else np.zeros((0,))
        )

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for meta in sorted(self.root.glob("*/meta.json")) if self.root.is_dir() else []:
            files = list(meta.parent.glob("*.npy"))
            out.append(
                {
                    "key": meta.parent.name,
                    "clips": len(files),
                    "bytes": sum(f.stat().st_size for f in files),
                    **json.loads(meta.read_text()),
                }
            )
        return out

    def remove(self, key: str) -> list[str]:
        matches = [p for p in self.root.glob(f"{key}*") if p.is_dir()] if self.root.is_dir() else []
        for path in matches:
            shutil.rmtree(path)
        return [p.name for p in matches]
