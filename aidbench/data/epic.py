"""Epic-Kitchens-100 action segments, the `narration` as instruction ("pick up knife").

Layout: <root>/EPIC_100_{train,validation}.csv (or <root>/annotations/…) and frames
<root>/[EPIC-KITCHENS/]<participant>/rgb_frames/<video_id>/frame_%010d.jpg. A segment runs from
start_frame to stop_frame inclusive. Under uniform sampling, segments of 100 frames or more are first
thinned to every ((stop - start) // 100)-th frame, as Seer does, then resampled to the clip length.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from aidbench.data.dataset import ClipDataset, ClipRef, DatasetLayoutError, Rejected, UnsafePath, safe_join

REQUIRED_COLUMNS = ("narration_id", "participant_id", "video_id", "narration", "start_frame", "stop_frame")


class Epic(ClipDataset):
    name = "epic"
    layout = (
        "<root>/EPIC_100_<split>.csv (or annotations/EPIC_100_<split>.csv) and frames "
        "<root>/[EPIC-KITCHENS/]P01/rgb_frames/P01_01/frame_0000000001.jpg"
    )

    def index(self) -> Iterator[ClipRef | Rejected]:
        name = f"EPIC_100_{self.split}.csv"
        file = self.find_file(name, f"annotations/{name}", f"epic-kitchens-100-annotations/{name}")
        frames_root = self.root / "EPIC-KITCHENS" if (self.root / "EPIC-KITCHENS").is_dir() else self.root
        with open(file, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetLayoutError(
                    f"{file} lacks the columns {', '.join(missing)}; expected {self.layout}"
                )
            for line, row in enumerate(reader, start=2):
                clip_id = row["narration_id"].strip() or f"{file.name}:{line}"
                try:
                    start, stop = int(row["start_frame"]), int(row["stop_frame"])
                except ValueError:
                    yield Rejected(clip_id, f"{file.name} line {line}: start/stop frame is not a number")
                    continue
                narration = row["narration"].strip()
                if not narration:
                    yield Rejected(clip_id, "no narration (instruction)")
                    continue
                if stop < start:
                    yield Rejected(clip_id, f"stop_frame {stop} before start_frame {start}")
                    continue
                try:
                    folder = safe_join(
                        frames_root, f"{row['participant_id'].strip()}/rgb_frames/{row['video_id'].strip()}"
                    )
                except UnsafePath as err:
                    yield Rejected(clip_id, f"unsafe participant or video id: {err}")
                    continue
                step = (stop - start) // 100 if self.sampling.mode == "uniform" and stop - start >= 100 else 1
                files = tuple(folder / f"frame_{i:010d}.jpg" for i in range(start, stop + 1, step))
                meta = {"video_id": row["video_id"].strip(), "start_frame": start, "stop_frame": stop}
                yield ClipRef(clip_id, narration, folder, frame_files=files, meta=meta)
