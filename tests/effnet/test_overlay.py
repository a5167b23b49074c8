"""effnet.overlay: the one heat-map overlay, against the three drawings it replaced.

The references below are the code each module drew with before (effnet.cam's CamResult.overlay,
effnet.sanity's SanityResult.overlay, effnet.experiment.panels.overlay), kept here verbatim so the
pictures are proved unchanged on a constructed image and map.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from effnet.overlay import jet, overlay


def _picture(height: int = 40, width: int = 56) -> np.ndarray:
    """A colour ramp with a bright square: every channel takes many values."""
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.stack([xs * 255 // (width - 1), ys * 255 // (height - 1), (xs + ys) % 256], axis=-1).astype(np.uint8)
    picture[10:20, 30:40] = 250
    return picture


def _map(height: int = 40, width: int = 56) -> np.ndarray:
    """A Gaussian bump off centre, with values just outside [0, 1] at its ends (the overlay clips them)."""
    ys, xs = np.mgrid[0:height, 0:width]
    bump = np.exp(-((xs - 0.7 * width) ** 2 + (ys - 0.3 * height) ** 2) / (2 * (0.2 * width) ** 2))
    return np.float32(bump * 1.1 - 0.05)


def _old_colours(grid: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.applyColorMap(np.uint8(np.clip(grid, 0, 1) * 255), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def test_jet_ends_at_opencvs_dark_blue_and_dark_red():
    colours = jet(np.array([[0.0, 1.0]]))
    assert tuple(colours[0, 0]) == (0, 0, 128)  # OpenCV's COLORMAP_JET, in RGB order
    assert tuple(colours[0, 1]) == (128, 0, 0)


@pytest.mark.parametrize("alpha", [0.5, 0.3])
def test_the_grad_cam_overlay_with_its_crop_is_unchanged(alpha):
    picture, grid = _picture(), _map()
    inside = np.zeros(grid.shape, dtype=bool)
    inside[5:35, 8:48] = True
    # effnet.cam.CamResult.overlay before: blend inside the crop, dim outside
    pixels = picture.astype(np.float32)
    blended = np.where(inside[..., None], (1 - alpha) * pixels + alpha * _old_colours(grid), 0.4 * pixels)
    old = np.uint8(np.clip(np.rint(blended), 0, 255))
    new = overlay(picture, grid, alpha, inside)
    assert new.dtype == np.uint8 and new.shape == picture.shape
    assert np.array_equal(new, old)
    assert np.array_equal(new[0, 0], np.uint8(np.rint(0.4 * picture[0, 0].astype(np.float32))))  # outside: dimmed


def test_the_sanity_tile_is_unchanged():
    picture, grid = _picture(32, 32), _map(32, 32)
    colours = _old_colours(grid).astype(np.float32)  # effnet.sanity.SanityResult.overlay before
    old = np.uint8(np.clip(np.rint(0.5 * picture.astype(np.float32) + 0.5 * colours), 0, 255))
    assert np.array_equal(overlay(picture, grid, 0.5), old)


def test_the_experiment_panel_is_unchanged():
    from effnet.experiment.panels import OUTLINE, overlay as panel_overlay

    image, small_map, display = _picture(16, 16), _map(4, 4), 48
    edge = np.zeros((display, display), dtype=bool)
    edge[10, 5:40] = True
    # effnet.experiment.panels.overlay before
    base = np.asarray(Image.fromarray(image).resize((display, display), Image.Resampling.NEAREST), dtype=np.float32)
    grid = np.asarray(Image.fromarray(small_map, mode="F").resize((display, display), Image.Resampling.BILINEAR))
    old = np.uint8(np.clip(np.rint(0.5 * base + 0.5 * _old_colours(grid)), 0, 255))
    old[edge] = OUTLINE
    assert np.array_equal(panel_overlay(image, small_map, edge, display), old)
    plain = np.asarray(Image.fromarray(image).resize((display, display), Image.Resampling.NEAREST))
    assert np.array_equal(panel_overlay(image, None, None, display), plain)
    assert np.array_equal(image, _picture(16, 16))  # the input is not drawn on


def test_a_cam_result_draws_through_the_shared_overlay():
    from effnet.cam import CamResult

    picture = _picture(64, 96)
    heatmap = _map(64, 64)  # over the centred 64 px square the network saw
    result = CamResult(model_name="lite0", model_label="Lite0", trained=True, weights="test", resolution=64,
                       layer="head", method="gradcam", target_index=0, target_label="x", target_prob=0.5, top5=(),
                       heatmap=heatmap, crop_box=(16.0, 0.0, 80.0, 64.0), image_size=(96, 64), attention=None)
    drawn = np.asarray(result.overlay(Image.fromarray(picture), alpha=0.5))
    inside = np.zeros((64, 96), dtype=bool)
    inside[:, 16:80] = True
    expected = overlay(picture, result.image_grid((64, 96)), 0.5, inside)
    border = np.zeros((64, 96), dtype=bool)  # the crop's white outline is drawn on top
    border[[0, -1], 16:80] = border[:, [16, 79]] = True
    assert np.array_equal(drawn[~border], expected[~border])
    assert (drawn[border] == 255).all()
