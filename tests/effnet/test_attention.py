"""effnet.attention: the figures on maps made by hand, checked against values worked out on paper."""

from __future__ import annotations

import numpy as np
import pytest

from effnet.attention import (
    attention_stats,
    centre_of_mass,
    grid_shape,
    heatmap_on_image,
    iou,
    mass_share,
    overlap_matrix,
    peak_position,
    top_region,
)


def test_grid_keeps_the_aspect_ratio():
    assert grid_shape((451, 300), 256) == (170, 256)
    assert grid_shape((300, 600), 256) == (256, 128)


def test_a_linear_ramp_is_placed_exactly_inside_the_crop_and_zero_outside():
    # A 500x300 image whose centred 300x300 crop (x from 100 to 400) the network saw at 30x30.
    heatmap = np.tile(np.arange(30, dtype=float), (30, 1))  # value = column index of the crop map
    grid = heatmap_on_image(heatmap, (100.0, 0.0, 400.0, 300.0), (500, 300), (300, 500))
    assert grid.shape == (300, 500)
    assert np.all(grid[:, :100] == 0) and np.all(grid[:, 400:] == 0)
    # Image column c has its centre at c + 0.5, i.e. at crop-map coordinate (c + 0.5 - 100) / 10 - 0.5.
    columns = np.arange(120, 380)
    expected = (columns + 0.5 - 100) / 10 - 0.5
    assert np.allclose(grid[150, columns], expected)
    assert np.allclose(grid[:, 250], grid[0, 250])  # the ramp does not vary along y


def test_a_hot_cell_lands_where_the_crop_puts_it():
    heatmap = np.zeros((4, 4))
    heatmap[1, 2] = 1.0  # second row, third column of the crop
    grid = heatmap_on_image(heatmap, (40.0, 20.0, 80.0, 60.0), (100, 80), (80, 100))
    row, col = np.unravel_index(np.argmax(grid), grid.shape)
    assert 40 + 20 <= col < 40 + 30 and 20 + 10 <= row < 20 + 20
    assert grid[:20].max() == 0 and grid[:, :40].max() == 0


def test_mass_share_of_a_block_and_of_a_flat_map():
    grid = np.zeros((100, 100))
    grid[20:30, 60:70] = 1.0
    assert mass_share(grid, 0.5) == pytest.approx(50 / 10_000)
    assert mass_share(np.ones((10, 10)), 0.5) == pytest.approx(0.5)
    assert mass_share(np.ones((10, 10)), 0.9) == pytest.approx(0.9)
    # Two levels: 10 cells of 3 and 90 of 1 -> total 120; half (60) needs the 10 big and 30 small ones.
    two = np.ones(100)
    two[:10] = 3.0
    assert mass_share(two.reshape(10, 10), 0.5) == pytest.approx(40 / 100)


def test_centre_and_peak_of_a_block():
    grid = np.zeros((100, 200))
    grid[20:30, 60:70] = 1.0
    assert centre_of_mass(grid) == pytest.approx((65 / 200, 25 / 100))
    grid[25, 100] = 2.0
    assert peak_position(grid) == pytest.approx((100.5 / 200, 25.5 / 100))
    stats = attention_stats(grid)
    assert stats.peak == pytest.approx((100.5 / 200, 25.5 / 100))
    assert set(stats.as_dict()) == {"mass_share_50", "centre", "peak"}


def test_a_map_with_no_mass_counts_as_spread_evenly():
    assert mass_share(np.zeros((5, 5))) == 0.5
    assert centre_of_mass(np.zeros((5, 5))) == (0.5, 0.5)


def test_top_region_and_iou_of_half_overlapping_squares():
    first, second = np.zeros((10, 10)), np.zeros((10, 10))
    first[0:4, 0:5] = 1.0  # 20 cells: exactly the top 20% of 100
    second[2:6, 0:5] = 1.0  # 20 cells, 10 shared with the first
    assert top_region(first).sum() == 20 and np.all(top_region(first) == (first > 0))
    assert iou(top_region(first), top_region(second)) == pytest.approx(10 / 30)
    matrix = overlap_matrix([first, second, first])
    assert np.allclose(matrix, [[1, 1 / 3, 1], [1 / 3, 1, 1 / 3], [1, 1 / 3, 1]])


def test_zero_cells_never_join_the_top_region():
    grid = np.zeros((10, 10))
    grid[0, :5] = 1.0
    assert top_region(grid).sum() == 5


def test_maps_on_different_grids_are_refused():
    with pytest.raises(ValueError, match="one grid"):
        overlap_matrix([np.ones((4, 4)), np.ones((4, 5))])


def test_a_heatmap_must_be_two_dimensional():
    with pytest.raises(ValueError, match="2-D"):
        heatmap_on_image(np.ones(5), (0, 0, 5, 5), (5, 5))
