"""Faithfulness figures on cases whose answer is known, checked against pytorch-grad-cam itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from effnet import faithfulness


class BrightSquare(torch.nn.Module):
    """Class 0 when the top-left quarter is bright: the evidence is there and nowhere else."""

    def forward(self, x):
        quarter = x[..., : x.shape[-2] // 2, : x.shape[-1] // 2].mean(dim=(1, 2, 3))
        return torch.stack([6 * quarter, torch.full_like(quarter, 1.5)], dim=1)


def _gaussian(side: int, centre: float, sigma: float = 3.0) -> np.ndarray:
    axis = np.arange(side, dtype=np.float32) - centre
    return np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma**2))


def _scene(side: int = 24):
    """A small bright object in the top-left quarter of a dark image; a smooth map on it, and the
    same map on empty ground (bottom right). Smooth like a real CAM: ROAD thresholds at a
    percentile, and a map of ties would make it remove everything or nothing."""
    x = torch.zeros(1, 3, side, side)
    x[..., 3:9, 3:9] = 1.0
    return x, _gaussian(side, 5.5), _gaussian(side, side - 6.5)


def test_a_map_on_the_object_beats_a_map_on_empty_background():
    x, on_object, on_background = _scene()
    figures = faithfulness.scores(BrightSquare(), x.expand(2, -1, -1, -1), np.stack([on_object, on_background]), [0, 0],
                                  percentiles=(50, 80))
    keep = figures["keep_highlighted"]
    assert keep[0] > keep[1] + 0.2  # keeping the object keeps the evidence; keeping empty ground loses it
    assert keep[1] < -0.3
    morf = figures["road_most_relevant_first"][80]  # the top 20 %: the object and its dark rim, or empty ground
    assert morf[0] < -0.3 and abs(morf[1]) < 0.05
    assert figures["road_combined"][0] > figures["road_combined"][1]


def test_figures_equal_pytorch_grad_cams_own_metrics():
    from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
    from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirst, ROADMostRelevantFirst
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    x, on_object, _ = _scene()
    maps, targets, model = on_object[None], [ClassifierOutputSoftmaxTarget(0)], BrightSquare()
    ours = faithfulness.scores(model, x, maps, [0], percentiles=(50,))
    np.testing.assert_allclose(ours["keep_highlighted"], CamMultImageConfidenceChange()(x, maps, targets, model).reshape(-1), atol=1e-6)
    for metric, key in ((ROADMostRelevantFirst, "road_most_relevant_first"), (ROADLeastRelevantFirst, "road_least_relevant_first")):
        torch.manual_seed(faithfulness.SEED)  # ROAD's imputation adds seeded noise
        library = metric(percentile=50)(x, maps, targets, model).reshape(-1)
        np.testing.assert_allclose(ours[key][50], library, atol=0.02)


def test_figures_repeat_and_baselines_have_the_right_shape():
    x, on_object, _ = _scene()
    first = faithfulness.scores(BrightSquare(), x, on_object[None], [0])
    second = faithfulness.scores(BrightSquare(), x, on_object[None], [0])
    assert all(np.array_equal(first["road_most_relevant_first"][p], second["road_most_relevant_first"][p]) for p in faithfulness.PERCENTILES)
    random, centre = faithfulness.random_map(24), faithfulness.centre_map(24)
    assert random.shape == centre.shape == (24, 24) and random.min() == 0 and random.max() == 1
    assert np.array_equal(random, faithfulness.random_map(24))  # seeded
    assert centre[12, 12] > 0.99 and centre[0, 0] < 0.05
    with pytest.raises(ValueError, match="maps must be"):
        faithfulness.scores(BrightSquare(), x, on_object[None, :10], [0])


def test_a_trained_panel_and_its_baselines(one_torch_thread):
    from effnet import cam
    from effnet.images import load_image
    from pathlib import Path

    image = load_image(Path(__file__).resolve().parents[2] / "assets" / "chelsea.jpg")
    lite0 = cam.trained_model("lite0")
    result = cam.compute_cam(lite0, image)
    steps = []
    measured = faithfulness.for_panel(lite0, image, result, percentiles=(80,), progress=lambda f, t: steps.append(f))
    document = measured.as_dict()
    assert set(document["baselines"]) == {"random", "centre"}
    assert document["better"]["keep_highlighted"] == "higher" and document["better"]["road_most_relevant_first"] == "lower"
    assert steps[-1] == pytest.approx(1.0) and measured.seconds > 0
    # the panel's own figures are those of scores() on its map alone (the baselines share the batch)
    alone = faithfulness.scores(lite0.model, lite0.preprocessing(image)[None], result.heatmap[None], [result.target_index], (80,))
    assert document["keep_highlighted"] == pytest.approx(float(alone["keep_highlighted"][0]), abs=1e-4)
