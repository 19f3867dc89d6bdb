"""Feature cache: features of each clip stored under (extractor, clip content), so nothing is computed twice.

<root>/<extractor key>/meta.json       what the key stands for: metric family, protocol, weights sha256
<root>/<extractor key>/<clip sha256>.npz   that clip's features and its key (written atomically, loaded
                                           without pickle; a cut-off file or one holding another clip's
                                           features is computed again)
The extractor key hashes everything that changes a feature (protocol settings, detector weights); the
clip key hashes the clip's pixels, so a dataset, split or sampling change gives new entries by itself.
An interrupted evaluation resumes clip by clip.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aidbench import atomic, distributed
from aidbench.errors import UserError
from aidbench.progress import track

KEY_LENGTH = 24
_KEY = re.compile(f"[0-9a-f]{{{KEY_LENGTH}}}")
_PREFIX = re.compile(f"[0-9a-f]{{1,{KEY_LENGTH}}}")


def extractor_key(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()[
        :KEY_LENGTH
    ]


def clip_key(video: np.ndarray) -> str:
    digest = hashlib.sha256(str(video.shape).encode())
    digest.update(np.ascontiguousarray(video).tobytes())
    return digest.hexdigest()


def _read(folder: Path, key: str) -> np.ndarray | None:
    """A clip's cached features, or None (so they are computed again) when the file is missing, cut off,
    not ours, or holds another clip's features."""
    path = folder / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if stored["clip"].tobytes().decode() != key:
                return None
            features = stored["features"]
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, zipfile.BadZipFile):
        return None
    return features if np.isfinite(features).all() else None


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
        rows = [_read(folder, k) for k in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        mine = missing[distributed.rank() :: distributed.world_size()]
        for start in track(range(0, len(mine), batch_size), f"{label} ({len(mine)} to compute)"):
            chosen = mine[start : start + batch_size]
            computed = compute([videos[i] for i in chosen])
            for i, row in zip(chosen, computed, strict=True):
                buffer = io.BytesIO()
                clip = np.frombuffer(keys[i].encode(), np.uint8)
                np.savez(buffer, features=np.asarray(row, np.float64), clip=clip)
                atomic.write_bytes(folder / f"{keys[i]}.npz", buffer.getvalue())
        distributed.barrier()
        for i in missing:  # what this process or another one computed just now
            rows[i] = _read(folder, keys[i])
        if any(r is None for r in rows) or len({r.shape for r in rows}) > 1:
            raise UserError(
                f"the feature cache {folder} changed while it was read; run the evaluation again."
            )
        return np.stack(rows) if keys else np.zeros((0,))

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for meta in sorted(self.root.glob("*/meta.json")) if self.root.is_dir() else []:
            files = list(meta.parent.glob("*.npz"))
            out.append(
                {
                    "key": meta.parent.name,
                    "clips": len(files),
                    "bytes": sum(f.stat().st_size for f in files),
                    **json.loads(meta.read_text()),
                }
            )
        return out

    def keys(self) -> list[str]:
        """The extractor keys present: folders of the root named like a key, nothing else."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _KEY.fullmatch(p.name))

    def remove(self, prefix: str | None) -> list[str]:
        """Remove the entries whose key starts with `prefix` (hex digits only), or every entry for None."""
        if prefix is not None and not _PREFIX.fullmatch(prefix):
            raise UserError(
                f"'{prefix}' is no cache key: keys are {KEY_LENGTH} hex digits (see `aidbench stats ls`); "
                "use --all to empty the cache."
            )
        matches = [k for k in self.keys() if prefix is None or k.startswith(prefix)]
        for key in matches:
            shutil.rmtree(self.root / key)
        return matches
