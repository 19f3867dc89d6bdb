"""Human evaluation: the questionnaire a study folder holds (blinded: nothing under site/ names a system),
the local server that collects answers, and the scoring of planted answers (preferences, ties, intervals,
Krippendorff's α, Bradley–Terry). The browser's side is tests/test_human_eval_browser.py."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from aidbench.human import score as scoring
from aidbench.human.study import KEY, choose_pairs, read_key
from tests import settings

TINY = settings.args(*settings.TINY, "data.max_clips=8", "data.num_ref_frames=2")


def make_study(cli, tmp_path: Path, *extra: str) -> Path:
    """Two systems' sample runs of 8 synthtvp clips, and a study of 6 pairs of them with 4 raters."""
    for system, run_id in (("copy-first-frame", "a"), ("copy-last-reference", "b")):
        sampled = cli("sample", "--system", system, "--run-id", run_id, *TINY)
        assert sampled.code == 0, sampled.err
    out = tmp_path / "study"
    made = cli(
        "human-eval",
        "make",
        "--a",
        "a",
        "--b",
        "b",
        "--pairs",
        "6",
        "--raters",
        "4",
        "--out",
        str(out),
        *extra,
    )
    assert made.code == 0, made.err
    return out


def test_a_study_is_blinded_and_its_key_stays_off_the_site(cli, tmp_path):
    out = make_study(cli, tmp_path)
    key = read_key(out)
    assert key["systems"] == {"a": "copy-first-frame", "b": "copy-last-reference"}
    assert len(key["pairs"]) == 6 and key["per_dataset"] == {"synthtvp": 6}
    site = out / "site"
    assert not list(site.rglob(KEY))
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in ("copy-first-frame", "copy-last-reference", "runs/sample", "synthtvp-move1"):
                assert secret.encode() not in data, f"{path.name} names {secret}"
    page = (site / "index.html").read_text()
    study = json.loads(page.split('<script type="application/json" id="study">')[1].split("</script>")[0])
    for pair in study["pairs"]:  # the page's two videos are the key's, in an order the key alone explains
        assert set(pair["videos"]) == set(key["pairs"][pair["id"]]["videos"])
        assert (site / pair["reference"]).is_file() and all((site / v).is_file() for v in pair["videos"])
    sides = [key["pairs"][p["id"]]["videos"][p["videos"][0]] for p in study["pairs"]]
    assert set(sides) == {"a", "b"}  # which system is listed first varies
    links = (out / "links.txt").read_text().split()
    assert len(links) == 4 and all(link.startswith("site/index.html#rater=") for link in links)

    again = cli("human-eval", "make", "--a", "a", "--b", "b", "--pairs", "6", "--out", str(out))
    assert again.code == 1 and "is not empty" in again.err
    same = cli("human-eval", "make", "--a", "a", "--b", "a", "--out", str(tmp_path / "x"))
    assert same.code == 2 and "both sides are copy-first-frame" in same.err
    many = cli(
        "human-eval",
        "make",
        "--a",
        "a",
        "--b",
        "b",
        "--per-dataset",
        "synthtvp=9",
        "--out",
        str(tmp_path / "y"),
    )
    assert many.code == 1 and "only 8 of its clips" in many.err


def test_pairs_are_drawn_per_dataset_by_the_seed():
    shared = {
        "ssv2": [f"s{i}" for i in range(80)],
        "bridge": [f"b{i}" for i in range(30)],
        "epic": [f"e{i}" for i in range(30)],
    }
    quota = {"ssv2": 50, "bridge": 25, "epic": 25}
    chosen = choose_pairs(shared, None, quota, seed=3)
    assert [sum(d == name for d, _ in chosen) for name in quota] == [50, 25, 25]
    assert len(set(chosen)) == 100 and chosen == choose_pairs(shared, None, quota, seed=3)
    assert chosen != choose_pairs(shared, None, quota, seed=4)
    even = choose_pairs(shared, 10, None, seed=0)
    assert sorted(sum(d == n for d, _ in even) for n in shared) == [3, 3, 4]


def _answers(key: dict, plan: dict[str, list[str]], rater: str) -> list[dict]:
    """A rater's answers: for each question, the planted outcome of each pair (a, b or tie), as the page
    records them (what was on the left and right; the choice)."""
    found = []
    for question, outcomes in plan.items():
        for (pair_id, pair), outcome in zip(sorted(key["pairs"].items()), outcomes, strict=True):
            by_side = {side: video for video, side in pair["videos"].items()}
            left, right = by_side["b"], by_side["a"]  # b shown left: the choice must be read through the key
            choice = {"a": "right", "b": "left", "tie": "tie"}[outcome]
            found.append(
                {"pair": pair_id, "question": question, "choice": choice, "left": left, "right": right}
            )
    return found


def test_planted_answers_give_the_planted_preferences(cli, tmp_path):
    out = make_study(cli, tmp_path)
    key = read_key(out)
    # 4 raters × 6 pairs: quality 14 a, 6 b, 4 ties; instruction: everyone prefers a
    quality = [
        ["a", "a", "a", "b", "tie", "a"],
        ["a", "a", "b", "a", "a", "tie"],
        ["a", "b", "a", "tie", "a", "b"],
        ["a", "a", "b", "tie", "a", "b"],
    ]
    files = []
    for r, token in enumerate(json.loads((out / "raters.json").read_text())["raters"]):
        plan = {"quality": quality[r], "instruction": ["a"] * 6}
        export = {"study": key["study"], "rater": token, "answers": _answers(key, plan, token)}
        path = tmp_path / f"answers-{r}.json"
        path.write_text(json.dumps(export))
        files.append(str(path))
    (tmp_path / "other.json").write_text(
        json.dumps({"study": "another", "rater": "x", "answers": [{"pair": "p001"}]})
    )
    scored = cli("human-eval", "score", str(out), *files, str(tmp_path / "other.json"))
    assert scored.code == 0, scored.err
    summary = json.loads(next((tmp_path / "results/runs/human").glob("*/summary.json")).read_text())
    study = summary["studies"][0]
    assert study["skipped"] == {"another study": 1}
    q = study["questions"]["quality"]
    assert q["counts"] == {"a": 14, "b": 6, "tie": 4} and q["answers"] == 24
    assert q["a"]["value"] == pytest.approx(14 / 24) and q["tie"]["value"] == pytest.approx(4 / 24)
    assert q["a"]["ci_low"] < 14 / 24 < q["a"]["ci_high"] and q["a_minus_b"]["value"] == pytest.approx(8 / 24)
    i = study["questions"]["instruction"]
    assert i["a"]["value"] == 1.0 and i["b"]["value"] == 0.0 and i["alpha"] is None  # one value: α undefined
    assert "coherence" not in study["questions"]  # nobody answered it
    records = [
        json.loads(x)
        for x in next((tmp_path / "results/runs/human").glob("*/records.jsonl")).read_text().splitlines()
    ]
    assert {(r["metric"], r["system"]) for r in records} >= {("preference-quality@human", "copy-first-frame")}
    assert "quality      A 58.3% [" in scored.out and "tie 16.7%" in scored.out

    report = cli("report", "--preset", "smoke")
    assert report.code == 0, report.err
    md = (tmp_path / "results/reports/smoke/report.md").read_text()
    assert "## Human evaluation (ours)" in md and "58% [" in md
    assert "chart human study" in (tmp_path / "results/reports/smoke/report.html").read_text()


def test_krippendorffs_alpha_is_the_textbook_value():
    """Krippendorff's worked example (4 observers, 12 units, nominal values, missing ones as 0): α = 0.743."""
    codes = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
        ]
    )
    assert scoring.krippendorff_alpha(codes) == pytest.approx(0.743, abs=5e-4)
    assert scoring.krippendorff_alpha(np.array([[1, 2, 1], [1, 2, 1]])) == pytest.approx(1.0)


def test_bradley_terry_recovers_planted_strengths():
    rng = np.random.default_rng(0)
    planted = {"x": 0.5, "y": 0.3, "z": 0.2}
    outcomes = []
    for i, j in (("x", "y"), ("y", "z"), ("x", "z")):
        for _ in range(3000):
            outcomes.append((i, j, i if rng.random() < planted[i] / (planted[i] + planted[j]) else j))
    fitted = scoring.bradley_terry(outcomes)
    for name, value in planted.items():
        assert fitted[name] == pytest.approx(value, abs=0.02)
    lopsided = scoring.bradley_terry([("x", "y", "x")] * 20 + [("y", "z", "tie")] * 5)
    assert np.isfinite(list(lopsided.values())).all() and lopsided["x"] > lopsided["y"]


def test_the_server_collects_answers_durably_and_only_from_its_raters(cli, tmp_path):
    from aidbench.human.serve import server

    out = make_study(cli, tmp_path)
    key = read_key(out)
    token = json.loads((out / "raters.json").read_text())["raters"][0]
    httpd = server(out, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    def post(body: dict) -> int:
        request = urllib.request.Request(
            f"{base}/answers", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            return urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as err:
            return err.code

    try:
        assert urllib.request.urlopen(f"{base}/index.html", timeout=10).status == 200
        with pytest.raises(urllib.error.HTTPError):  # the key is above the served folder
            urllib.request.urlopen(f"{base}/../key.json", timeout=10)
        answer = _answers(key, {"quality": ["a", "b", "tie", "a", "a", "b"]}, token)
        assert all(post({"study": key["study"], "rater": token, "answer": a}) == 200 for a in answer)
        assert post({"study": key["study"], "rater": "not-a-rater", "answer": answer[0]}) == 403
        assert post({"study": "another", "rater": token, "answer": answer[0]}) == 400
    finally:
        httpd.shutdown()
        httpd.server_close()
    lines = (out / "answers.jsonl").read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["rater"] == token
    scored = cli("human-eval", "score", str(out))
    assert scored.code == 0, scored.err
    summary = json.loads(next((tmp_path / "results/runs/human").glob("*/summary.json")).read_text())
    assert summary["studies"][0]["questions"]["quality"]["counts"] == {"a": 3, "b": 2, "tie": 1}
