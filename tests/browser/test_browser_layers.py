"""The layer section of Build & profile in Chromium: the layer roofline draws one dot for every
convolution and the classifier of the built network, and the layer table shows its rows.
AppTest covers the table's filter and the ONNX button (tests/test_layers_page.py); this checks that
the chart and the table really render in a browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import effnet
from effnet.model import EfficientNet
from test_browser import CHROMIUM, _idle, _poll, browser, browser_page, server  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"),
]


def _multiplying_modules(config: effnet.ScalingConfig) -> int:
    """Convolutions and linear layers of the built network (on the meta device: no weights allocated)."""
    with torch.device("meta"):
        model = EfficientNet(config)
    return sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.modules())


@pytest.mark.parametrize("preset", ["b0", "v2_s"])
def test_the_layer_roofline_and_table_render(server, browser_page, preset):  # noqa: F811
    page = browser_page
    config = effnet.preset(preset)
    page.goto(f"{server}/?preset={preset.upper().replace('_', '-')}")
    _idle(page, "build")
    section = page.locator(".st-key-layers_section")
    section.scroll_into_view_if_needed()
    chart = section.locator(".js-plotly-plot").first
    chart.wait_for()
    expected = _multiplying_modules(config)
    # the roof is a line; every layer that multiplies is one marker path in a trace per kind
    dots = lambda: chart.locator(".scatterlayer .trace .points path").count()  # noqa: E731
    _poll(lambda: dots() >= expected)
    assert dots() == expected
    assert "Every layer under the roof of H200 SXM" in chart.locator(".gtitle").text_content()
    legend = " ".join(chart.locator(".legend .legendtext").all_text_contents())
    assert "depthwise convolution" in legend and "classifier" in legend
    # the table: Streamlit's data grid draws on a canvas and keeps an accessible copy of the cells
    grid = section.locator("[data-testid=stDataFrame]")
    grid.wait_for()
    _poll(lambda: grid.get_by_text("stem conv", exact=True).count() > 0)
    caption = section.get_by_text(re.compile(r"layers shown; click a column header to sort")).inner_text()
    total = int(re.search(r"of (\d+) layers shown", caption).group(1))
    assert total > expected  # batch norms, activations, pools, additions beside the multiplying layers
    top = section.locator("[data-testid=stTable]").first
    assert top.locator("tbody tr").count() == 10
