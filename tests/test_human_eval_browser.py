"""The questionnaire in a real browser: headless Chromium opens a study's page from the disk with a rater's
link, a script appended to a copy of the page answers every question by clicking, checks the progress
line, clicks "Export answers", and --dump-dom reads the export back; `human-eval score` then scores it.

Without Chromium the test skips here and fails in CI (CI=true), as tests/test_report_browser.py decides."""

from __future__ import annotations

import json
import os
import subprocess
from html import unescape

from aidbench.human.study import read_key
from tests.test_human_eval import make_study
from tests.test_report_browser import FLAGS, _chromium

# Clicks "Video 1" for the first question of each pair, "Video 2" for the second, "Same" for the third.
ANSWER_ALL = """
<pre id="progress-seen"></pre>
<pre id="layout"></pre>
<script>
const values = ["left", "right", "tie"];
document.getElementById("layout").textContent = JSON.stringify(Array.from(document.querySelectorAll(".pair"))
  .map((pair) => [pair.dataset.pair, pair.querySelectorAll("img")[1].getAttribute("src")]));
document.querySelectorAll(".pair").forEach((pair) => {
  pair.querySelectorAll(".choices").forEach((choices, i) => {
    choices.querySelector(`input[value="${values[i % 3]}"]`).click();
  });
});
document.getElementById("progress-seen").textContent = document.getElementById("progress").textContent;
document.getElementById("export").click();
</script>
"""


def _open(page, rater: str, tmp_path) -> str:
    browser = _chromium()
    env = {**os.environ, "HOME": str(tmp_path)}  # Chromium's profile stays in the tmp folder
    url = f"{page.resolve().as_uri()}#rater={rater}"
    done = subprocess.run(
        [browser, *FLAGS, "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _between(dom: str, start: str, end: str = "</pre>") -> str:
    return unescape(dom.split(start, 1)[1].split(end, 1)[0])


def test_a_rater_answers_every_question_by_clicking_and_the_export_is_scored(cli, tmp_path):
    out = make_study(cli, tmp_path)
    key = read_key(out)
    token = json.loads((out / "raters.json").read_text())["raters"][1]
    site = out / "site"
    answering = site / "answering.html"  # beside index.html, so media/ resolves the same way
    answering.write_text((site / "index.html").read_text().replace("</body>", ANSWER_ALL + "</body>"))
    dom = _open(answering, token, tmp_path)
    assert _between(dom, '<pre id="progress-seen">') == "18 / 18 answered"
    export = json.loads(_between(dom, '<pre id="exported">'))
    assert export["study"] == key["study"] and export["rater"] == token and len(export["answers"]) == 18
    for answer in export["answers"]:  # what was shown where: the pair's own two videos
        assert {answer["left"], answer["right"]} == set(key["pairs"][answer["pair"]]["videos"])
    sides = {
        a["pair"]: key["pairs"][a["pair"]]["videos"][a["left"]]
        for a in export["answers"]
        if a["question"] == "quality"
    }
    assert set(sides.values()) == {"a", "b"}  # the left video is A for some pairs, B for others

    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    scored = cli("human-eval", "score", str(out), str(path))
    assert scored.code == 0, scored.err
    study = json.loads(next((tmp_path / "results/runs/human").glob("*/summary.json")).read_text())["studies"][
        0
    ]
    assert study["questions"]["coherence"]["counts"] == {"a": 0, "b": 0, "tie": 6}
    left_a = sum(side == "a" for side in sides.values())
    questions = study["questions"]  # Video 1 (left) for the instruction, Video 2 for quality, ties last
    assert questions["instruction"]["counts"] == {"a": left_a, "b": 6 - left_a, "tie": 0}
    assert questions["quality"]["counts"] == {"a": 6 - left_a, "b": left_a, "tie": 0}

    # the same link shows the same page (pair order and sides); another rater's link another one
    layout = json.loads(_between(dom, '<pre id="layout">'))
    assert json.loads(_between(_open(answering, token, tmp_path), '<pre id="layout">')) == layout
    other = json.loads((out / "raters.json").read_text())["raters"][2]
    assert json.loads(_between(_open(answering, other, tmp_path), '<pre id="layout">')) != layout
