"""Something-Something v2: the instruction is the annotation's `label` ("Putting jar on a surface").

Two layouts, both as distributed or as Seer prepares them:
- official: <root>/labels/{train,validation,test}.json and videos <root>/20bn-something-something-v2/<id>.webm
  (or <root>/<id>.webm);
- Seer's rawframes: <root>/annotations/<split>.json and frames <root>/rawframes/<id>/*.jpg.
Annotation entries: {"id", "label", "template", "placeholders"}.
"""

from __future__ import annotations

from collections.abc import Iterator

from aidbench.data.dataset import ClipDataset, ClipRef, DatasetLayoutError, Rejected, UnsafePath, safe_join

VIDEO_FOLDERS = ("rawframes", "20bn-something-something-v2", "videos")


class SSv2(ClipDataset):
    name = "ssv2"
    layout = (
        "<root>/labels/<split>.json (or annotations/<split>.json) with videos in "
        "<root>/20bn-something-something-v2/<id>.webm or frames in <root>/rawframes/<id>/"
    )
    split_aliases = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}

    def index(self) -> Iterator[ClipRef | Rejected]:
        file = self.find_file(
            f"labels/{self.split}.json", f"annotations/{self.split}.json", f"{self.split}.json"
        )
        entries = self.read_json(file)
        if not isinstance(entries, list):
            raise DatasetLayoutError(
                f"{file} must hold a list of {{id, label, ...}} entries; expected {self.layout}"
            )
        folder = next((self.root / f for f in VIDEO_FOLDERS if (self.root / f).is_dir()), self.root)
        frames = folder.name == "rawframes"
        labelled = 0
        for number, entry in enumerate(entries):
            clip_id = str(entry.get("id", "")) if isinstance(entry, dict) else ""
            if not clip_id:
                yield Rejected(f"{file.name}[{number}]", "entry without an id")
                continue
            label = entry.get("label")
            if not isinstance(label, str) or not label.strip():
                yield Rejected(clip_id, "no label (instruction)")
                continue
            labelled += 1
            try:
                source = safe_join(folder, clip_id if frames else f"{clip_id}.webm")
            except UnsafePath as err:
                yield Rejected(clip_id, f"unsafe id: {err}")
                continue
            meta = {"template": entry.get("template"), "placeholders": entry.get("placeholders")}
            yield ClipRef(clip_id, label.strip(), source, meta=meta)
        if entries and not labelled:
            raise DatasetLayoutError(
                f"{file} has no labels, so no instructions (SSv2's test split is unlabelled)."
            )
