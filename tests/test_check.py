"""`aidbench check`: the CI's regression check, run on eval runs written through the real run code: it
passes within the curated interval, fails (exit 4, a readable diff) on a planted regression."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aidbench import runs
from aidbench.errors import UsageError, UserError
from aidbench.report import check
from tests import fake_runs


def _smoke_runs(run_prefix: str, created_at: str, psnr_of_aid: float = 20.0, accuracy: float = 0.75) -> None:
    """One eval run per smoke system with every smoke metric (sampling runs made once)."""
    for system in ("aid", "svd-zeroshot", "svd-fullft", "vae-recon"):
        results = os.environ["AIDBENCH_RESULTS"]
        if (runs.stage_dir(results, "sample") / f"sample-{system}").is_dir():
            sample = runs.load_run(results, "sample", f"sample-{system}")
        else:
            sample = fake_runs.sample_run(system)
        psnr = psnr_of_aid if system == "aid" else 18.0
        fake_runs.eval_run(
            sample,
            {
                "instruction-accuracy@synthtvp": (accuracy, accuracy - 0.1, accuracy + 0.1),
                "counterfactual-accuracy@synthtvp": (0.5, 0.4, 0.6),
                "psnr@synthtvp": (psnr, psnr - 0.5, psnr + 0.5),
            },
            run_id=f"{run_prefix}-{system}",
            created_at=created_at,
        )


def _summary(**metrics: tuple[float, float, float]) -> dict:
    cells = {
        name.replace("_", "-") + "@synthtvp": {
            "value": v,
            "ci_low": lo,
            "ci_high": hi,
            "confidence": 0.95,
            "n": 8,
        }
        for name, (v, lo, hi) in metrics.items()
    }
    return {"preset": "smoke", "systems": {"aid": {"metrics": cells}}}


def test_compare_knows_which_way_is_better_and_allows_the_curated_interval():
    curated = _summary(psnr=(20.0, 19.0, 22.0), trajectory_error=(1.0, 0.5, 1.2))
    within = _summary(psnr=(19.1, 18.0, 20.0), trajectory_error=(1.19, 1.0, 1.4))
    assert {c.status for c in check.compare(curated, within)} == {"ok"}
    # PSNR: higher is better, the curated interval allows 1.0 below; trajectory error: lower is better.
    worse = _summary(psnr=(18.9, 18.0, 20.0), trajectory_error=(1.21, 1.0, 1.4))
    assert [(c.metric, c.status) for c in check.compare(curated, worse)] == [
        ("psnr@synthtvp", "regressed"),
        ("trajectory-error@synthtvp", "regressed"),
    ]
    better = _summary(psnr=(30.0, 29.0, 31.0), trajectory_error=(0.1, 0.0, 0.2))
    assert {c.status for c in check.compare(curated, better)} == {"improved"}
    default, per_metric = check.parse_tolerances(["10%", "trajectory-error@synthtvp=0.05"])
    loose = check.compare(curated, worse, default, per_metric)
    assert {c.status for c in loose} == {"ok"}
    assert check.compare(curated, _summary(psnr=(20.0, 19.0, 21.0)))[1].status == "missing"


def test_tolerances_are_parsed_strictly():
    assert check.parse_tolerances(["0.5"])[0] == check.Tolerance(absolute=0.5)
    assert check.parse_tolerances(["psnr@synthtvp=5%"])[1] == {
        "psnr@synthtvp": check.Tolerance(relative=0.05)
    }
    with pytest.raises(UsageError, match="not a tolerance"):
        check.parse_tolerances(["lots"])
    with pytest.raises(UsageError, match="unknown metric 'psnr'"):
        check.parse_tolerances(["psnr=1"])


def test_check_passes_then_fails_on_a_planted_regression(cli, tmp_path):
    _smoke_runs("eval-good", "2026-01-01T00:00:00+00:00")
    curated = tmp_path / "curated/smoke"
    made = cli("check", "--against", str(curated), "--update", "--preset", "smoke")
    assert made.code == 0, made
    stored = json.loads((curated / "summary.json").read_text())
    assert stored["curated"]["measured"] is True
    assert stored["systems"]["aid"]["metrics"]["psnr@synthtvp"]["value"] == 20.0

    same = cli("check", "--against", str(curated))
    assert same.code == 0, same
    assert "no regression: 12 numbers within their margins" in same.out

    # A newer evaluation in which AID's PSNR dropped by 3 dB (the curated interval allows 0.5).
    _smoke_runs("eval-bad", "2026-02-01T00:00:00+00:00", psnr_of_aid=17.0)
    bad = cli("check", "--against", str(curated))
    assert bad.code == 4, bad
    first_row = bad.out.splitlines()[3]
    assert first_row.split() == [
        "REGRESSED",
        "aid",
        "psnr@synthtvp",
        "higher",
        "20",
        "[19.5,",
        "20.5]",
        "17",
        "-3",
        "≥",
        "-0.5",
    ]
    assert "1 of 12 numbers regressed or are missing" in bad.err
    assert cli("check", "--against", str(curated), "--tolerance", "psnr@synthtvp=3").code == 0


def test_check_fails_when_a_curated_system_is_missing_and_refuses_placeholders(cli, tmp_path):
    curated = tmp_path / "curated.json"
    curated.write_text(
        json.dumps(_summary(psnr=(20.0, 19.0, 21.0)) | {"curated": {"measured": False}}),
    )
    refused = cli("check", "--against", str(curated), "--preset", "smoke")
    assert refused.code == 1 and "holds no measured numbers (a placeholder)" in refused.err
    absent = cli("check", "--against", str(tmp_path / "nowhere"))
    assert absent.code == 1 and "no curated records at" in absent.err and "--update" in absent.err

    curated.write_text(json.dumps(_summary(psnr=(20.0, 19.0, 21.0))))
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"preset": "smoke", "systems": {}}))
    missing = cli("check", "--against", str(curated), "--summary", str(new))
    assert missing.code == 4 and "MISSING" in missing.out
    nothing = cli("check", "--against", str(curated))
    assert nothing.code == 1 and "run `aidbench reproduce --preset smoke` first" in nothing.err


def test_curated_seeds_set_the_margin_from_their_spread_and_nan_regresses():
    from aidbench.report import records

    def one_seed(psnr: float) -> dict:
        return _summary(psnr=(psnr, psnr - 0.2, psnr + 0.2))

    curated = records.over_seeds(
        {s: one_seed(v) for s, v in enumerate([20.0, 21.0, 19.0, 20.5, 19.5])}, "smoke", "r"
    )
    cell = curated["systems"]["aid"]["metrics"]["psnr@synthtvp"]
    assert cell["value"] == pytest.approx(20.0) and cell["sd"] == pytest.approx(0.790569, rel=1e-5)
    # one new run is expected within t(0.995, 4)·sd·√(1 + 1/5) = 4.604·0.7906·1.0954 = 3.99 dB below the mean
    assert check.expected_spread(cell, "higher") == pytest.approx(3.987, abs=1e-3)
    assert check.compare(curated, one_seed(16.1))[0].status == "ok"
    assert check.compare(curated, one_seed(15.9))[0].status == "regressed"
    # seeds that agree exactly still allow the metric's own resolution: their mean bootstrap interval
    agreed = records.over_seeds({s: one_seed(20.0) for s in range(3)}, "smoke", "r")
    assert check.compare(agreed, one_seed(19.85))[0].status == "ok"
    assert check.compare(agreed, one_seed(19.7))[0].status == "regressed"
    assert check.compare(curated, one_seed(float("nan")))[0].status == "regressed"


def test_a_torn_records_line_is_skipped_and_counted(cli, tmp_path):
    """A crash mid-write leaves half a line at the end of records.jsonl: report and check go on without it."""
    _smoke_runs("eval-torn", "2026-01-01T00:00:00+00:00")
    records = Path(os.environ["AIDBENCH_RESULTS"]) / "runs/eval/eval-torn-aid/records.jsonl"
    with records.open("a") as handle:
        handle.write('{"metric": "fvd@seer", "value": 1')
    curated = tmp_path / "curated/smoke"
    made = cli("check", "--against", str(curated), "--update", "--preset", "smoke")
    assert made.code == 0, made
    assert "1 unreadable line(s)" in made.err and "records.jsonl skipped" in made.err
    reported = cli("report", "--preset", "smoke", "--out", str(tmp_path / "report"))
    assert reported.code == 0, reported


def test_a_non_finite_value_is_refused_in_records(tmp_path):
    from aidbench.config import resolve
    from aidbench.metrics.protocols import Record
    from aidbench.metrics.videoset import VideoSet
    from aidbench.stages.eval import write_records

    run = runs.start_run("eval", resolve(preset="smoke"), run_id="nan", argv=["test"], device={"kind": "cpu"})
    empty = VideoSet(None, [], [])
    with pytest.raises(UserError, match="fvd@seer came out non-finite"):
        write_records(
            run, [Record("fvd@seer", float("nan"), 1.0, 2.0, 0.95, 0, 3, 3, {}, {})], empty, empty, {}
        )
    assert not (run.path / "records.jsonl").exists()
