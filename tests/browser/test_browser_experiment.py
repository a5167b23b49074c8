"""The Experiment page in Chromium: the real app on a localhost port, driven by Playwright.

The server shows $EFFNET_EXPERIMENT_RESULTS when it is set, else the committed results
(results/experiment) when they are in format effnet-experiment/2, else the session's tiny real run
(tests/conftest.py: experiment_results, trained once for every test that needs it). Saves
docs/screenshots/experiment.png.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from effnet.experiment import ResultsError, read_results
from test_browser import CHROMIUM, ROOT, _full_screenshot, _new_page, _poll, chromium, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]
COMMITTED = ROOT / "results" / "experiment"
NETWORKS = ("Baseline", "Deeper (d ×", "Wider (w ×", "Higher resolution (r ×", "Compound (d ×")


@pytest.fixture(scope="module")
def results_folder(request) -> Path:
    configured = os.environ.get("EFFNET_EXPERIMENT_RESULTS")
    if configured:
        return Path(configured)
    try:
        if read_results(COMMITTED)["format"] == "effnet-experiment/2":
            return COMMITTED
    except ResultsError:
        pass
    return request.getfixturevalue("experiment_results")


@pytest.fixture(scope="module")
def experiment_server(results_folder):
    with running_app({"EFFNET_EXPERIMENT_RESULTS": str(results_folder),
                      "EFFNET_EXPERIMENT_RESULTS_LARGE": str(results_folder / "no-large-task-here"),
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


def _shown(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def test_the_experiment_page_shows_the_tables_verdicts_charts_and_panels(experiment_server, experiment_page,
                                                                        results_folder):
    page = experiment_page
    document = read_results(results_folder)
    started = time.perf_counter()
    page.goto(experiment_server + "/experiment")
    page.wait_for_selector("[data-testid=stApp]")
    table = page.locator("[data-testid=stTable]").filter(has_text="Test accuracy").first
    table.wait_for()
    _poll(lambda: len(_verdicts(page)) >= 15 and page.get_by_text(re.compile(r"^Held-out scenes 0–2")).count() == 1)
    print(f"\nExperiment page: panels shown {time.perf_counter() - started:.1f} s after opening")
    # the answer table, all its parts (a table too wide for the column is shown in parts)
    text = " ".join(page.locator("[data-testid=stTable]").all_inner_texts())
    for network in NETWORKS:
        assert network in text
    for top1 in ("77.3 %", "79.0 %", "78.9 %", "79.1 %", "81.1 %"):  # the paper's Table 7
        assert top1 in text
    assert "Paper: top-1 (ImageNet)" in text and not re.search(r"\d[eE][+-]?\d", text)
    attention = page.locator("[data-testid=stTable]").filter(has_text="Pointing game, common").first
    _poll(lambda: attention.count() and f"{document['common_grid']}×{document['common_grid']}" in attention.inner_text())
    # every comparing sentence on screen is one of the document's own, or the one line saying why there are none
    sentences = [c["sentence"] for c in document["comparisons"]]
    if all(c["verdict"] == "no verdict" for c in document["comparisons"]):
        _poll(lambda: "no verdict (at least 3 are needed" in _shown(page))
    else:
        _poll(lambda: sum(sentence in _shown(page) for sentence in sentences) >= 3)
    page.get_by_text("How these results were made").click()
    wall = _poll(lambda: re.search(r"wall time: ([^·]+)", _shown(page)))
    assert re.fullmatch(r"[\d.,]+ (s|min|h) ", wall.group(1)) or wall.group(1).strip() == "not recorded", wall.group(1)
    shown = _shown(page)
    assert "in line with the paper" not in shown and "object covers the image" not in shown
    _poll(lambda: page.locator(".js-plotly-plot").count() == 3)
    assert page.locator("[data-testid=stException]").count() == 0 and "Traceback" not in page.content()

    slider = page.locator("[data-testid=stSlider]").filter(has_text="After epoch")
    if slider.count():  # attention as it forms: the first epoch's recorded maps after a click on the track's start
        track = slider.first.locator("[role=group] > [data-orientation=horizontal]").first
        track.scroll_into_view_if_needed()
        box = track.bounding_box()
        page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
        _poll(lambda: page.get_by_text(re.compile(r"after epoch 1 of")).count() == 1)

    before = page.get_by_text(re.compile(r"^class: ")).all_inner_texts()
    page.get_by_role("button", name=re.compile("Draw new images")).click()
    _poll(lambda: page.get_by_text(re.compile(r"Held-out scenes 3–5")).count() == 1 and len(_verdicts(page)) >= 15)
    draw = page.get_by_role("spinbutton", name="Draw number")  # back to draw 0 for the picture
    draw.fill("0")
    draw.press("Enter")
    _poll(lambda: page.get_by_text(re.compile(r"Held-out scenes 0–2")).count() == 1
          and page.get_by_text(re.compile(r"^class: ")).all_inner_texts()[-3:] == before[-3:])
    page.mouse.move(0, 0)
    _full_screenshot(page, "experiment", max_height=9000)


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
        _poll(lambda: len(_verdicts(first)) >= 15)
        second.reload()
        second.get_by_role("button", name=re.compile("Train the quick version here")).wait_for()
        assert second.get_by_text(re.compile("your own quick run")).count() == 0
        assert first.locator("[data-testid=stException]").count() == 0
    finally:
        other.close()
