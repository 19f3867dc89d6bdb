"""The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run) opens
the page, a screenshot is taken, and the test fails on any console message or any image that does not
decode (the page's own script writes the media check into #media-status; --dump-dom reads it back).

Without Chromium the test skips here and fails in CI (CI=true)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aidbench.report.build import build_report
from tests import fake_runs

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run")
CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)")


def _chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium not found (Debian: apt-get install chromium; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def browse(page: Path, screenshot: Path) -> tuple[dict, list[str]]:
    """Open `page`: its media status (from the DOM after load) and every console message."""
    browser = _chromium()
    url = page.resolve().as_uri()
    env = {**os.environ, "HOME": str(screenshot.parent)}  # Chromium's profile stays in the tmp folder
    dom = subprocess.run(
        [
            browser,
            *FLAGS,
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = subprocess.run(
        [browser, *FLAGS, "--window-size=1400,3000", f"--screenshot={screenshot}", url],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    match = re.search(r'<pre id="media-status" data-state="(\w+)">([^<]*)</pre>', dom.stdout)
    assert match, "the page has no #media-status element"
    status = json.loads(match.group(2)) if match.group(1) == "checked" else {"state": match.group(1)}
    return status, CONSOLE.findall(dom.stderr)


def test_report_page_loads_every_image_without_console_errors(tmp_path):
    for system in ("aid", "svd-zeroshot", "vae-recon"):
        run = fake_runs.sample_run(system)
        fake_runs.eval_run(run, {"psnr@synthtvp": (20.0, 19.0, 21.0)}, run_id=f"eval-{system}")
    full = fake_runs.sample_run("aid", dataset="ssv2", clips=("101",), run_id="s-ssv2")
    fake_runs.eval_run(full, {"fvd@seer": (61.5, 55.25, 70.0)}, run_id="eval-ssv2")
    build_report(tmp_path / "out", preset="smoke")
    page = tmp_path / "out/report.html"
    html = page.read_text()
    expected = html.count("<img ")
    # 3 clips × (first frame, ground truth, 3 systems) + charts: synthtvp PSNR, and in 6 paper tables the
    # SSv2 FVD and the synthtvp miniature's PSNR
    assert expected == 3 * 5 + 1 + 6 * 2

    status, console = browse(page, tmp_path / "report.png")
    assert console == []
    assert status == {"total": expected, "broken": []}
    shot = np.asarray(Image.open(tmp_path / "report.png").convert("RGB"))
    assert shot.shape == (3000, 1400, 3)
    assert (shot < 200).any(axis=2).mean() > 0.02  # something was drawn, not a blank page


def test_the_browser_check_catches_broken_media_and_script_errors(tmp_path):
    """The same check on a page with one corrupt preview and a script error must fail (it can fail)."""
    aid = fake_runs.sample_run("aid")
    fake_runs.eval_run(aid, {"psnr@synthtvp": (20.0, 19.0, 21.0)}, run_id="eval-aid")
    build_report(tmp_path / "out", preset="smoke")
    html = (tmp_path / "out/report.html").read_text()
    broken = html.replace('src="data:image/webp;base64,', 'src="data:image/webp;base64,AAAA', 1)
    broken = broken.replace("</body>", "<script>undefinedFunction();</script></body>")
    page = tmp_path / "broken.html"
    page.write_text(broken)
    status, console = browse(page, tmp_path / "broken.png")
    assert status["total"] == html.count("<img ")
    assert status["broken"] == ["ground truth synthtvp-move1-test-00000-0"]
    assert any("undefinedFunction is not defined" in line for line in console)
