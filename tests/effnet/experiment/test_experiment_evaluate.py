"""Attention measures on hand-made maps, the Wilson interval against published values, the batch
Grad-CAM against the single-image one, and faithfulness through pytorch-grad-cam's metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import effnet
from effnet.experiment.evaluate import cam_grid, faithfulness, mass_inside, mean_interval, pointing_game, wilson_interval


def square_mask(size=8, top=2, left=2, side=3):
    mask = np.zeros((size, size), dtype=bool)
    mask[top: top + side, left: left + side] = True
    return mask


def test_pointing_game_on_hand_made_maps():
    mask = square_mask()
    inside, outside, flat, empty = np.zeros((8, 8)), np.zeros((8, 8)), np.ones((8, 8)), np.zeros((8, 8))
    inside[3, 3] = 1.0
    outside[7, 7] = 1.0
    tie = inside.copy()
    tie[0, 0] = 1.0  # two equal peaks, one off the object
    maps = np.stack([inside, outside, flat, empty, tie])
    hits = pointing_game(maps, np.stack([mask] * 5))
    assert hits.tolist() == [True, False, False, False, False]


def test_mass_inside_on_hand_made_maps():
    mask = square_mask()
    uniform = np.ones((8, 8))
    on_object = mask.astype(float)
    half = np.zeros((8, 8))
    half[3, 3], half[7, 7] = 1.0, 1.0
    scores = mass_inside(np.stack([uniform, on_object, half, np.zeros((8, 8))]), np.stack([mask] * 4))
    assert scores.tolist() == pytest.approx([9 / 64, 1.0, 0.5, 0.0])


def test_measures_refuse_mismatched_or_negative_maps():
    with pytest.raises(ValueError, match="one shape"):
        pointing_game(np.zeros((2, 8, 8)), np.zeros((2, 4, 4), dtype=bool))
    with pytest.raises(ValueError, match="non-negative"):
        mass_inside(-np.ones((1, 4, 4)), np.ones((1, 4, 4), dtype=bool))


def test_wilson_interval_matches_published_values():
    # Wilson (1927) score interval, 95%: 50/100 -> 0.4038-0.5962; 0/10 -> 0-0.2775; 81/263 -> 0.2553-0.3662
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)


def test_mean_interval_is_the_normal_one():
    values = np.array([0.0, 1.0] * 50)
    low, high = mean_interval(values)
    assert (low + high) / 2 == pytest.approx(0.5)
    assert high - low == pytest.approx(2 * 1.96 * values.std(ddof=1) / 10, rel=1e-3)


def test_cam_grid_is_stride_16():
    assert [cam_grid(r) for r in (80, 120, 176, 224)] == [5, 8, 11, 14]
    config = effnet.ScalingConfig(depth=0.5, width=0.4, resolution=80, num_classes=10)
    model = effnet.build(config)
    with torch.no_grad():
        x = torch.zeros(1, 3, 80, 80)
        for name in ("stem", "stage2", "stage3", "stage4", "stage5", "stage6"):
            x = model.layer(name)(x)
    assert x.shape[-1] == cam_grid(80)


def test_cam_batch_equals_the_attention_pages_maps():
    """Batch maps for preprocessed tensors are the same maps effnet.cam gives one photo at a time."""
    from effnet.cam import cam_batch, compute_cam, untrained_model
    from effnet.images import load_image

    config = effnet.ScalingConfig(depth=0.5, width=0.5, resolution=96)
    cam_model = untrained_model(config, seed=1)
    image = load_image("assets/chelsea.jpg")
    single = compute_cam(cam_model, image, layer="stage6")
    x = cam_model.preprocessing(image).unsqueeze(0)
    maps, logits = cam_batch(cam_model.model, torch.cat([x, x.flip(3)]), "stage6")
    assert maps.shape == (2, 96, 96)
    assert int(logits[0].argmax()) == single.target_index
    np.testing.assert_allclose(maps[0], single.heatmap, atol=1e-5)


class LeftHalf(torch.nn.Module):
    """A classifier that looks only at the left half of the image: class 0 if it is bright."""

    def forward(self, x):
        left = x[..., : x.shape[-1] // 2].mean(dim=(1, 2, 3))
        return torch.stack([8 * left, torch.zeros_like(left)], dim=1)


def test_faithfulness_comes_from_pytorch_grad_cam_and_rewards_the_right_region():
    from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model = LeftHalf()
    x = torch.ones(2, 3, 16, 16)
    left, right = np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32)
    left[:, :8], right[:, 8:] = 1, 1
    maps = np.stack([left, right])
    scores = faithfulness(model, x, maps, [0, 0])
    library = CamMultImageConfidenceChange()(x, maps, [ClassifierOutputSoftmaxTarget(0)] * 2, model)
    np.testing.assert_allclose(scores["keep_highlighted"], np.asarray(library).reshape(-1))
    # keeping the region the classifier reads keeps its confidence; keeping the other half loses it
    assert scores["keep_highlighted"][0] > scores["keep_highlighted"][1]
    assert set(scores) == {"keep_highlighted", "road_most_relevant_first"}


# --- scoring on equal terms: common grid, chance by derangement, the native grid's ceiling ---------
from effnet.experiment.evaluate import (derangement, one_cell_ceiling, pool_maps, pool_masks, score_maps,  # noqa: E402
                                        size_groups, summarise_scores)


def test_pooling_to_a_common_grid_by_hand():
    maps = np.zeros((1, 10, 10))
    maps[0, 0:5, 5:10] = 1.0  # the top-right quarter
    pooled = pool_maps(maps, 2)
    np.testing.assert_allclose(pooled[0], [[0, 1], [0, 0]])
    mask = np.zeros((1, 10, 10), dtype=bool)
    mask[0, 6, 1] = True  # one pixel in the bottom-left cell: that cell touches the object
    np.testing.assert_array_equal(pool_masks(mask, 2)[0], [[False, False], [True, False]])


def test_derangement_moves_every_image_and_is_fixed():
    order = derangement(1500)
    assert sorted(order) == list(range(1500)) and not np.any(order == np.arange(1500))
    np.testing.assert_array_equal(order, derangement(1500))


def test_one_cell_ceiling_on_constructed_masks():
    size = 80
    full = np.ones((1, size, size), dtype=bool)
    empty = np.zeros((1, size, size), dtype=bool)
    # a 6-pixel object: a 5x5 grid's one-cell peaks (16 px apart, at cell centres) can miss it; an
    # object over a cell centre is reachable
    off = np.zeros((1, size, size), dtype=bool)
    off[0, 0:6, 0:6] = True
    centre = np.zeros((1, size, size), dtype=bool)
    centre[0, 32:48, 32:48] = True  # the middle cell of a 5x5 grid (pixels 32-47)
    reachable = one_cell_ceiling(np.concatenate([full, empty, off, centre]), 5)
    np.testing.assert_array_equal(reachable, [True, False, False, True])
    # a finer grid reaches the corner object
    assert one_cell_ceiling(off, 20)[0]


def test_a_map_that_ignores_the_scene_scores_its_chance_level():
    """A network whose map is always the same picture knows nothing about where this scene's object
    is: its score against its own scenes equals, within sampling, its score against others'."""
    rng = np.random.default_rng(0)
    count, size = 600, 40
    masks = np.zeros((count, size, size), dtype=bool)
    for i in range(count):
        r, c = rng.integers(0, size - 8, 2)
        masks[i, r:r + 8, c:c + 8] = True
    blind = np.tile(np.exp(-((np.arange(size) - 20.0) ** 2) / 50)[None, :] * np.exp(-((np.arange(size) - 20.0) ** 2) / 50)[:, None],
                    (count, 1, 1))
    scored = score_maps(blind, masks, common_grid=5, native_grid=3)
    assert abs(scored["hit_common"].mean() - scored["chance_hit_common"].mean()) < 0.06
    assert abs(scored["mass_common"].mean() - scored["chance_mass_common"].mean()) < 0.03
    # a map that knows: the object's own mask as the map, far above its chance
    knowing = score_maps(masks.astype(float), masks, common_grid=5, native_grid=3)
    assert knowing["hit_common"].mean() == 1.0 and knowing["chance_hit_common"].mean() < 0.5


def test_size_thirds_and_summaries():
    groups, cuts = size_groups(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
    np.testing.assert_array_equal(groups, [0, 0, 1, 1, 2, 2])
    assert cuts[0] < cuts[1]
    per_image = {"correct": np.array([1, 0, 1, 1, 0, 1], dtype=bool), "hit_common": np.array([1, 1, 0, 0, 1, 1], dtype=bool)}
    summary = summarise_scores(per_image, np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
    assert summary["test_accuracy"] == pytest.approx(4 / 6)
    assert [g["test_accuracy"] for g in summary["by_object_size"]["groups"]] == [0.5, 1.0, 0.5]
    assert [g["pointing_game_common"] for g in summary["by_object_size"]["groups"]] == [1.0, 0.0, 1.0]
