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
