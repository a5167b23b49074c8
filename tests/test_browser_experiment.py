"""The Experiment page in Chromium: the real app on a localhost port, driven by Playwright.

The server shows $EFFNET_EXPERIMENT_RESULTS when it is set, else the committed results
(results/experiment) when they exist, else a real quick run made here (40 scenes, one epoch: about
20 s). Saves docs/screenshots/experiment.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_browser import CHROMIUM, ROOT, _full_screenshot, _new_page, _poll, chromium, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]
COMMITTED = ROOT / "results" / "experiment"
NETWORKS = ("Baseline", "Deeper (d ×", "Wider (w ×", "Higher resolution (r ×", "Compound (d ×")


@pytest.fixture(scope="module")
def results_folder(tmp_path_factory) -> Path:
    configured = os.environ.get("EFFNET_EXPERIMENT_RESULTS")
    if configured:
        return Path(configured)
    if (COMMITTED / "results.json").exists():
        return COMMITTED
    out = tmp_path_factory.mktemp("quick")
    subprocess.run([sys.executable, "-m", "effnet", "experiment", "run", "--quick", "--threads", "1", "--out", str(out),
                    "--train-size", "40", "--test-size", "20", "--epochs", "1"],
                   cwd=ROOT, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return out


@pytest.fixture(scope="module")
def experiment_server(results_folder):
    with running_app({"EFFNET_EXPERIMENT_RESULTS": str(results_folder),
                      # the real quick run, shrunk so the test trains in about a minute (the page shows these flags)
                      "EFFNET_QUICK_RUN_ARGS": "--train-size 600 --test-size 100 --epochs 2"}) as url:
        yield url


@pytest.fixture(scope="module")
def experiment_browser(experiment_server):
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def experiment_page(experiment_browser):
    context, page = _new_page(experiment_browser, 1400, 900)
    yield page
    context.close()


def _verdicts(page) -> list[str]:
    return page.get_by_text(re.compile(r"^(✓ right|✗ wrong): ", re.M)).all_inner_texts()  # after the network's name


def test_the_experiment_page_shows_the_table_the_charts_and_the_panels(experiment_server, experiment_page):
    page = experiment_page
    started = time.perf_counter()
    page.goto(experiment_server + "/experiment")
    page.wait_for_selector("[data-testid=stApp]")
    table = page.locator("[data-testid=stTable]")  # the answer, in parts when too wide for the column
    table.first.wait_for()
    _poll(lambda: len(_verdicts(page)) == 15)  # three scenes × five networks
    print(f"\nExperiment page: panels shown {time.perf_counter() - started:.1f} s after opening")
    text = " ".join(table.all_inner_texts())
    for network in NETWORKS:
        assert network in text
    for top1 in ("77.3 %", "79.0 %", "78.9 %", "79.1 %", "81.1 %"):  # the paper's Table 7
        assert top1 in text
    assert "Paper: top-1 (ImageNet)" in text and not re.search(r"\d[eE][+-]?\d", text)
    _poll(lambda: page.locator(".js-plotly-plot").count() == 3)
    _poll(lambda: page.locator("[data-testid=stImage] img").count() >= 18)  # 3 scenes + 15 panels
    assert page.locator("[data-testid=stException]").count() == 0 and "Traceback" not in page.content()

    before = page.get_by_text(re.compile(r"^class: ")).all_inner_texts()
    page.get_by_role("button", name=re.compile("Draw new images")).click()
    _poll(lambda: page.get_by_text(re.compile(r"Held-out scenes 3–5")).count() == 1 and len(_verdicts(page)) == 15)
    assert page.get_by_text(re.compile(r"^class: ")).count() == 3
    draw = page.get_by_role("spinbutton", name="Draw number")  # back to draw 0 for the picture
    draw.fill("0")
    draw.press("Enter")
    _poll(lambda: page.get_by_text(re.compile(r"^class: ")).all_inner_texts() == before and len(_verdicts(page)) == 15)
    page.mouse.move(0, 0)
    _full_screenshot(page, "experiment", max_height=6000)


@pytest.mark.slow
def test_the_quick_training_runs_from_the_button_with_progress_for_its_session_only(experiment_server, experiment_browser,
                                                                                    experiment_page):
    """The real `--quick` run (a few minutes on one CPU thread): session A starts it and sees the progress
    bar move, session B is told another training is running and cannot start one, and only A is then
    shown the new results."""
    other, second = _new_page(experiment_browser, 1400, 900)  # a second session
    try:
        first = experiment_page
        first.goto(experiment_server + "/experiment")
        button = first.get_by_role("button", name=re.compile("Train the quick version here"))
        button.wait_for()
        button.click()
        bar = first.locator("[data-testid=stProgress]")
        bar.first.wait_for()
        seen = {_poll(lambda: re.search(r"\d+\.\d %", bar.first.inner_text() if bar.count() else "") and
                      bar.first.inner_text(), timeout=180)}
        second.goto(experiment_server + "/experiment")
        busy = second.locator("[data-testid=stAlert]").filter(has_text="Another training is running on this server")
        busy.first.wait_for(timeout=180_000)
        assert second.get_by_role("button", name=re.compile("Train the quick version here")).is_disabled()
        deadline = time.monotonic() + 900
        while not first.get_by_text(re.compile("your own quick run")).count():
            assert time.monotonic() < deadline, f"the training did not finish in 15 minutes; last: {sorted(seen)[-3:]}"
            if bar.count():
                seen.add(bar.first.inner_text())
            time.sleep(1)
        assert len({re.search(r"[\d.]+ %", text).group() for text in seen if re.search(r"[\d.]+ %", text)}) >= 3
        # the rest of the page (the new run's panels, then this line) is still being drawn
        _poll(lambda: first.get_by_text(re.compile("Your quick run finished")).count() == 1)
        assert len(_verdicts(first)) == 15
        second.reload()
        second.get_by_role("button", name=re.compile("Train the quick version here")).wait_for()
        assert second.get_by_text(re.compile("your own quick run")).count() == 0
        assert first.locator("[data-testid=stException]").count() == 0
    finally:
        other.close()
