"""The HTML report in a real browser (slow): headless Chromium renders report.html to a non-blank
screenshot, every figure decodes, and the page logs no console message or error.

Needs a Chromium binary: `apt-get install chromium` (Debian/Ubuntu), or COSIM_CHROMIUM=/path/to/chrome;
without one the test is skipped and says so. CI: `.ci/run` installs it when COSIM_CI_BROWSER=1.
"""
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from cosim.api import run, write_outputs
from tests.conftest import HW_FILE, WL_FILE

pytestmark = pytest.mark.slow
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120
# Runs first in the page: records script errors, console calls and elements that fail to load,
# then, once everything has loaded, which images decoded; the result lands in the DOM.
PROBE = """<script>
window.__probe = {errors: [], console: []};
window.addEventListener('error', e => window.__probe.errors.push(
  e.message || ('failed to load ' + (e.target && (e.target.tagName + ' ' + (e.target.alt || ''))))), true);
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  const original = console[level];
  console[level] = (...args) => { window.__probe.console.push(level + ': ' + args.join(' ')); original(...args); };
}
window.addEventListener('load', () => {
  const images = [...document.images];
  window.__probe.images = images.length;
  window.__probe.decoded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  const out = document.createElement('pre');
  out.id = 'cosim-probe';
  out.textContent = JSON.stringify(window.__probe);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser's path (checked before any report is made, so a skip costs nothing)."""
    found = os.environ.get("COSIM_CHROMIUM") or next(filter(None, map(shutil.which, CANDIDATES)), None)
    if not found:
        pytest.skip("headless Chromium not found: install it (Debian/Ubuntu: apt-get install chromium) "
                    "or set COSIM_CHROMIUM=/path/to/chromium")
    return found


def browse(binary: str, page, profile, *args) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def report(chromium, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "run"
    write_outputs(run(WL_FILE, HW_FILE, methods=["bp_open_loop", "eapu"], steps=2), out)
    return out


def test_chromium_renders_the_report_with_every_figure_and_no_console_errors(chromium, report, tmp_path):
    binary = chromium
    html = (report / "report.html").read_text(encoding="utf-8")
    figures = (report / "report.md").read_text().count("![")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    done = browse(binary, probe, tmp_path / "profile", "--virtual-time-budget=20000", "--dump-dom")
    found = re.search(r'<pre id="cosim-probe">(.*?)</pre>', done.stdout, re.S)
    assert done.returncode == 0 and found, f"no probe result (rc {done.returncode}):\n{done.stderr[-3000:]}"
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["errors"] == [] and result["console"] == []
    assert result["images"] == figures >= 8 and result["decoded"] == figures
    page_console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert page_console == [], "\n".join(page_console)

    shot = tmp_path / "report.png"
    done = browse(binary, report / "report.html", tmp_path / "profile2", "--window-size=1200,2400",
                  f"--screenshot={shot}")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-3000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    ink = (pixels.mean(axis=2) < 0.9).mean()                    # share of non-white pixels
    assert ink > 0.02, f"screenshot is (nearly) blank: {ink:.2%} non-white"
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50   # text, tables, colour
