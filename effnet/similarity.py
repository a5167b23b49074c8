"""How alike are two saliency maps? The measures of Adebayo et al. (2018), "Sanity Checks for Saliency Maps".

The paper compares the map of a trained network with the map after randomisation by
* Spearman rank correlation of the maps as they are (signed attributions) and of their absolute
  values (a method whose sign flips still ranks the same pixels as important);
* SSIM, the structural similarity of the two maps each normalised to 0..1 (Wang et al. 2004);
* the Pearson correlation of their histogram-of-oriented-gradients (HOG) features.
Spearman comes from scipy, SSIM and HOG from scikit-image (the library the paper's code used).

A measure is NaN where it is undefined: a constant map has no ranking and no gradients.
"""

from __future__ import annotations

import warnings

import numpy as np

MEASURES: tuple[str, ...] = ("spearman", "spearman_abs", "ssim", "hog")
MEASURE_LABELS = {
    "spearman": "Spearman rank correlation",
    "spearman_abs": "Spearman rank correlation of |map|",
    "ssim": "SSIM",
    "hog": "HOG-feature correlation",
}


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps of one shape (NaN when either is constant).

    Pearson's correlation of the ranks, ties sharing their average rank: scipy.stats.spearmanr's
    definition (the tests compare the two), without its per-call overhead (a third of the time)."""
    from scipy.stats import rankdata

    first, second = _flat_pair(first, second)
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return float("nan")
    return float(np.corrcoef(rankdata(first), rankdata(second))[0, 1])


def normalised(heatmap: np.ndarray) -> np.ndarray:
    """A map scaled to 0..1 by its own minimum and maximum (all zeros when it is constant)."""
    heatmap = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
    low, high = heatmap.min(), heatmap.max()
    return np.zeros_like(heatmap) if high == low else (heatmap - low) / (high - low)


def ssim(first: np.ndarray, second: np.ndarray) -> float:
    """SSIM of two maps, each first scaled to 0..1 (scikit-image, 7x7 window, data range 1)."""
    from skimage.metrics import structural_similarity

    first, second = normalised(first), normalised(second)
    if first.shape != second.shape:
        raise ValueError(f"maps of different shapes: {first.shape} and {second.shape}")
    return float(structural_similarity(first, second, data_range=1.0))


def hog_correlation(first: np.ndarray, second: np.ndarray, cell: int = 16) -> float:
    """Pearson correlation of the HOG features of two maps (scikit-image's hog, `cell`-pixel cells,
    9 orientations, 2x2-cell blocks); NaN when a map has no gradients."""
    return _feature_correlation(_hog(normalised(first), cell), _hog(normalised(second), cell))


def compare(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Every measure of MEASURES between two maps of one shape."""
    return Reference(reference).compare(other)


class Reference:
    """One map compared with many (the trained map with every step's): its ranks, its 0..1 scaling and
    its HOG features are computed once. A map identical to the reference gets the reference's figures
    with itself, computed once (the Sobel map, which no step changes)."""

    def __init__(self, heatmap: np.ndarray, cell: int = 16) -> None:
        from scipy.stats import rankdata

        self.heatmap = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
        self.cell = cell
        flat = self.heatmap.ravel()
        self._ranks = None if np.ptp(flat) == 0 else rankdata(flat)
        self._abs_ranks = None if np.ptp(np.abs(flat)) == 0 else rankdata(np.abs(flat))
        self._scaled = normalised(self.heatmap)
        self._hog = _hog(self._scaled, cell)
        self._itself: dict[str, float] | None = None

    def compare(self, other: np.ndarray) -> dict[str, float]:
        """Every measure of MEASURES between the reference and `other` (same shape)."""
        other = np.nan_to_num(np.asarray(other, dtype=np.float64))
        if other.shape != self.heatmap.shape:
            raise ValueError(f"maps of different shapes: {self.heatmap.shape} and {other.shape}")
        identical = np.array_equal(other, self.heatmap)
        if identical and self._itself is not None:
            return dict(self._itself)
        flat = other.ravel()
        figures = {
            "spearman": _rank_correlation(self._ranks, flat),
            "spearman_abs": _rank_correlation(self._abs_ranks, np.abs(flat)),
            "ssim": ssim(self._scaled, normalised(other)),
            "hog": _feature_correlation(self._hog, _hog(normalised(other), self.cell)),
        }
        if identical:
            self._itself = dict(figures)
        return figures


def _rank_correlation(reference_ranks: np.ndarray | None, values: np.ndarray) -> float:
    from scipy.stats import rankdata

    if reference_ranks is None or np.ptp(values) == 0:
        return float("nan")
    return float(np.corrcoef(reference_ranks, rankdata(values))[0, 1])


def _hog(scaled: np.ndarray, cell: int) -> np.ndarray:
    from skimage.feature import hog

    return hog(scaled, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))


def _feature_correlation(first: np.ndarray, second: np.ndarray) -> float:
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.corrcoef(first, second)[0, 1])


def _flat_pair(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"maps of different shapes: {first.shape} and {second.shape}")
    return np.nan_to_num(first).ravel(), np.nan_to_num(second).ravel()
