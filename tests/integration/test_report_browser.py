"""report.html in a real browser: headless Chromium runs its JavaScript, and the timeline and the
anomaly list appear (elements that only timeline.js creates), with the anomaly's ops highlighted
when the page is opened on `#anomaly=0`. A screenshot shows a picture, not a blank page."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from harness.report import write_report
from tests.support.run_folders import write_run_folder

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("!!! CHROMIUM IS MISSING: the report was NOT tested in a browser. "
                    "Install Debian's `chromium` (scripts/setup.sh does) to run this test. !!!")
    return CHROMIUM


def browse(chromium: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=90)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_run_folder(tmp_path_factory.mktemp("runs"), valid=False)
    return write_report(folder)[0]


def test_timeline_and_anomaly_list_render(chromium: str, report: Path) -> None:
    static = report.read_text(encoding="utf-8")
    assert 'id="timeline-canvas"' not in static, "the canvas must come from the script"
    dom = browse(chromium, report.as_uri(), "--dump-dom").stdout
    assert 'id="timeline-canvas"' in dom, "timeline.js did not create the canvas"
    timeline = re.search(r'<div id="timeline"[^>]*>', dom).group(0)
    assert 'data-rendered="true"' in timeline
    assert int(re.search(r'data-bars-drawn="(\d+)"', timeline).group(1)) > 500
    assert re.search(r'<ul id="anomaly-list" data-count="3"', dom)
    items = re.findall(r'<li class="finding (anomaly|warning)" data-anomaly="(\d)"', dom)
    assert items == [("anomaly", "0"), ("anomaly", "1"), ("warning", "2")]
    assert "overlapping-holds" in dom and "2 anomalies, 1 warnings" in dom
    shown = re.search(r"showing 0 s – ([\d.]+) s of ([\d.]+) s", dom)   # the toolbar: the whole run
    assert shown and shown.group(1) == shown.group(2) and 11.0 < float(shown.group(1)) < 13.0


def test_opening_an_anomaly_zooms_onto_its_ops(chromium: str, report: Path) -> None:
    dom = browse(chromium, report.as_uri() + "#anomaly=0", "--dump-dom").stdout
    assert re.search(r'<li class="finding anomaly selected" data-anomaly="0"', dom)
    assert re.search(r'<li class="finding anomaly" data-anomaly="1"', dom)
    timeline = re.search(r'<div id="timeline"[^>]*>', dom).group(0)
    drawn = int(re.search(r'data-bars-drawn="(\d+)"', timeline).group(1))
    assert 0 < drawn < 100, "zoomed onto the anomaly, only the ops around it are drawn"


def test_screenshot_is_a_picture(chromium: str, report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    browse(chromium, report.as_uri(), f"--screenshot={shot}", "--window-size=1400,1000")
    assert shot.exists() and shot.stat().st_size > 30_000
    pixels = image.imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (1000, 1400)
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200, "a blank or one-colour page"
    # the timeline's bars: many pixels of the ok green and the fail red (style.OUTCOME_COLOURS)
    rgb = (pixels * 255).astype(int)
    green = np.all(np.abs(rgb - [0x4c, 0xaf, 0x50]) < 12, axis=2).sum()
    red = np.all(np.abs(rgb - [0xe0, 0x52, 0x4a]) < 12, axis=2).sum()
    assert green > 2000 and red > 500, (green, red)


PROBE = """<script>
// drive the page as a person would: wheel-zoom, hover until a tooltip shows, click an anomaly, clear
(function () {
  var canvas = document.getElementById("timeline-canvas"), box = canvas.getBoundingClientRect();
  var where = document.querySelector(".tl-where"), tip = document.getElementById("tl-tooltip");
  var out = {before: where.textContent};
  for (var y = 5; y < box.height && !out.tip; y += 4) {
    for (var x = 90; x < box.width && !out.tip; x += 3) {
      canvas.dispatchEvent(new MouseEvent("mousemove", {clientX: box.left + x, clientY: box.top + y, bubbles: true}));
      if (tip.style.display === "block") out.tip = tip.textContent;
    }
  }
  canvas.dispatchEvent(new WheelEvent("wheel", {deltaY: -300, clientX: box.left + box.width / 2,
                                                clientY: box.top + 40, bubbles: true, cancelable: true}));
  out.zoomed = where.textContent;
  document.querySelector("#anomaly-list li.finding").click();
  out.selected = document.querySelectorAll("#anomaly-list li.selected").length;
  out.drawnSelected = +document.getElementById("timeline").getAttribute("data-bars-drawn");
  document.getElementById("tl-clear").click();
  out.cleared = document.querySelectorAll("#anomaly-list li.selected").length;
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
</script></body>"""


def test_zoom_hover_and_select_work(chromium: str, report: Path, tmp_path: Path) -> None:
    import html
    import json

    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    dom = browse(chromium, probed.as_uri(), "--dump-dom").stdout
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the probe script did not run (a JavaScript error?)"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["zoomed"] != probe["before"], "the wheel did not zoom"
    assert re.search(r"(acquire|use|release) .*\[(ok|fail|info)\]", probe["tip"]), probe["tip"]
    assert "invoked" in probe["tip"] and "events #" in probe["tip"]
    assert probe["selected"] == 1 and 0 < probe["drawnSelected"] < 100
    assert probe["cleared"] == 0
