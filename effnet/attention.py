"""Figures that make class-activation maps comparable: mass share, centre, peak and overlap.

Pure numpy, so every figure can be checked by hand on a made-up map.

A CAM covers only the square crop the network saw, at the network's resolution. To compare a
Lite0 map (224 px, crop 224/256 of the shorter side) with a Lite2 map (260 px, crop 260/292), or
one network at several resolutions, every map is first placed on one grid over the ORIGINAL image
(`heatmap_on_image`): zero outside its crop, bilinear inside. All figures are then shares of the
original image, so they mean the same thing for every panel.

* `mass_share_50`: the smallest share of the image area that holds half of the attention mass
  (the map's values, summed). A sharp map that attends to one small object gives a few per cent;
  a map spread evenly over the crop gives about half of the crop's share of the image.
* `centre`: the attention-weighted mean position, (x, y) in 0..1 of the image width and height.
* `peak`: the position of the largest value, (x, y) in 0..1.
* `overlap_matrix`: the intersection over union of the top-20% regions (the 20% of the image area
  with the highest attention) of every pair of maps: 1 for the same region, 0 for disjoint ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

GRID_SIDE = 256  # the longer side of the comparison grid, in cells
TOP_SHARE = 0.2  # the share of the image area that forms a map's "top region"

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in original-image pixels


@dataclass(frozen=True)
class AttentionStats:
    """Where a map puts its mass, in shares of the original image (see the module docstring)."""

    mass_share_50: float  # share of the image area holding 50% of the attention mass, 0..1
    centre: tuple[float, float]  # attention-weighted mean (x, y), each 0..1 of width / height
    peak: tuple[float, float]  # position (x, y) of the largest value, each 0..1

    def as_dict(self) -> dict:
        return {
            "mass_share_50": round(self.mass_share_50, 4),
            "centre": [round(v, 4) for v in self.centre],
            "peak": [round(v, 4) for v in self.peak],
        }


def grid_shape(image_size: tuple[int, int], max_side: int = GRID_SIDE) -> tuple[int, int]:
    """(rows, columns) of a grid over an image of `image_size` = (width, height), longer side max_side."""
    width, height = image_size
    scale = max_side / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


def heatmap_on_image(heatmap: np.ndarray, crop_box: Box, image_size: tuple[int, int], shape: tuple[int, int] | None = None) -> np.ndarray:
    """Place a (H, W) map of the crop `crop_box` onto a grid of `shape` = (rows, cols) over the image.

    Each grid cell takes the bilinearly interpolated map value at its centre, or 0 when its centre
    lies outside the crop (the network did not see that part of the image).
    """
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if heatmap.ndim != 2 or heatmap.size == 0:
        raise ValueError(f"heatmap must be a non-empty 2-D array, got shape {heatmap.shape}")
    width, height = image_size
    rows, cols = shape if shape is not None else grid_shape(image_size)
    left, top, right, bottom = crop_box
    xs = (np.arange(cols) + 0.5) * (width / cols)  # cell centres in image pixels
    ys = (np.arange(rows) + 0.5) * (height / rows)
    column_index, column_weight, column_inside = _sample_axis(xs, left, right, heatmap.shape[1])
    row_index, row_weight, row_inside = _sample_axis(ys, top, bottom, heatmap.shape[0])
    # Separable bilinear interpolation: first along x for the two source rows, then along y.
    along_x = heatmap[:, column_index] * (1 - column_weight) + heatmap[:, np.minimum(column_index + 1, heatmap.shape[1] - 1)] * column_weight
    grid = along_x[row_index, :] * (1 - row_weight)[:, None] + along_x[np.minimum(row_index + 1, heatmap.shape[0] - 1), :] * row_weight[:, None]
    grid *= row_inside[:, None] & column_inside[None, :]
    return grid


def _sample_axis(positions: np.ndarray, start: float, end: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For image positions: the source index below, the interpolation weight and whether inside the crop."""
    inside = (positions >= start) & (positions < end)
    # Source pixel i of the crop covers [start + i * step, start + (i + 1) * step); its centre is at +0.5.
    source = (positions - start) / ((end - start) / size) - 0.5
    source = np.clip(source, 0, size - 1)
    index = np.floor(source).astype(int)
    return index, source - index, inside


def mass_share(grid: np.ndarray, fraction: float = 0.5) -> float:
    """The smallest share of the grid's cells whose values add up to `fraction` of the total.

    A map with no mass at all (every value 0) shows no preference; it counts as spread evenly.
    """
    values = np.sort(np.asarray(grid, dtype=np.float64).ravel())[::-1]
    total = values.sum()
    if not total > 0:
        return float(fraction)
    needed = int(np.searchsorted(np.cumsum(values), fraction * total * (1 - 1e-12))) + 1
    return min(needed, values.size) / values.size


def centre_of_mass(grid: np.ndarray) -> tuple[float, float]:
    """The value-weighted mean cell centre, (x, y) in 0..1 of the grid's width and height."""
    grid = np.asarray(grid, dtype=np.float64)
    rows, cols = grid.shape
    total = grid.sum()
    if not total > 0:
        return (0.5, 0.5)
    x = float((grid.sum(axis=0) * (np.arange(cols) + 0.5)).sum() / total / cols)
    y = float((grid.sum(axis=1) * (np.arange(rows) + 0.5)).sum() / total / rows)
    return (x, y)


def peak_position(grid: np.ndarray) -> tuple[float, float]:
    """The centre of the (first) largest cell, (x, y) in 0..1."""
    grid = np.asarray(grid)
    row, col = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return (float((col + 0.5) / grid.shape[1]), float((row + 0.5) / grid.shape[0]))


def attention_stats(grid: np.ndarray) -> AttentionStats:
    """All figures of one map already placed on the image grid (see `heatmap_on_image`)."""
    return AttentionStats(mass_share(grid, 0.5), centre_of_mass(grid), peak_position(grid))


def top_region(grid: np.ndarray, share: float = TOP_SHARE) -> np.ndarray:
    """A boolean mask of the `share` of the cells with the highest values (cells at 0 never count)."""
    values = np.asarray(grid, dtype=np.float64).ravel()
    count = max(1, math.ceil(share * values.size))
    order = np.argsort(-values, kind="stable")[:count]  # ties keep reading order: deterministic
    mask = np.zeros(values.size, dtype=bool)
    mask[order] = True
    mask &= values > 0
    return mask.reshape(np.shape(grid))


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(first, second).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(first, second).sum() / union)


def overlap_matrix(grids: Sequence[np.ndarray], share: float = TOP_SHARE) -> np.ndarray:
    """The IoU of the top regions of every pair of maps on one image grid: a symmetric (n, n) array."""
    shapes = {np.shape(g) for g in grids}
    if len(shapes) > 1:
        raise ValueError(f"maps must lie on one grid to be compared, got shapes {sorted(shapes)}")
    masks = [top_region(g, share) for g in grids]
    matrix = np.ones((len(masks), len(masks)))
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            matrix[i, j] = matrix[j, i] = iou(masks[i], masks[j])
    return matrix
