"""Tiny fake datasets written in the official on-disk layouts, with planted problems."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from aidbench.data.video import write_video


def frames(t: int, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(t, h // 8, w // 8, 3)).astype(np.uint8)
    return base.repeat(8, axis=1).repeat(8, axis=2)


def write_jpgs(folder: Path, clip: np.ndarray, name: str = "img_{:05d}.jpg", start: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(clip):
        Image.fromarray(frame).save(folder / name.format(start + i), quality=95)


def ssv2_webm(root: Path) -> Path:
    """labels/{train,validation}.json + 20bn-something-something-v2/<id>.webm, with planted problems."""
    videos = root / "20bn-something-something-v2"
    videos.mkdir(parents=True)
    entries = [
        {
            "id": "101",
            "label": "Putting jar on a surface",
            "template": "Putting [something] on a surface",
            "placeholders": ["jar"],
        },
        {
            "id": "102",
            "label": "Moving pen and marker closer to each other",
            "template": "Moving [something] and [something] closer to each other",
            "placeholders": ["pen", "marker"],
        },
        {"id": "103", "label": "Too short", "template": "x", "placeholders": []},
        {"id": "104", "label": "Corrupt", "template": "x", "placeholders": []},
        {"id": "105", "label": "Missing", "template": "x", "placeholders": []},
        {"id": "../../etc/passwd", "label": "Escape", "template": "x", "placeholders": []},
        {"id": "106", "template": "no label"},
    ]
    write_video(videos / "101.webm", frames(20, seed=1))
    write_video(videos / "102.webm", frames(16, seed=2))
    write_video(videos / "103.webm", frames(5, seed=3))
    (videos / "104.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"garbage" * 50)
    (root / "labels").mkdir()
    (root / "labels" / "validation.json").write_text(json.dumps(entries))
    (root / "labels" / "train.json").write_text(json.dumps(entries[:2]))
    return root


def ssv2_rawframes(root: Path) -> Path:
    """Seer's layout: annotations/<split>.json + rawframes/<id>/img_00001.jpg."""
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train.json").write_text(
        json.dumps(
            [
                {
                    "id": "7",
                    "label": "Pushing something",
                    "template": "Pushing [something]",
                    "placeholders": ["x"],
                }
            ]
        )
    )
    write_jpgs(root / "rawframes" / "7", frames(18, seed=7))
    return root


def bridge(root: Path, with_list: bool) -> list[str]:
    paths = []
    for task in ("put_carrot_in_bowl", "flip_pot_upright_in_sink_distractors", "turn_lever-vertical"):
        for traj in range(2):
            folder = root / "rawframes" / task / str(traj) / "images0"
            write_jpgs(folder, frames(12, seed=traj), name="im_{}.jpg", start=0)
            paths.append(f"{task}/{traj}")
    if with_list:
        order = list(reversed(paths))
        (root / "path_id_bridgedata.txt").write_text(json.dumps(order))
        return order
    return sorted(paths)


def epic(root: Path) -> Path:
    rows = [
        ("P01_01_0", "P01", "P01_01", "pick up knife", 1, 20),
        ("P01_01_1", "P01", "P01_01", "open fridge", 5, 210),  # long: thinned as Seer does
        ("P01_01_2", "P01", "P01_01", "beyond the frames", 300, 320),
        ("P02_01_0", "../P02", "P02_01", "escape", 1, 20),
    ]
    folder = root / "P01" / "rgb_frames" / "P01_01"
    write_jpgs(folder, frames(220, h=16, w=16), name="frame_{:010d}.jpg", start=1)
    with open(root / "EPIC_100_validation.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "narration_id",
                "participant_id",
                "video_id",
                "narration_timestamp",
                "start_timestamp",
                "stop_timestamp",
                "start_frame",
                "stop_frame",
                "narration",
                "verb",
                "verb_class",
                "noun",
                "noun_class",
                "all_nouns",
                "all_noun_classes",
            ]
        )
        for nid, participant, video, narration, start, stop in rows:
            writer.writerow(
                [nid, participant, video, "", "", "", start, stop, narration, "", "", "", "", "", ""]
            )
    return root


def ucf101(root: Path) -> Path:
    for cls, group in (("Biking", 1), ("ApplyEyeMakeup", 8)):
        folder = root / "UCF-101" / cls
        folder.mkdir(parents=True)
        write_video(folder / f"v_{cls}_g{group:02d}_c01.avi", frames(20, seed=group))
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n")
    (lists / "testlist01.txt").write_text(
        "Biking/v_Biking_g01_c01.avi\nUnknownClass/v_UnknownClass_g01_c01.avi\n"
    )
    return root
