"""`aidbench reproduce` on a micro variant of the smoke preset: every stage chains, summary.json has the
agreed shape, a failed stage names itself and the resume command, a resume skips what finished, and the
text-blind base is trained once and reused."""

from __future__ import annotations

import json

MICRO = [
    "--preset",
    "smoke",
    "--set",
    "train.base_steps=2",
    "--set",
    "train.max_steps=2",
    "--set",
    "train.checkpoint_every=1",
    "--set",
    "data.max_clips=8",
    "--set",
    "data.train_clips=16",
    "--set",
    "sample.num_inference_steps=2",
    "--set",
    "eval.bootstrap_samples=10",
]
SYSTEMS = ["aid", "svd-zeroshot", "svd-fullft", "vae-recon"]
METRICS = ["instruction-accuracy@synthtvp", "counterfactual-accuracy@synthtvp", "psnr@synthtvp"]
STAGES = ["data", "base", "train", "sample", "eval", "summary", "report"]


def test_reproduce_chains_every_stage_fails_clearly_and_resumes(cli, tmp_path):
    reports = tmp_path / "results/reports"
    reports.mkdir(parents=True)
    (reports / "smoke").write_text("a file where the report folder belongs")  # the summary stage fails
    failed = cli("reproduce", *MICRO, "--run-id", "first")
    assert failed.code == 1, failed
    assert "stage 'summary' failed" in failed.err and "aidbench reproduce --resume first" in failed.err
    manifest = json.loads((tmp_path / "results/runs/reproduce/first/manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert list(manifest["state"]["stages"]) == ["data", "base", "train", "sample", "eval"]
    (reports / "smoke").unlink()

    resumed = cli("reproduce", "--resume", "first", "--record", str(tmp_path / "record.json"))
    assert resumed.code == 0, resumed
    for stage in ["data", "base", "train", "sample", "eval"]:
        assert f"{stage:<8} done (earlier attempt)" in resumed.out
    assert "summary  done" in resumed.out and "report   done" in resumed.out
    state = json.loads((tmp_path / "results/runs/reproduce/first/manifest.json").read_text())["state"]
    assert list(state["stages"]) == STAGES
    # every sub-run was recorded once and finished
    assert set(state["runs"]["train"]) == {"aid", "svd-fullft"}
    assert set(state["runs"]["sample"]) == set(SYSTEMS) == set(state["runs"]["eval"])

    summary = json.loads((reports / "smoke/summary.json").read_text())
    assert summary["preset"] == "smoke" and list(summary["systems"]) == SYSTEMS
    for system, entry in summary["systems"].items():
        assert set(entry) == {"train_run", "sample_run", "eval_run", "metrics"}
        assert (entry["train_run"] is not None) == (system in ("aid", "svd-fullft"))
        assert set(entry["metrics"]) == set(METRICS)
        for record in entry["metrics"].values():
            assert set(record) == {"value", "ci_low", "ci_high", "confidence", "n", "eval_run"}
            assert record["ci_low"] <= record["value"] <= record["ci_high"] and record["n"] == 8
            assert record["eval_run"] == entry["eval_run"] == state["runs"]["eval"][system]
        assert entry["sample_run"] == state["runs"]["sample"][system]
        assert entry["train_run"] == state["runs"].get("train", {}).get(system)
    # in pixel space vae-recon is the ground truth itself: the upper bound
    assert summary["systems"]["vae-recon"]["metrics"]["instruction-accuracy@synthtvp"]["value"] == 1.0
    assert "instruction-accuracy" in resumed.out and "vae-recon" in resumed.out  # the final table
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["summary"] == summary and set(record["stage_seconds"]) == set(STAGES)

    again = cli("reproduce", "--resume", "first")
    assert again.code == 0 and "already finished; nothing to do" in again.out

    # A second reproduce with the same settings reuses the finished base instead of training it again
    # (its systems do not shape the base, so a cheaper list shares it).
    second = cli("reproduce", *MICRO, "--set", "systems=[svd-zeroshot]", "--run-id", "second")
    assert second.code == 0, second
    base = json.loads((tmp_path / "results/runs/reproduce/second/manifest.json").read_text())["state"]
    assert base["stages"]["base"]["reused"] is True
    assert base["stages"]["base"]["run"] == state["stages"]["base"]["run"]
    sampled = json.loads(
        (
            tmp_path / "results/runs/sample" / base["runs"]["sample"]["svd-zeroshot"] / "manifest.json"
        ).read_text()
    )
    assert sampled["config"]["model"]["base_weights"] == state["stages"]["base"]["weights"]

    # The smoke preset runs two systems side by side (jobs: 2); one after another gives the same numbers.
    serial = cli(
        "reproduce", *MICRO, "--set", "jobs=1", "--set", "systems=[aid,svd-fullft]", "--run-id", "serial"
    )
    assert serial.code == 0, serial
    redone = json.loads((reports / "smoke/summary.json").read_text())["systems"]
    for system in ("aid", "svd-fullft"):
        values = {m: r["value"] for m, r in redone[system]["metrics"].items()}
        assert values == {m: r["value"] for m, r in summary["systems"][system]["metrics"].items()}


def test_without_base_steps_there_is_no_base_stage_work(cli, tmp_path):
    result = cli(
        "reproduce",
        *MICRO,
        "--set",
        "train.base_steps=0",
        "--set",
        "systems=[vae-recon]",
        "--run-id",
        "plain",
    )
    assert result.code == 0, result
    state = json.loads((tmp_path / "results/runs/reproduce/plain/manifest.json").read_text())["state"]
    assert state["stages"]["base"] == {"run": None, "weights": None}
    assert not (tmp_path / "results/runs/train").exists()
