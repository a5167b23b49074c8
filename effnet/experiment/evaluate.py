"""How well a trained network does, and whether it looks at the right place.

- Accuracy on the held-out split with a 95% Wilson interval.
- With object masks (the synthetic task), from Grad-CAM maps of the predicted class:
  *pointing game*: the share of images whose map peaks inside the object (Zhang et al., "Top-down
  Neural Attention by Excitation Backprop", 2016; here with no tolerance margin), and
  *mass inside*: the share of the map's total mass that falls on the object. Both are compared with
  what a map that knows nothing scores: the object's share of the image (a random peak lands on the
  object that often; a flat map puts that share of its mass there).
- Without masks (photos), faithfulness from pytorch-grad-cam's own metrics module: the change in
  the target's softmax confidence when only the highlighted region is kept
  (CamMultImageConfidenceChange; higher is better) and ROAD, removing the most relevant pixels
  first (ROADMostRelevantFirst; a larger drop, i.e. a lower value, is better).

Maps come from effnet.cam.cam_batch (the same code as the Attention page), at `CAM_LAYER`, the end of
stage 6: the last stage at stride 16, so an 80-px input gives a 5 x 5 grid and a 176-px one 11 x 11.
The head (stride 32) would give 3 x 3 at 80 px: too coarse to say where anything is.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ..scaling import conv_output_size
from .data import Split
from .train import Normaliser

CAM_LAYER = "stage6"
CAM_STRIDE = 16
Z95 = 1.959963984540054


def cam_grid(resolution: int) -> int:
    """Cells per side of a stage-6 map for an input of `resolution` pixels (stride 16, 'same' padding)."""
    size = resolution
    for _ in range(4):  # stem, stage 3, stage 4, stage 5 halve the map
        size = conv_output_size(size, 2)
    return size


def wilson_interval(successes: float, total: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (good near 0 and 1, unlike the normal one)."""
    if total <= 0:
        return (0.0, 1.0)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: np.ndarray, z: float = Z95) -> tuple[float, float]:
    """Normal 95% interval of a mean."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return (float("nan"), float("nan"))
    half = z * values.std(ddof=1) / math.sqrt(len(values))
    return (float(values.mean() - half), float(values.mean() + half))


def pointing_game(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image: does the map's maximum lie on the object? maps (N, H, W) float, masks (N, H, W) bool.

    A map with several equal maxima counts as a hit only when all of them lie on the object; an
    all-zero map (the network found no evidence) is a miss.
    """
    maps, masks = _check(maps, masks)
    flat, inside = maps.reshape(len(maps), -1), masks.reshape(len(masks), -1)
    peak = flat.max(axis=1, keepdims=True)
    at_peak = flat == peak
    hits = (at_peak & inside).sum(axis=1) == at_peak.sum(axis=1)
    return hits & (peak[:, 0] > 0)


def mass_inside(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image: the share of the map's mass on the object (0 for an all-zero map)."""
    maps, masks = _check(maps, masks)
    total = maps.reshape(len(maps), -1).sum(axis=1)
    inside = (maps * masks).reshape(len(maps), -1).sum(axis=1)
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


def _check(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]
    if maps.shape != masks.shape or maps.ndim != 3:
        raise ValueError(f"maps and masks must both be (N, H, W) of one shape, got {maps.shape} and {masks.shape}")
    if (maps < 0).any():
        raise ValueError("maps must be non-negative (CAMs after ReLU)")
    return maps, masks


def faithfulness(model: torch.nn.Module, x: torch.Tensor, maps: np.ndarray, targets: list[int],
                 percentile: int = 80) -> dict[str, np.ndarray]:
    """pytorch-grad-cam's metrics for a batch (effnet.faithfulness, the Attention page's code): per
    image, the softmax-confidence change when the image is multiplied by its map (keep the
    highlighted region; higher is better) and ROAD with the pixels above the map's `percentile`-th
    percentile removed (confidence change; lower is better)."""
    from .. import faithfulness as shared

    figures = shared.scores(model, x, maps, targets, percentiles=(percentile,), least_relevant_first=False)
    return {"keep_highlighted": figures["keep_highlighted"],
            "road_most_relevant_first": figures["road_most_relevant_first"][int(percentile)]}


def evaluate_network(model: torch.nn.Module, test: Split, mean, std, batch_size: int = 100,
                     cam_images: int | None = None, progress: Callable[[float, str], None] | None = None) -> dict:
    """Accuracy on `test` and the attention figures, JSON-ready.

    cam_images: how many test images get maps (None: all); maps are of each image's predicted class,
    as a user of the network would see them. With masks: pointing game and mass inside (plus chance
    levels); without: pytorch-grad-cam's faithfulness metrics.
    """
    from ..cam import cam_batch

    model.eval()
    device = next(model.parameters()).device
    normalise = Normaliser(mean, std, device, channels_last=False)
    images = torch.from_numpy(test.images)
    labels = torch.from_numpy(test.labels)
    count = len(labels) if cam_images is None else min(len(labels), cam_images)
    predictions, hits, mass, keep, road, object_share = [], [], [], [], [], []
    for start in range(0, len(labels), batch_size):
        x = normalise(images[start: start + batch_size].to(device))
        if start < count:
            maps, logits = cam_batch(model, x[: count - start], CAM_LAYER)
            predicted = logits.argmax(1).cpu()
            if len(predicted) < len(x):
                with torch.no_grad():
                    predicted = torch.cat([predicted, model(x[len(predicted):]).argmax(1).cpu()])
            if test.masks is not None:
                masks = test.masks[start: start + len(maps)]
                hits.append(pointing_game(maps, masks))
                mass.append(mass_inside(maps, masks))
                object_share.append(masks.reshape(len(masks), -1).mean(axis=1))
            else:
                scores = faithfulness(model, x[: len(maps)], maps, predicted[: len(maps)].tolist())
                keep.append(scores["keep_highlighted"])
                road.append(scores["road_most_relevant_first"])
        else:
            with torch.no_grad():
                predicted = model(x).argmax(1).cpu()
        predictions.append(predicted)
        if progress is not None:
            progress(min(1.0, (start + batch_size) / len(labels)), "evaluating")
    predictions = torch.cat(predictions)
    correct = int((predictions == labels).sum())
    result = {
        "test_images": len(labels),
        "test_accuracy": correct / len(labels),
        "test_accuracy_ci": list(wilson_interval(correct, len(labels))),
        "cam_layer": CAM_LAYER,
        "cam_images": count,
        "per_class_accuracy": [float((predictions[labels == c] == c).float().mean()) if (labels == c).any() else None
                               for c in range(int(labels.max()) + 1)],
    }
    if test.masks is not None:
        hits_all, mass_all, share = np.concatenate(hits), np.concatenate(mass), np.concatenate(object_share)
        result.update({
            "pointing_game": float(hits_all.mean()),
            "pointing_game_ci": list(wilson_interval(float(hits_all.sum()), len(hits_all))),
            "mass_inside": float(mass_all.mean()),
            "mass_inside_ci": list(mean_interval(mass_all)),
            "object_share": float(share.mean()),  # chance level of both: a blind map's score
        })
    else:
        keep_all, road_all = np.concatenate(keep), np.concatenate(road)
        result["faithfulness"] = {
            "keep_highlighted": float(keep_all.mean()),
            "keep_highlighted_ci": list(mean_interval(keep_all)),
            "road_most_relevant_first": float(road_all.mean()),
            "road_most_relevant_first_ci": list(mean_interval(road_all)),
            "road_percentile": 80,
        }
    return result
