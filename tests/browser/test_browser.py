"""The real app in a real browser: `streamlit run app/main.py` on a free localhost port, driven by
Playwright and Debian's Chromium. Saves the README's screenshots to docs/screenshots/.

Only localhost traffic: every other request the page makes is aborted.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
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


@contextlib.contextmanager
def running_app(env: dict[str, str] | None = None, log=subprocess.DEVNULL):
    """`streamlit run app/main.py` on a free localhost port with `env` added; yields its URL, stops it after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
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


@contextlib.contextmanager
def chromium():
    """Debian's Chromium through Playwright, with the flags that keep it offline and quiet."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server():
    log_path = ROOT / ".pytest_cache" / "streamlit-browser.log"
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(log_path, "w")) if log_path.parent.is_dir() else subprocess.DEVNULL
        yield stack.enter_context(running_app(log=log))


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


def _new_page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    context.route(re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/]).*"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(120_000)
    return context, page


@pytest.fixture(scope="module")
def browser_page(browser):
    context, page = _new_page(browser, 1400, 900)
    yield page
    context.close()


@pytest.fixture
def projector_page(browser):
    """A fresh session on a 1280x720 projector."""
    context, page = _new_page(browser, 1280, 720)
    yield page
    context.close()


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


def _eventually(check, timeout: float = 120.0, interval: float = 0.25):
    """Run `check` (a function with assertions on what the page draws) until it passes; after the
    deadline, once more, so that its own assertion message is what fails the test. A page drawn in
    several steps (a table below a button, a chart's traces) is read only once it is all there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return check()
        except AssertionError:
            time.sleep(interval)
    return check()


LAST_ELEMENT = {  # the last thing each page draws: once it is there and no run is going on, the page is complete
    "build": lambda page: page.get_by_role("button", name=re.compile("^Measure latency")),
    "attention": lambda page: page.get_by_role("button", name="Download the figures (CSV)"),
    "learn": lambda page: page.get_by_role("link", name=re.compile("Open the experiment")),
    "experiment": lambda page: page.get_by_role("button", name=re.compile("Train the quick version here")),
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
    # Click on the track (keys move the thumb but send nothing until release).
    page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] / 2)
    after = _poll(lambda: (value := _metric(page, "Parameters")) != before and value)
    assert float(after.split()[0]) > float(before.split()[0])
    _poll(lambda: "phi=" in page.url)
    page.mouse.move(0, 0)
    _full_screenshot(page, "build")


def test_attention_page_shows_panels_and_a_clear_error(server, browser_page):
    page = browser_page
    page.goto(server + "/attention")  # its own address: the test does not depend on another having opened the app
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
    page.goto(server + "/learn")
    page.locator(".katex").first.wait_for()
    _full_screenshot(page, "learn")
    page.get_by_role("link", name=re.compile("depth × 2 only")).click()
    _poll(lambda: page.locator("[data-testid=stMetric]").count() >= 6 and _metric(page, "Depth ×") == "2.00")
    assert _metric(page, "Width ×") == "1.00"


# --- a projector at 1280x720 -----------------------------------------------------------------
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")
# Every text node inside a metric whose content is wider than its box is cut (an ellipsis or a clip).
CUT_METRICS = """scope => [...document.querySelectorAll(scope + ' [data-testid=stMetric]')].flatMap(metric =>
    [...metric.querySelectorAll(`[data-testid=stMetricValue], [data-testid=stMetricValue] *,
                                 [data-testid=stMetricLabel] *, [data-testid=stMetricDelta], [data-testid=stMetricDelta] *`)]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => metric.querySelector('[data-testid=stMetricLabel]').innerText + ': ' + e.innerText))"""


def _metrics_read_in_full(page, scope: str = "[data-testid=stApp]") -> dict[str, str]:
    """Every metric in `scope` by label; none in scientific notation, none cut."""
    values = page.locator(f"{scope} [data-testid=stMetric]").evaluate_all(
        "metrics => metrics.map(m => [m.querySelector('[data-testid=stMetricLabel]').innerText.trim(),"
        " m.querySelector('[data-testid=stMetricValue]').innerText.trim()])")
    shown = dict(values)
    assert not [v for v in shown.values() if SCIENTIFIC.search(v)], shown
    assert page.evaluate(CUT_METRICS, scope) == []
    return shown


def _choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (a click on the box, then on the option)."""
    box = page.get_by_role("combobox", name=label, exact=True)  # react-aria's ComboBox in Streamlit 1.67
    box.scroll_into_view_if_needed()

    def opened() -> bool:
        if box.get_attribute("aria-expanded") != "true":
            box.click()
            page.wait_for_timeout(300)
        return box.get_attribute("aria-expanded") == "true"

    _poll(opened)
    page.locator("[role=option]").filter(has_text=re.compile(f"^{re.escape(option)}$")).click()


def test_extreme_configuration_and_a_batch_32_run_read_in_full_at_1280x720(server, projector_page):
    page = projector_page
    page.goto(server + "/?mode=Manual&depth=8&width=8&resolution=1024")
    _poll(lambda: page.locator("[data-testid=stMetric]").count() >= 6 and _metric(page, "Resolution") == "1024 px")
    _idle(page, "build")
    shown = _metrics_read_in_full(page)
    assert shown["Parameters"] == "2.36 G" and shown["FLOPs"] == "3.85 T"  # was "2359.00 M", "3.85e+03 B"

    page.goto(server + "/?preset=B0")  # a network that builds here; batch 32 takes seconds per run on a CPU
    _poll(lambda: page.locator("[data-testid=stMetric]").count() >= 6 and _metric(page, "Resolution") == "224 px")
    _idle(page, "build")
    _choose(page, "Batch size (images)", "32")
    page.get_by_role("button", name=re.compile("^Measure latency")).click()
    _poll(lambda: page.locator("[data-testid=stMetricLabel]", has_text="Achieved").count() > 0, timeout=300)
    _idle(page, "build")
    shown = _metrics_read_in_full(page)
    assert re.fullmatch(r"[\d.]+ (ms|s)", shown["Median latency"]), shown
    assert re.fullmatch(r"[\d.]+–[\d.]+ (ms|s)", shown["Spread (p10–p90)"]), shown
    assert re.fullmatch(r"[\d.]+ k?images/s|[\d.]+ k images/s", shown["Throughput"]), shown
    assert re.fullmatch(r"[\d.]+ [kMGT]?FLOP/s", shown["Achieved"]), shown
    # PyTorch's line, and ONNX Runtime's beside it when it was timed too (on by default on a CPU)
    assert page.get_by_text(re.compile(r"batch 32, float32, 224x224")).count() >= 1


def test_show_me_scrolls_to_its_chart_and_marks_it(server, projector_page):
    page = projector_page
    page.goto(server + "/learn")
    page.locator(".katex").first.wait_for()
    _idle(page, "learn")
    page.get_by_role("link", name=re.compile("chart ① ")).click()
    target = page.locator(".st-key-focus_flops_phi")
    target.wait_for()

    def in_view() -> bool:
        box = target.bounding_box()
        return bool(box) and 0 <= box["y"] <= 720 / 3  # its top in the upper third of the screen

    _poll(in_view)
    assert target.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    assert "From Learn" in target.inner_text()
    assert "focus=" not in page.url and "phi=5" in page.url


def test_a_b0_state_dict_uploads_and_a_bad_checkpoint_is_one_line_naming_it(server, projector_page):
    import torch
    import torchvision

    page = projector_page
    good = ROOT / ".pytest_cache" / "b0_state_dict.pt"
    bad = ROOT / ".pytest_cache" / "lecture notes.pt"
    good.parent.mkdir(exist_ok=True)
    torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), good)  # 21 MB: over the old limit
    bad.write_text("these are lecture notes, not a checkpoint\n")

    page.goto(server + "/attention?preset=B0")
    _choose(page, "Comparison", "Uploaded checkpoint (.pt / .pth) in the current slider configuration")
    uploader = page.locator("[data-testid=stFileUploader]").filter(has_text="Checkpoint").locator("input[type=file]")
    uploader.wait_for(state="attached")
    uploader.set_input_files(str(good))
    _poll(lambda: page.get_by_text(re.compile(r"^Target:")).count() == 1
          and page.get_by_text("Download panel (PNG)").count() == 1, timeout=300)

    uploader.set_input_files(str(bad))
    alert = page.locator("[data-testid=stAlert]").filter(has_text="lecture notes.pt")
    alert.first.wait_for()
    message = alert.first.inner_text().strip()
    assert "\n" not in message and "checkpoint" in message and "chelsea" not in message
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", message), message
    assert page.locator("[data-testid=stException]").count() == 0

    uploader.set_input_files(str(good))  # a good file replaces the bad one: the message goes
    _poll(lambda: page.get_by_text(re.compile(r"^Target:")).count() == 1 and alert.count() == 0, timeout=300)


def test_projector_mode_opens_from_a_link_with_large_type_and_a_collapsible_sidebar(server, projector_page):
    page = projector_page
    page.goto(server + "/")
    _idle(page, "build")
    normal = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    normal_metric = page.locator("[data-testid=stMetricValue]").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    page.get_by_role("link", name="Open the lab in projector mode").click()
    _poll(lambda: page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") > normal * 1.2)
    _poll(lambda: "projector=1" in page.url)
    _idle(page, "build")
    big_metric = page.locator("[data-testid=stMetricValue]").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert big_metric > 1.3 * normal_metric
    _metrics_read_in_full(page)
    # The link in the address bar opens the lab in projector mode in a new session.
    link = page.url
    other = page.context.new_page()
    other.goto(link)
    _idle(other, "build")
    assert other.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") > normal * 1.2
    other.close()
    # Collapse the sidebar: the page takes the whole width.
    main_before = page.locator("[data-testid=stMain]").bounding_box()["width"]
    page.locator("[data-testid=stSidebar]").hover()
    page.locator("[data-testid=stSidebarCollapseButton] button").click()
    _poll(lambda: page.locator("[data-testid=stMain]").bounding_box()["width"] > main_before + 200)
    _metrics_read_in_full(page, "[data-testid=stMain]")  # the hidden sidebar's metrics have no width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "projector.png"))


def test_pin_and_compare_in_the_browser_and_in_the_link(server, projector_page):
    page = projector_page
    page.goto(server + "/?preset=B0")
    _poll(lambda: page.locator("[data-testid=stMetric]").count() >= 6 and _metric(page, "Resolution") == "224 px")
    _idle(page, "build")
    page.get_by_role("button", name="Pin this configuration").click()
    _poll(lambda: page.get_by_text("Pinned: EfficientNet-B0").count() == 1, timeout=60)
    assert "pin=b0" in page.url, page.url
    _choose(page, "Preset", "B4")
    heading = page.get_by_text("Pinned EfficientNet-B0 → current EfficientNet-B4")
    _poll(lambda: heading.count() == 1 and _metric(page, "Resolution") == "380 px")
    _idle(page, "build")
    table = page.locator("[data-testid=stTable]").first
    assert "×3.66" in table.inner_text()  # 19,341,616 / 5,288,548 parameters (torchvision)
    assert page.locator(".legendtext", has_text="pinned B0").count() >= 3  # charts ① to ③
    _metrics_read_in_full(page)
    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "pin_and_compare.png"))
    other = page.context.new_page()  # the address reopens both
    other.goto(page.url)
    other.get_by_text("Pinned EfficientNet-B0 → current EfficientNet-B4").wait_for()
    other.close()
