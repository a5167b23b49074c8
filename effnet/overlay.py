"""One way to draw a heat map over a picture, for every panel effnet makes.

Grad-CAM panels (effnet.cam), the sanity check's tiles (effnet.sanity) and the experiment's panels
(effnet.experiment.panels) all show a map in [0, 1] in the jet colour map, blended with the pixels
under it; a Grad-CAM panel also dims what lies outside the crop the network saw. The colour map is
OpenCV's COLORMAP_JET (pytorch-grad-cam's dependency, and the colours CAM papers show), so a map
looks the same on every page and in every file the command line writes.
"""

from __future__ import annotations

import numpy as np

OUTSIDE_DIMMING = 0.4  # what is left of a pixel outside the crop: dim enough to read as "not seen"


def jet(heatmap: np.ndarray) -> np.ndarray:
    """A map (H, W) in [0, 1] (values outside are clipped) as RGB uint8 (H, W, 3) in the jet colours."""
    import cv2  # imported here: only drawing needs OpenCV

    grey = np.uint8(np.clip(np.asarray(heatmap), 0, 1) * 255)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def overlay(pixels: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, inside: np.ndarray | None = None) -> np.ndarray:
    """`heatmap` (H, W) in jet colours over `pixels` (H, W, 3) at opacity `alpha`, as RGB uint8.

    `inside`, a bool (H, W) mask, limits the map to where it is True; elsewhere the pixels are dimmed
    to OUTSIDE_DIMMING of their brightness (the part of a photo the network did not see)."""
    base = np.asarray(pixels, dtype=np.float32)
    blended = (1 - alpha) * base + alpha * jet(heatmap)
    if inside is not None:
        blended = np.where(np.asarray(inside, dtype=bool)[..., None], blended, OUTSIDE_DIMMING * base)
    return np.uint8(np.clip(np.rint(blended), 0, 255))
