"""The Attention page's sanity check in Chromium: an uploaded photo, the toggle, then a row of maps per
method from trained to fully random and the similarity chart, drawn for real (images decoded, traces
in the plot), with no exception on the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_browser import CHROMIUM, _new_page, _poll, chromium, running_app

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / ".pytest_cache" / "sanity_check.png"  # to look at; the README's screenshots are test_browser's
STEPS = 11  # trained, classifier, head, stage 8 .. stage 2, stem
METHODS = 6  # Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM, EigenCAM and the Sobel reference
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def sanity_page():
    with running_app(env={"OMP_NUM_THREADS": "1"}) as url, chromium() as browser:
        context, page = _new_page(browser, 1280, 720)
        try:
            yield url, page
        finally:
            context.close()


def test_sanity_check_shows_the_row_of_maps_and_the_chart_for_an_uploaded_photo(sanity_page, tmp_path):
    url, page = sanity_page
    page.goto(url + "/")
    page.wait_for_selector("[data-testid=stApp]")
    page.get_by_role("link", name=re.compile("Attention")).first.click()
    uploader = page.locator("[data-testid=stFileUploader] input[type=file]").first
    uploader.wait_for(state="attached")
    photo = tmp_path / "my espresso.png"  # an upload, not the sample the page starts with
    from PIL import Image

    Image.open(ROOT / "assets" / "coffee.jpg").save(photo)
    uploader.set_input_files(str(photo))
    _poll(lambda: page.get_by_text(re.compile(r"^Target:")).count() == 3, timeout=300)  # the page's own panels

    toggle = page.locator(".st-key-cam_sanity [data-testid=stWidgetLabel], .st-key-cam_sanity label").first
    toggle.scroll_into_view_if_needed()
    toggle.click()
    results = page.locator(".st-key-cam_sanity_results")

    def drawn_images() -> int:
        return results.locator("img").evaluate_all("images => images.filter(i => i.complete && i.naturalWidth > 0).length")

    _poll(lambda: results.count() == 1 and drawn_images() == STEPS * METHODS, timeout=300)
    chart = page.locator(".st-key-cam_sanity_results_chart .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    _poll(lambda: chart.locator(".scatterlayer .trace").count() == METHODS, timeout=120)
    legend = " ".join(chart.locator(".legendtext").all_text_contents())
    assert "Grad-CAM" in legend and "Sobel" in legend, legend
    text = results.inner_text()
    assert "espresso" in text  # the trained network's class, kept at every step
    assert text.count("stem (all random)") == METHODS and text.count("trained") >= METHODS
    assert page.get_by_text(re.compile("Sanity Checks for Saliency Maps")).count() >= 1
    assert page.locator("[data-testid=stException]").count() == 0
    assert "Traceback" not in page.content()
    SHOT.parent.mkdir(exist_ok=True)
    results.screenshot(path=str(SHOT))
