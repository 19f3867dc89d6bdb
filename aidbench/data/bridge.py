"""BridgeData v2 as Seer prepares it: one folder of frames per trajectory, the task folder names the task.

Layout: <root>/rawframes/<task>/<trajectory>/**/*.jpg. The order of trajectories is Seer's list
<root>/path_id_bridgedata.txt (a JSON list of "<task>/<trajectory>") when present, otherwise the sorted
folder listing; the first 80% train, the last 20% evaluate. Instruction: the task folder name with
"_distractors" dropped and "_" / "-" turned into spaces ("put_carrot_in_bowl" → "put carrot in bowl").
"""

from __future__ import annotations

from collections.abc import Iterator

from aidbench.data.dataset import ClipDataset, ClipRef, DatasetLayoutError, Rejected, UnsafePath, safe_join

TRAIN_FRACTION = 0.8
LIST_FILE = "path_id_bridgedata.txt"


def instruction_from_task(task: str) -> str:
    return task.strip().replace("_distractors", "").replace("_", " ").replace("-", " ").strip()


class Bridge(ClipDataset):
    name = "bridge"
    layout = (
        "<root>/rawframes/<task>/<trajectory>/ holding the frames (*.jpg), optionally with "
        f"<root>/{LIST_FILE} listing '<task>/<trajectory>' in Seer's order"
    )

    def _listed(self) -> list[str]:
        listing = self.root / LIST_FILE
        if listing.is_file():
            paths = self.read_json(listing)
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise DatasetLayoutError(f"{listing} must be a JSON list of '<task>/<trajectory>' strings.")
            return paths
        frames = self.root / "rawframes"
        if not frames.is_dir():
            raise DatasetLayoutError(f"bridge: {frames} does not exist; expected {self.layout}")
        return [
            f"{task.name}/{trajectory.name}"
            for task in sorted(p for p in frames.iterdir() if p.is_dir())
            for trajectory in sorted(p for p in task.iterdir() if p.is_dir())
        ]

    def index(self) -> Iterator[ClipRef | Rejected]:
        paths = self._listed()
        cut = int(TRAIN_FRACTION * len(paths))
        chosen = paths[:cut] if self.split == "train" else paths[cut:]
        for path in chosen:
            try:
                source = safe_join(self.root / "rawframes", path)
            except UnsafePath as err:
                yield Rejected(path, f"unsafe path: {err}")
                continue
            task = path.split("/")[0]
            yield ClipRef(path, instruction_from_task(task), source, meta={"task": task})
