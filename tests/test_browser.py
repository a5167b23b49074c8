"""The real app in a real browser: `streamlit run app/main.py` on a free localhost port, driven by
Playwright and Debian's Chromium. Saves the README's screenshots to docs/screenshots/.

Only localhost traffic: every other request the page makes is aborted.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
CAT_CLASSES = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")  # ImageNet 281-285

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(ROOT / ".pytest_cache" / "streamlit-browser.log", "w") if (ROOT / ".pytest_cache").is_dir() else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        started = time.perf_counter()
        _wait_healthy(url, process)
        print(f"\nstreamlit answered /_stcore/health after {time.perf_counter() - started:.1f} s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        if log is not subprocess.DEVNULL:
            log.close()


@pytest.fixture(scope="module")
def browser_page(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route(re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/]).*"), lambda route: route.abort())
            page = context.new_page()
            page.set_default_timeout(120_000)
            yield page
        finally:
            browser.close()


def _metric(page, label: str) -> str:
    metric = page.locator("[data-testid=stMetric]").filter(
        has=page.locator("[data-testid=stMetricLabel]", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    return metric.locator("[data-testid=stMetricValue]").first.inner_text().strip()


def _poll(condition, timeout: float = 120.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


LAST_ELEMENT = {  # the last thing each page draws: once it is there and no run is going on, the page is complete
    "build": lambda page: page.get_by_role("button", name=re.compile("^Measure latency")),
    "attention": lambda page: page.get_by_role("button", name="Download the figures (CSV)"),
    "learn": lambda page: page.get_by_role("link", name=re.compile("Grad-CAM of Lite0")),
}


def _idle(page, name: str) -> None:
    """Wait until the page has finished its run: its last element is drawn and the status widget
    (shown while a script runs) is gone, twice in a row half a second apart."""
    page.wait_for_selector("[data-testid=stApp]")

    def settled() -> bool:
        return LAST_ELEMENT[name](page).count() > 0 and page.locator("[data-testid=stStatusWidget]").count() == 0

    _poll(lambda: settled() and (page.wait_for_timeout(500) or settled()))


def _full_screenshot(page, name: str, max_height: int = 5000) -> None:
    """The whole page: Streamlit scrolls inside its main container, so the viewport is made as tall as
    that content (up to max_height px), captured, and set back to 1400x900."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    measure = ("() => Math.max(window.innerHeight, ...[...document.querySelectorAll("
               "'[data-testid=stMain], [data-testid=stAppViewContainer], [data-testid=stMainBlockContainer]')]"
               ".map(e => e.scrollHeight))")
    try:
        height = 0
        for _ in range(5):  # charts re-layout when the viewport grows: repeat until the height settles
            new_height = min(int(page.evaluate(measure)), max_height)
            if new_height == height:
                break
            height = new_height
            page.set_viewport_size({"width": 1400, "height": height})
            page.wait_for_timeout(700)
        _idle(page, name)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    finally:
        page.set_viewport_size({"width": 1400, "height": 900})


def test_build_page_moves_with_phi(server, browser_page):
    page = browser_page
    started = time.perf_counter()
    page.goto(server + "/")
    page.wait_for_selector("[data-testid=stApp]")
    _poll(lambda: page.locator("[data-testid=stMetric]").count() >= 6)
    print(f"Build page: metrics shown {time.perf_counter() - started:.1f} s after opening", end="")
    _idle(page, "build")
    print(f", page complete after {time.perf_counter() - started:.1f} s")
    before = _metric(page, "Parameters")
    slider = page.locator("[data-testid=stSidebar] [data-testid=stSlider]").first
    track = slider.locator("[role=group] > [data-orientation=horizontal]").first  # react-aria's track
    box = track.bounding_box()
    # Click on the track (keys move the thumb but send nothing until release; NOTES.md).
    page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] / 2)
    after = _poll(lambda: (value := _metric(page, "Parameters")) != before and value)
    assert float(after.split()[0]) > float(before.split()[0])
    _poll(lambda: "phi=" in page.url)
    page.mouse.move(0, 0)
    _full_screenshot(page, "build")


def test_attention_page_shows_panels_and_a_clear_error(server, browser_page):
    page = browser_page
    page.get_by_role("link", name=re.compile("Attention")).first.click()
    uploader = page.locator("[data-testid=stFileUploader] input[type=file]").first
    uploader.wait_for(state="attached")
    uploader.set_input_files(str(ROOT / "assets" / "chelsea.jpg"))
    # Three panels (Lite0, Lite1, Lite2), each naming a cat class as its target.
    _poll(lambda: page.get_by_text(re.compile(r"^Target:")).count() == 3 and page.get_by_text("Download panel (PNG)").count() == 3)
    targets = page.get_by_text(re.compile(r"^Target:")).all_inner_texts()
    assert all(any(cat in text for cat in CAT_CLASSES) for text in targets), targets
    _full_screenshot(page, "attention")

    fake = ROOT / ".pytest_cache" / "notes.png"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text("these are lecture notes, not a picture\n")
    uploader.set_input_files(str(fake))  # added to the uploaded list, beside chelsea.jpg
    alert = page.locator("[data-testid=stAlert]").filter(has_text="notes.png")
    alert.first.wait_for()
    message = alert.first.inner_text()
    assert "accepted" in message and "\n" not in message.strip()
    _poll(lambda: page.get_by_text(re.compile(r"^Target:")).count() == 3)  # chelsea's panels stay
    assert "Traceback" not in page.content()
    assert page.locator("[data-testid=stException]").count() == 0


def test_learn_page_renders_formulas_and_its_links_set_the_controls(server, browser_page):
    page = browser_page
    page.get_by_role("link", name=re.compile("Learn")).first.click()
    page.locator(".katex").first.wait_for()
    _full_screenshot(page, "learn")
    page.get_by_role("link", name=re.compile("depth × 2 only")).click()
    _poll(lambda: page.locator("[data-testid=stMetric]").count() >= 6 and _metric(page, "Depth ×") == "2.00")
    assert _metric(page, "Width ×") == "1.00"
