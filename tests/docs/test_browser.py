"""The QA report in a real browser (headless Chromium): every image loads, no console message.

A copy of the page with a small checking script is loaded from disk; the script records the
images that failed to load in the DOM, which Chromium dumps; console messages come on stderr.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

_CHECK = """<script>window.addEventListener("load", () => {
  const bad = [...document.images]
    .filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.getAttribute("src"));
  document.body.setAttribute("data-missing", JSON.stringify(bad));
  document.body.setAttribute("data-images", String(document.images.length));
  console.log("potpyri-check-done");
});</script>"""


def _chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


def _load(page) -> tuple[str, str]:
    proc = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout, proc.stderr


@pytest.mark.skipif(
    _chromium() is None,
    reason="chromium is not installed (apt-get install chromium): "
    "the browser check of the QA report did not run",
)
def test_report_opens_in_chromium_without_missing_images_or_console_errors(reduced_night):
    report = reduced_night.report
    page = report.with_name("_browser_check.html")
    page.write_text(report.read_text().replace("</body>", _CHECK + "</body>"))
    try:
        dom, log = _load(page)
    finally:
        page.unlink()
    missing = re.search(r'data-missing="([^"]*)"', dom)
    images = re.search(r'data-images="(\d+)"', dom)
    assert missing and images, f"the checking script did not run; chromium said:\n{log[-2000:]}"
    assert json.loads(missing.group(1).replace("&quot;", '"')) == [], "images that did not load"
    assert int(images.group(1)) >= 2
    console = [ln for ln in log.splitlines() if ":CONSOLE" in ln and "potpyri-check-done" not in ln]
    assert console == [], "console messages:\n" + "\n".join(console)
