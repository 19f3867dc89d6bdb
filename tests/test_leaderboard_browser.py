"""The leaderboard page in a real browser: headless Chromium clicks a column's header, the page's own
script sorts the rows, and a script appended to a copy of the page writes the row order (each row's
data-system) into #order, which --dump-dom reads back.

Without Chromium the test skips here and fails in CI (CI=true), as tests/test_report_browser.py decides."""

from __future__ import annotations

import json
import os
import re
import subprocess
from html import unescape

from aidbench.report import leaderboard as board
from tests.test_report_browser import FLAGS, _chromium

METRIC = "psnr@synthtvp"
CLIPS = ("c0", "c1", "c2", "c3")
# (system, PSNR): distinct values, so the order is one and its reverse exact; the short row has the best.
ROWS = (("mid", 20.5), ("<b>worst</b>", 9.25), ("best", 31.0), ("short", 99.0), ("second", 25.0))

# Clicks `key`'s header twice, then the system's, and records the order after each click.
CLICKS = """
<pre id="order"></pre>
<script>
const order = () => Array.from(document.querySelectorAll("#leaderboard tbody tr")).map((r) => r.dataset.system);
const click = (key) => document.querySelector(`th[data-key="${key}"]`).click();
const seen = { initial: order() };
click(KEY); seen.first = order();
click(KEY); seen.second = order();
click("system"); seen.by_name = order();
document.getElementById("order").textContent = JSON.stringify(seen);
</script>
"""


def _board() -> board.Leaderboard:
    rows = []
    for system, value in ROWS:
        cell = board.Cell(METRIC, value, value - 1, value + 1, 0.95, 4, f"eval-{len(rows)}", f"s-{len(rows)}")
        clips = CLIPS[:3] if system == "short" else CLIPS
        coverage = board.Coverage(clips, missing=CLIPS[3:] if system == "short" else ())
        rows.append(
            board.Row(system, {METRIC: cell}, board.Provenance(cell.sample_run, cell.eval_run), coverage)
        )
    return board.Leaderboard("synthtvp", [METRIC], board.rank(rows, METRIC), ranked_by=METRIC, expected=CLIPS)


def _orders(tmp_path, key: str) -> dict[str, list[str]]:
    browser = _chromium()
    page = board.html_page(_board())
    clicking = CLICKS.replace("KEY", json.dumps(key))
    path = tmp_path / "clicked.html"
    path.write_text(page.replace("</body>", clicking + "</body>"))
    env = {**os.environ, "HOME": str(tmp_path)}  # Chromium's profile stays in the tmp folder
    dom = subprocess.run(
        [browser, *FLAGS, "--virtual-time-budget=5000", "--dump-dom", path.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    match = re.search(r'<pre id="order">([^<]*)</pre>', dom.stdout)
    assert match and match.group(1), "the click script did not run"
    return json.loads(unescape(match.group(1)))


def test_header_click_sorts_rows_and_a_second_click_reverses(tmp_path):
    orders = _orders(tmp_path, f"{METRIC}:value")
    complete = {name: value for name, value in ROWS if name != "short"}
    up = sorted(complete, key=complete.get)
    # complete rows sorted by the value, the short row kept below them however it is sorted
    assert orders["first"] == [*up, "short"]
    assert orders["second"] == [*reversed(up), "short"]
    # as built: ranked best first (PSNR: higher is better), the short row last and unranked
    assert orders["initial"] == [*reversed(up), "short"]
    assert orders["by_name"] == [*sorted(complete), "short"]
