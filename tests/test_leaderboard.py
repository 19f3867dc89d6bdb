"""`aidbench leaderboard` on real runs: two no-training systems and a third that covers one clip fewer,
sampled on tiny synthtvp, scored, one pair compared; the page, the Markdown and the CSV checked against the
runs' own records and differences."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from aidbench.report import leaderboard as board
from aidbench.stages.sample import finished_clips
from tests import settings

METRICS = ("psnr@synthtvp", "instruction-accuracy@synthtvp")
# A variant's name is a row's name: one a page must never run as HTML.
HOSTILE = "<script>alert(1)</script>"
# Two reference frames: copy-first-frame and copy-last-reference then predict different frames.
TINY = (*settings.TINY, *settings.FEW_STEPS, "data.num_ref_frames=2")
WEIGHTS = "ab" * 32


def _metric_args() -> list[str]:
    return [part for m in METRICS for part in ("--metric", m)]


def _no_intervals() -> list[str]:
    return [part for item in settings.NO_INTERVALS for part in ("--set", item)]


def _records(results: Path) -> dict[str, dict[str, dict]]:
    """sample run id → metric → its eval record."""
    found: dict[str, dict[str, dict]] = {}
    for manifest in (results / "runs" / "eval").glob("*/manifest.json"):
        run = json.loads(manifest.read_text())
        sample = Path(run["state"]["sources"]["generated"]).name
        lines = (manifest.parent / "records.jsonl").read_text().splitlines()
        found[sample] = {r["metric"]: r for r in map(json.loads, lines)}
    return found


def _add_provenance(sample_run: Path) -> None:
    """What a system that loads weights records in its sampling run's result (read when present)."""
    path = sample_run / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["state"]["result"]["provenance"] = {"weights_sha256": WEIGHTS, "source": "demo-plugin 0.1"}
    path.write_text(json.dumps(manifest))


def test_leaderboard_of_real_runs(cli, isolated_paths):
    results = isolated_paths / "results"
    samples = results / "runs" / "sample"
    for run_id, model, extra in (
        ("a", "copy-first-frame", ()),
        ("b", "copy-last-reference", ()),
        ("c", "copy-first-frame", ("data.max_clips=3", f"variant={HOSTILE}")),
    ):
        done = cli("sample", "--model", model, "--run-id", run_id, *settings.args(*TINY, *extra))
        assert done.code == 0, done.err
        done = cli("eval", "--run", run_id, *_metric_args(), *_no_intervals())
        assert done.code == 0, done.err
    _add_provenance(samples / "b")
    done = cli("compare", "a", "b", *_metric_args(), "--json")
    assert done.code == 0, done.err
    differences = {d["metric"]: d for d in map(json.loads, done.out.splitlines())}

    done = cli("leaderboard", "--dataset", "synthtvp", "--reference", "copy-first-frame")
    assert done.code == 0, done.err
    out = results / "reports" / "leaderboard" / "synthtvp"
    assert done.out.split() == [w for name in board.FILES for w in ("wrote", str(out / name))]
    page, md = (out / "leaderboard.html").read_text(), (out / "leaderboard.md").read_text()
    rows = {r["system"]: r for r in csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text()))}
    assert set(rows) == {"copy-first-frame", "copy-last-reference", HOSTILE}

    # each value is the newest eval record's, in full in the CSV and as shown in the Markdown
    scored = _records(results)
    for system, run_id in (("copy-first-frame", "a"), ("copy-last-reference", "b"), (HOSTILE, "c")):
        row = rows[system]
        assert row["sample_run"] == run_id
        for metric in METRICS:
            record = scored[run_id][metric]
            assert float(row[f"{metric} value"]) == record["value"]
            assert int(row[f"{metric} n"]) == record["n_fake"]
            assert board.number(record["value"]) in md
    assert scored["a"]["psnr@synthtvp"]["value"] != scored["b"]["psnr@synthtvp"]["value"]

    # b − a: the compare run measured a − b, so its difference is negated and its interval swapped
    b = rows["copy-last-reference"]
    for metric in METRICS:
        d = differences[metric]
        assert float(b[f"{metric} delta"]) == -d["delta"] + 0.0
        assert float(b[f"{metric} delta_ci_low"]) == -d["ci_high"] + 0.0
        assert float(b[f"{metric} delta_ci_high"]) == -d["ci_low"] + 0.0
        assert b[f"{metric} compare_run"]
        assert rows["copy-first-frame"][f"{metric} delta"] == ""  # the reference itself
    assert rows[HOSTILE]["psnr@synthtvp delta"] == ""
    assert "aidbench compare c a" in md

    # provenance: the sampling run's config hash and git, the weights and source it recorded
    manifest = json.loads((samples / "b" / "manifest.json").read_text())
    assert b["config_sha256"] == manifest["config_sha256"]
    assert f'title="{manifest["config_sha256"]}"' in page
    assert b["weights_sha256"] == WEIGHTS and b["source"] == "demo-plugin 0.1"
    assert rows["copy-first-frame"]["weights_sha256"] == ""
    if manifest["git"]:
        assert b["git_commit"] == manifest["git"]["commit"]

    # the short row: flagged, its missing clip named, never ranked; the complete rows ranked by PSNR
    missing = sorted(set(finished_clips(samples / "a")) - set(finished_clips(samples / "c")))
    assert len(missing) == 1
    short = rows[HOSTILE]
    assert (short["complete"], short["rank"], short["missing_clips"]) == ("False", "", missing[0])
    assert "3 (1 missing)" in md and missing[0] in md and missing[0] in page
    assert rows["copy-first-frame"]["complete"] == "True" and rows["copy-first-frame"]["clips"] == "4"
    ranked = sorted((int(r["rank"]), s) for s, r in rows.items() if r["rank"])
    psnr = {s: float(rows[s]["psnr@synthtvp value"]) for _, s in ranked}
    assert [s for _, s in ranked] == sorted(psnr, key=psnr.get, reverse=True)
    assert page.count('class="incomplete"') == 1

    # every run's text escaped; the numbers are said to be ours; each protocol card shown once
    assert HOSTILE not in page and HOSTILE not in md
    assert 'data-system="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert board.OURS in page
    for metric in METRICS:
        assert page.count(f"<h3>{metric}</h3>") == 1
    assert 'data-key="psnr@synthtvp:value"' in page and "http" not in page.split("<body>")[1]

    done = cli("leaderboard", "--dataset", "synthtvp", "--reference", "nobody")
    assert done.code == 1 and done.err.startswith("error: the reference nobody has no eval record")


def test_leaderboard_errors_are_one_sentence(cli, isolated_paths):
    done = cli("leaderboard", "--dataset", "synthtvp")
    assert done.code == 1 and done.err.startswith("error: nothing was scored on synthtvp")
    assert len(done.err.strip().splitlines()) == 1


def _row(system: str, value: float, complete: bool = True) -> board.Row:
    cell = board.Cell("psnr@synthtvp", value, value, value, 0.95, 4, f"e-{system}")
    clips = ("c0", "c1", "c2", "c3") if complete else ("c0", "c1")
    missing = () if complete else ("c2", "c3")
    return board.Row(
        system, {cell.metric: cell}, board.Provenance(None, cell.eval_run), board.Coverage(clips, missing)
    )


def test_rank_puts_short_rows_last_and_ties_together():
    rows = [_row("low", 10.0), _row("short", 99.0, complete=False), _row("high", 30.0), _row("tie", 30.0)]
    ranked = board.rank(rows, "psnr@synthtvp")  # higher is better
    assert [(r.system, r.rank) for r in ranked] == [("high", 1), ("tie", 1), ("low", 3), ("short", None)]
