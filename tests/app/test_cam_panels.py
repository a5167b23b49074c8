"""app.views.attention_sections.cam_panels.slide_png: a Grad-CAM panel for a slide, at twice the on-screen size,
with its caption drawn under it (the slide exports)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def panel_and_image(one_torch_thread):
    from app.services import cam as service

    data = (ROOT / "assets" / "chelsea.jpg").read_bytes()
    key = service.digest(data)
    image = service.decode_image(key, data, "chelsea.jpg")
    panel = service.maps(key, image, service.ModelSource("trained", "lite0"), "gradcam", None)[0]
    return panel, image


def test_a_slide_is_twice_the_panel_on_screen_with_a_caption_band(panel_and_image):
    from app.views.attention_sections import cam_panels

    panel, image = panel_and_image
    on_screen = Image.open(io.BytesIO(panel.overlay_png))
    slide = Image.open(io.BytesIO(cam_panels.slide_png(panel.result, image, "1. Lite0 · 224 px · head",
                                                       cam_panels.panel_caption(panel))))
    assert slide.width == 2 * on_screen.width
    assert slide.height > 2 * on_screen.height  # the caption band below the map
    band = np.asarray(slide.convert("L"))[2 * on_screen.height:]
    assert (band < 100).mean() > 0.005  # dark text on the white band, not an empty strip
    caption = cam_panels.panel_caption(panel)
    assert "Grad-CAM of EfficientNet-Lite0" in caption and panel.result.target_label in caption and "%" in caption
