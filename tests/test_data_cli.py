from __future__ import annotations

import json

from tests import fakes


def test_verify_reports_planted_problems_and_lists_them_in_the_manifest(cli, tmp_path):
    root = fakes.ssv2_webm(tmp_path / "ssv2")
    result = cli(
        "data",
        "verify",
        "ssv2",
        "--root",
        str(root),
        "--split",
        "validation",
        "--json",
        "--set",
        "data.num_frames=8",
        "--set",
        "data.resolution=16",
    )
    assert result.code == 1  # 5 of 7 unusable, above the default 1%
    report = json.loads(result.out)
    assert report["counts"] == {
        "listed": 7,
        "ok": 2,
        "missing": 1,
        "corrupt": 1,
        "too_short": 1,
        "rejected": 2,
    }
    skipped = {s["clip_id"]: s["kind"] for s in report["skipped"]}
    assert skipped == {
        "103": "too_short",
        "104": "corrupt",
        "105": "missing",
        "106": "rejected",
        "../../etc/passwd": "rejected",
    }
    assert report["frames"] == {"min": 16, "median": 18.0, "max": 20}
    assert report["height"] == {"min": 24, "median": 24.0, "max": 24}
    assert "unusable, more than data.max_corrupt_fraction=0.01" in result.err
    (manifest_path,) = (tmp_path / "results/runs/data").glob("*/manifest.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "done"
    assert {s["clip_id"] for s in manifest["state"]["verify"]["skipped"]} == {
        "103",
        "104",
        "105",
        "106",
        "../../etc/passwd",
    }


def test_verify_passes_within_the_allowed_fraction(cli, tmp_path):
    root = fakes.ssv2_webm(tmp_path / "ssv2")
    result = cli(
        "data",
        "verify",
        "ssv2",
        "--root",
        str(root),
        "--split",
        "validation",
        "--set",
        "data.num_frames=8",
        "--set",
        "data.max_corrupt_fraction=0.8",
    )
    assert result.code == 0, result
    assert "listed 7, ok 2, missing 1, corrupt 1, too_short 1, rejected 2" in result.out
    assert "rejected: ../../etc/passwd: unsafe id" in result.out


def test_verify_a_missing_root_is_one_sentence(cli, tmp_path):
    result = cli("data", "verify", "epic", "--root", str(tmp_path / "none"))
    assert result.code == 1
    assert result.err.startswith("error: epic root ") and "EPIC_100_<split>.csv" in result.err
    assert not (tmp_path / "results/runs/data").exists()  # nothing started


def test_export_then_verify_through_the_ssv2_adapter(cli, tmp_path):
    out = tmp_path / "synth"
    exported = cli(
        "data", "export", "synthtvp", "--out", str(out), "--n", "4", "--split", "test", "--preset", "smoke"
    )
    assert exported.code == 0 and "wrote 4 new clips" in exported.out and "16px, 5 frames" in exported.out
    assert "task move1" in exported.out  # the preset's task, as the smoke run trains and scores it
    assert json.loads((out / "synthtvp.json").read_text())["task"] == "move1"
    verified = cli(
        "data", "verify", "ssv2", "--root", str(out), "--split", "test", "--preset", "smoke", "--json"
    )
    assert verified.code == 0
    assert json.loads(verified.out)["counts"]["ok"] == 4
    bad = cli("data", "export", "synthtvp", "--out", str(out), "--split", "tset")
    assert bad.code == 2 and "did you mean 'test'" in bad.err
