"""UCF-101, official split 1, class-conditioned: the instruction is one written sentence per class.

Layout: <root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi and <root>/ucfTrainTestlist/{trainlist01,testlist01}.txt
(lines "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1" and "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi").
The captions are aidbench's own (ucf101_captions.py), in the paper's style.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from aidbench.data.dataset import ClipDataset, ClipRef, Rejected, UnsafePath, safe_join
from aidbench.data.ucf101_captions import CAPTIONS

SPLIT_FILES = {"train": "trainlist01.txt", "test": "testlist01.txt"}


class UCF101(ClipDataset):
    name = "ucf101"
    layout = (
        "<root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi and "
        "<root>/ucfTrainTestlist/trainlist01.txt, testlist01.txt (official split 1)"
    )
    # UCF-101 has no validation split; the paper evaluates on split 1's test list.
    split_aliases = {"train": "train", "test": "test", "validation": "test", "val": "test"}

    def index(self) -> Iterator[ClipRef | Rejected]:
        listing = self.find_file(f"ucfTrainTestlist/{SPLIT_FILES[self.split]}", SPLIT_FILES[self.split])
        videos = self.root / "UCF-101" if (self.root / "UCF-101").is_dir() else self.root
        for line in listing.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            relative = line.split()[0].replace("\\", "/")
            clip_id = PurePosixPath(relative).stem
            class_name = relative.split("/")[0]
            caption = CAPTIONS.get(class_name)
            if caption is None:
                yield Rejected(clip_id, f"unknown class '{class_name}'")
                continue
            try:
                source = safe_join(videos, relative)
            except UnsafePath as err:
                yield Rejected(clip_id, f"unsafe path: {err}")
                continue
            yield ClipRef(clip_id, caption, source, meta={"class": class_name})
