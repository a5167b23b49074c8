"""The roofline chart of Build & profile in Chromium: drawn by Plotly in a real browser for
a B-family preset and an EfficientNetV2 one, one marker a stage and the sentence on what binds.
AppTest covers every preset (tests/test_app.py); this checks that the chart really renders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import effnet
from test_browser import CHROMIUM, _idle, _poll, browser, browser_page, server  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.mark.parametrize("preset", ["b0", "v2_s"])
def test_the_roofline_renders_each_stage_under_the_roof(server, browser_page, preset):  # noqa: F811
    page = browser_page
    config = effnet.preset(preset)
    label = preset.upper().replace("_", "-")  # the URL's preset names: B0, V2-S
    page.goto(f"{server}/?preset={label}")
    _idle(page, "build")
    section = page.locator(".st-key-focus_roofline")
    section.scroll_into_view_if_needed()
    chart = section.locator(".js-plotly-plot")
    chart.wait_for()
    stages = len(effnet.stages(config))  # the stem, every stage, the head: one marker each
    # Plotly draws the roof as one line path and each stage as one marker path with its number as text.
    markers = lambda: chart.locator(".scatterlayer .trace .points path").count()  # noqa: E731
    _poll(lambda: markers() >= stages)
    assert markers() == stages
    texts = chart.locator(".scatterlayer .trace .textpoint text").all_text_contents()  # SVG: no inner text
    assert texts == [str(i) for i in range(1, stages + 1)]
    assert chart.locator(".scatterlayer .trace .js-line").count() >= 1  # the roof
    assert "Roofline on H100 SXM" in chart.locator(".gtitle").text_content()
    sentence = section.get_by_text("the roof turns flat at").inner_text()
    assert config.label in sentence and "FLOP per byte" in sentence
    if config.is_v2:
        assert "memory-bound" in sentence
