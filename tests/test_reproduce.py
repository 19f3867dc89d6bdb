"""`aidbench reproduce` on a micro variant of the smoke preset: every stage chains, summary.json has the
agreed shape, a failed stage names itself and the resume command, a resume skips what finished, and the
text-blind base is trained once and reused."""

from __future__ import annotations

import json

import pytest

from tests import settings

MICRO = settings.args(
    "train.base_steps=2",
    "train.max_steps=2",
    "train.checkpoint_every=1",
    "data.max_clips=8",
    "data.train_clips=16",
    *settings.FEW_STEPS,
    "eval.bootstrap_samples=10",
)
SYSTEMS = ["aid", "svd-zeroshot", "svd-fullft", "vae-recon", "copy-first-frame", "copy-last-reference"]
METRICS = [
    "instruction-accuracy@synthtvp",
    "counterfactual-accuracy@synthtvp",
    "psnr@synthtvp",
    "psnr@per-frame",
    "ssim@per-frame",
]
STAGES = ["data", "base", "train", "sample", "eval", "compare", "bench", "summary", "report"]


@pytest.mark.slow
def test_reproduce_chains_every_stage_fails_clearly_and_resumes(cli, tmp_path):
    reports = tmp_path / "results/reports"
    reports.mkdir(parents=True)
    (reports / "smoke").write_text("a file where the report folder belongs")  # the summary stage fails
    failed = cli("reproduce", *MICRO, "--run-id", "first")
    assert failed.code == 1, failed
    assert "stage 'summary' failed" in failed.err and "aidbench reproduce --resume first" in failed.err
    manifest = json.loads((tmp_path / "results/runs/reproduce/first/manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert list(manifest["state"]["stages"]) == STAGES[:7]
    (reports / "smoke").unlink()

    resumed = cli("reproduce", "--resume", "first", "--record", str(tmp_path / "record.json"))
    assert resumed.code == 0, resumed
    for stage in STAGES[:7]:
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
            assert set(record) - {"vs_reference"} == {
                "value",
                "ci_low",
                "ci_high",
                "confidence",
                "n",
                "eval_run",
            }
            assert ("vs_reference" in record) == (system != "aid")
            assert record["ci_low"] <= record["value"] <= record["ci_high"] and record["n"] == 8
            assert record["eval_run"] == entry["eval_run"] == state["runs"]["eval"][system]
        assert entry["sample_run"] == state["runs"]["sample"][system]
        assert entry["train_run"] == state["runs"].get("train", {}).get(system)
    # every other system against AID, clip by clip
    assert summary["reference"] == "aid"
    for system in SYSTEMS[1:]:
        for metric, cell in summary["systems"][system]["metrics"].items():
            found = cell["vs_reference"]
            aid = summary["systems"]["aid"]["metrics"][metric]["value"]
            assert found["delta"] == pytest.approx(cell["value"] - aid) and found["clips"] == 8
            assert found["ci_low"] <= found["delta"] <= found["ci_high"] and 0 <= found["p_value"] <= 1
    report = (reports / "smoke/report.md").read_text()
    assert "instruction-accuracy@synthtvp: Δ vs aid" in report and "| reference |" in report
    # the per-horizon curves: a table per metric in the report, every point in report-curves.csv
    assert "#### psnr@per-frame by horizon" in report and "frame +4" in report
    curves = (reports / "smoke/report-curves.csv").read_text().splitlines()
    assert len(curves) == 1 + 2 * len(SYSTEMS) * 4  # two metrics, every system, 4 predicted frames
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
    # A variant (an ablation of AID) is trained, sampled and scored like a system, under its own name.
    # A variant that samples another's checkpoint on other data (a zero-shot transfer) trains nothing.
    # Variants on other training data (the full task) get a base of their own and AID there as reference.
    variant = (
        "variants={aid-no-spatial: {system: aid, set: {model.adapters.spatial: false}}, "
        "aid-shifted: {system: aid, checkpoint_of: aid, set: {data.synthtvp_domain: shifted}}, "
        "aid-full: {system: aid, set: {data.synthtvp_task: full}}, "
        "svd-zeroshot-full: {system: svd-zeroshot, set: {data.synthtvp_task: full}}}"
    )
    systems = "systems=[aid,svd-fullft,aid-no-spatial,aid-shifted,aid-full,svd-zeroshot-full]"
    timed = "bench=[aid,aid-fullft]"  # and Table 3's miniature: the two trainings timed
    serial = cli(
        "reproduce", *MICRO, *settings.args("jobs=1", systems, variant, timed)[2:], "--run-id", "serial"
    )
    assert serial.code == 0, serial
    redone = json.loads((reports / "smoke/summary.json").read_text())["systems"]
    for system in ("aid", "svd-fullft"):
        values = {m: r["value"] for m, r in redone[system]["metrics"].items()}
        assert values == {m: r["value"] for m, r in summary["systems"][system]["metrics"].items()}
    runs_of = json.loads((tmp_path / "results/runs/reproduce/serial/manifest.json").read_text())["state"][
        "runs"
    ]
    assert set(runs_of["train"]) == {"aid", "svd-fullft", "aid-no-spatial", "aid-full"}
    scored = json.loads(
        (tmp_path / "results/runs/eval" / runs_of["eval"]["aid-no-spatial"] / "manifest.json").read_text()
    )["config"]
    assert scored["variant"] == "aid-no-spatial" and scored["model"]["adapters"]["spatial"] is False
    assert redone["aid-no-spatial"]["train_run"] == runs_of["train"]["aid-no-spatial"]
    assert redone["aid-shifted"]["train_run"] == runs_of["train"]["aid"]
    transferred = tmp_path / "results/runs/sample" / runs_of["sample"]["aid-shifted"] / "samples"
    assert all("-move1-shifted-test-" in p.name for p in transferred.iterdir())
    state = json.loads((tmp_path / "results/runs/reproduce/serial/manifest.json").read_text())["state"]
    bases = state["stages"]["base"]["bases"]
    assert len(bases) == 2  # the preset's data, and the full task's

    def base_of(system):
        sampled = tmp_path / "results/runs/sample" / runs_of["sample"][system] / "manifest.json"
        return json.loads(sampled.read_text())["config"]["model"]["base_weights"]

    assert base_of("aid-shifted") == base_of("aid") == base_of("aid-no-spatial") != base_of("aid-full")
    assert base_of("svd-zeroshot-full") == base_of("aid-full") in bases.values()
    full_task = redone["svd-zeroshot-full"]["metrics"]["psnr@synthtvp"]["vs_reference"]
    assert (
        full_task["reference"] == "aid-full"
        and "vs_reference" not in redone["aid-shifted"]["metrics"]["psnr@synthtvp"]
    )
    ablation = (reports / "smoke/report.md").read_text().split("### Ablation of the adapters (SSv2)")[1]
    (row,) = [line for line in ablation.splitlines() if line.startswith("| without spatial adapter |")]
    assert f"run `{runs_of['eval']['aid-no-spatial']}`" in row  # its synthtvp miniature column
    speed = json.loads((reports / "smoke/bench-train.json").read_text())
    assert [entry["system"] for entry in speed["systems"]] == ["aid", "aid-fullft"]
    table3 = (reports / "smoke/report.md").read_text().split("### Training time and GPU memory, 16 frames")[1]
    table3 = table3.split("### ")[0]
    (ours,) = [line for line in table3.splitlines() if line.startswith("| Ours |")]
    assert "run `bench-train.json`" in ours


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


@pytest.mark.slow
def test_several_seeds_run_every_stage_per_seed_and_summarise_their_spread(cli, tmp_path):
    result = cli(
        "reproduce", *MICRO, "--set", "systems=[aid,vae-recon]", "--seeds", "0,1", "--run-id", "seeded"
    )
    assert result.code == 0, result
    state = json.loads((tmp_path / "results/runs/reproduce/seeded/manifest.json").read_text())["state"]
    assert list(state["stages"]) == ["seeds", "bench", "summary", "report"]
    seed_runs = state["runs"]["reproduce"]
    assert set(seed_runs) == {"seed-0", "seed-1"}
    per_seed = {}
    for seed in (0, 1):
        manifest = json.loads(
            (tmp_path / "results/runs/reproduce" / seed_runs[f"seed-{seed}"] / "manifest.json").read_text()
        )
        assert manifest["status"] == "done" and manifest["config"]["seed"] == seed
        assert manifest["config"]["seeds"] == [] and list(manifest["state"]["stages"]) == STAGES[:6]
        per_seed[seed] = manifest["state"]["runs"]["eval"]
    # each seed trains its own base and AID
    bases = {
        per_seed_run["stages"]["base"]["run"]
        for per_seed_run in [
            json.loads((tmp_path / "results/runs/reproduce" / r / "manifest.json").read_text())["state"]
            for r in seed_runs.values()
        ]
    }
    assert len(bases) == 2

    summary = json.loads((tmp_path / "results/reports/smoke/summary.json").read_text())
    assert summary["seeds"] == [0, 1] and list(summary["systems"]) == ["aid", "vae-recon"]
    for system, entry in summary["systems"].items():
        assert set(entry["runs"]) == {"0", "1"}
        for cell in entry["metrics"].values():
            values = [cell["seeds"][s]["value"] for s in ("0", "1")]
            assert cell["value"] == pytest.approx(sum(values) / 2)
            assert cell["sd"] == pytest.approx(abs(values[0] - values[1]) / 2**0.5)
            assert cell["n_seeds"] == 2 and cell["interval"] == "t over seeds"
            assert cell["ci_low"] <= cell["value"] <= cell["ci_high"]
            for seed in (0, 1):
                assert cell["seeds"][str(seed)]["eval_run"] == per_seed[seed][system]
    # the two seeds are two trainings: AID's samples differ
    assert summary["systems"]["aid"]["metrics"]["psnr@synthtvp"]["sd"] > 0
    assert "± " in result.out and "each seed:" in result.out
    report = (tmp_path / "results/reports/smoke/report.md").read_text()
    assert "2 seeds: " in report and "mean ± sd over seeds" in report
    # a seed's run is resumed through the run it belongs to, never alone
    refused = cli("reproduce", "--resume", seed_runs["seed-1"])
    assert refused.code == 2 and "aidbench reproduce --resume seeded" in refused.err
    one = cli("reproduce", *MICRO, "--seeds", "3", "--dry-run")
    assert one.code == 2 and "two or more" in one.err
