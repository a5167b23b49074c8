"""How well a trained network does, and whether it looks at the right place.

- Accuracy on the held-out split with a 95% Wilson interval.
- With object masks (the synthetic task), from Grad-CAM maps of the predicted class:
  *pointing game*: the share of images whose map peaks inside the object (Zhang et al., "Top-down
  Neural Attention by Excitation Backprop", 2016; here with no tolerance margin), and
  *mass inside*: the share of the map's total mass that falls on the object.
  Scored twice. On each network's *native grid* (its map upsampled to its input, as the page shows
  it), beside that grid's *ceiling*: the best a map peaking in one cell can do on these scenes (a
  5 x 5 grid cannot point at a small object that an 11 x 11 one can). And on one *common grid*
  shared by every network (the coarsest of them): each map and each mask pooled to it, a hit being
  a peak cell that touches the object; only these figures compare networks.
  Each network gets its own *chance level* on both grids: its maps scored against the masks of
  other scenes (a fixed derangement), which keeps its habits (a preference for the centre, say)
  and removes only the knowledge of where this scene's object is.
  Accuracy and both attention figures are also given by object size (thirds of the targets' sizes).
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

SIZE_GROUPS = ("small", "medium", "large")

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


def pool_maps(maps: np.ndarray, grid: int) -> np.ndarray:
    """Maps (N, H, W) averaged onto a grid x grid of cells (adaptive average pooling)."""
    tensor = torch.as_tensor(np.asarray(maps, dtype=np.float32))[:, None]
    return torch.nn.functional.adaptive_avg_pool2d(tensor, grid)[:, 0].numpy()


def pool_masks(masks: np.ndarray, grid: int) -> np.ndarray:
    """Masks (N, H, W) onto a grid x grid of cells: a cell is on the object when any pixel of it is."""
    tensor = torch.as_tensor(np.asarray(masks, dtype=np.float32))[:, None]
    return torch.nn.functional.adaptive_max_pool2d(tensor, grid)[:, 0].numpy() > 0


def derangement(count: int, seed: int = 0) -> np.ndarray:
    """A fixed permutation with no fixed point (Sattolo's algorithm): image i is scored against the
    mask of image derangement[i], never its own."""
    order = np.arange(count)
    rng = np.random.default_rng(seed)
    for i in range(count - 1, 0, -1):
        j = int(rng.integers(i))  # j < i: one cycle through every image
        order[i], order[j] = order[j], order[i]
    return order


def one_cell_ceiling(masks: np.ndarray, grid: int) -> np.ndarray:
    """Per image: could a map that peaks in one cell of a grid x grid map, upsampled to the mask's
    size as the maps are (pytorch-grad-cam's scale_cam_image), hit the object in the pointing game?

    Every cell is tried; an image counts when at least one cell's upsampled peak lies wholly on the
    object. The share of such images is the best any network with this grid can score."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    masks = np.asarray(masks, dtype=bool)
    size = masks.shape[-1]
    reachable = np.zeros(len(masks), dtype=bool)
    for cell in range(grid * grid):
        one_hot = np.zeros((1, grid, grid), dtype=np.float32)
        one_hot.flat[cell] = 1.0
        upsampled = scale_cam_image(one_hot, (size, size))[0]
        peak = upsampled >= upsampled.max() - 1e-6
        reachable |= masks[:, peak].all(axis=1)
    return reachable


def size_groups(sizes: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Each image's third by object size (0 small, 1 medium, 2 large) and the two cut points."""
    sizes = np.asarray(sizes, dtype=np.float64)
    cuts = [float(np.quantile(sizes, 1 / 3)), float(np.quantile(sizes, 2 / 3))]
    return np.digitize(sizes, cuts, right=True), cuts


def score_maps(maps: np.ndarray, masks: np.ndarray, common_grid: int, native_grid: int) -> dict[str, np.ndarray]:
    """Per-image attention figures of upsampled maps (N, R, R) against masks (N, R, R): native and
    common-grid pointing game and mass inside, the same against deranged masks (chance), and the
    native grid's one-cell ceiling."""
    maps, masks = _check(maps, masks)
    other = derangement(len(masks))
    pooled, touched = pool_maps(maps, common_grid), pool_masks(masks, common_grid)
    return {
        "hit_native": pointing_game(maps, masks),
        "mass_native": mass_inside(maps, masks),
        "hit_common": pointing_game(pooled, touched),
        "mass_common": mass_inside(pooled, touched),
        "chance_hit_native": pointing_game(maps, masks[other]),
        "chance_mass_native": mass_inside(maps, masks[other]),
        "chance_hit_common": pointing_game(pooled, touched[other]),
        "chance_mass_common": mass_inside(pooled, touched[other]),
        "ceiling_native": one_cell_ceiling(masks, native_grid),
        "object_share": masks.reshape(len(masks), -1).mean(axis=1),
    }


def summarise_scores(per_image: dict[str, np.ndarray], sizes: np.ndarray | None = None) -> dict:
    """JSON-ready means of score_maps' per-image figures (and of `correct`), overall and by size third."""
    names = {"correct": "test_accuracy", "hit_native": "pointing_game_native", "mass_native": "mass_inside_native",
             "hit_common": "pointing_game_common", "mass_common": "mass_inside_common",
             "chance_hit_native": "pointing_game_native_chance", "chance_mass_native": "mass_inside_native_chance",
             "chance_hit_common": "pointing_game_common_chance", "chance_mass_common": "mass_inside_common_chance",
             "ceiling_native": "pointing_game_native_ceiling", "object_share": "object_share"}
    summary = {names[key]: float(np.mean(values)) for key, values in per_image.items() if key in names}
    if sizes is not None:
        groups, cuts = size_groups(sizes)
        summary["by_object_size"] = {"cuts": cuts, "groups": [
            {"group": SIZE_GROUPS[g], "images": int((groups == g).sum()),
             **{names[key]: float(np.mean(values[groups == g])) for key, values in per_image.items()
                if key in ("correct", "hit_native", "hit_common", "mass_common", "ceiling_native") and (groups == g).any()}}
            for g in range(3)]}
    return summary


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


def evaluate_network(model: torch.nn.Module, test: Split, mean, std, common_grid: int | None = None,
                     sizes: np.ndarray | None = None, batch_size: int = 100, cam_images: int | None = None,
                     progress: Callable[[float, str], None] | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Accuracy on `test` and the attention figures: (JSON-ready summary, per-image arrays).

    Maps are of each image's predicted class, as a user of the network would see them.
    With masks: score_maps' figures on the native grid and on `common_grid` (default: the
    network's own grid), each with this network's chance level, plus the native grid's ceiling;
    `sizes` (one per test image, e.g. the target's size) adds the figures by size third. Without
    masks: pytorch-grad-cam's faithfulness metrics. The per-image arrays (`correct` and, with
    masks, score_maps' keys) are what paired comparisons between networks are computed from.
    cam_images: how many test images get maps (None: all).
    """
    from ..cam import cam_batch

    model.eval()
    device = next(model.parameters()).device
    normalise = Normaliser(mean, std, device, channels_last=False)
    images = torch.as_tensor(test.images)
    labels = torch.as_tensor(test.labels).cpu()
    masks_all = None if test.masks is None else np.asarray(test.masks.cpu() if torch.is_tensor(test.masks) else test.masks)
    count = len(labels) if cam_images is None else min(len(labels), cam_images)
    native_grid = cam_grid(images.shape[-1])
    common_grid = common_grid or native_grid
    predictions, maps_all, keep, road = [], [], [], []
    for start in range(0, len(labels), batch_size):
        x = normalise(images[start: start + batch_size].to(device))
        if start < count:
            maps, logits = cam_batch(model, x[: count - start], CAM_LAYER)
            predicted = logits.argmax(1).cpu()
            if len(predicted) < len(x):
                with torch.no_grad():
                    predicted = torch.cat([predicted, model(x[len(predicted):]).argmax(1).cpu()])
            if masks_all is not None:
                maps_all.append(maps)
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
    correct = (predictions == labels).numpy()
    result = {
        "test_images": len(labels),
        "test_accuracy": float(correct.mean()),
        "test_accuracy_ci": list(wilson_interval(float(correct.sum()), len(labels))),
        "cam_layer": CAM_LAYER,
        "cam_images": count,
        "native_grid": native_grid,
        "common_grid": common_grid,
        "per_class_accuracy": [float((predictions[labels == c] == c).float().mean()) if (labels == c).any() else None
                               for c in range(int(labels.max()) + 1)],
    }
    per_image: dict[str, np.ndarray] = {"correct": correct, "predicted": predictions.numpy().astype(np.int16)}
    if masks_all is not None:
        scored = score_maps(np.concatenate(maps_all), masks_all[:count], common_grid, native_grid)
        if count == len(labels):
            per_image.update(scored)
            result.update(summarise_scores(per_image, sizes))
        else:  # accuracy on every image, attention on the first `count`
            result.update(summarise_scores(scored, None if sizes is None else sizes[:count]))
            result["test_accuracy"] = float(correct.mean())
            per_image.update(scored)
        result["pointing_game_ci"] = list(wilson_interval(float(scored["hit_common"].sum()), count))
    else:
        keep_all, road_all = np.concatenate(keep), np.concatenate(road)
        result["faithfulness"] = {
            "keep_highlighted": float(keep_all.mean()),
            "keep_highlighted_ci": list(mean_interval(keep_all)),
            "road_most_relevant_first": float(road_all.mean()),
            "road_most_relevant_first_ci": list(mean_interval(road_all)),
            "road_percentile": 80,
        }
    return result, per_image


def watch_maps(model: torch.nn.Module, images: torch.Tensor, mean, std) -> dict:
    """Raw stage-6 Grad-CAM grids (each image's predicted class) of a few uint8 images, as nested
    lists rounded to 3 decimals: the small record of attention as it forms during training."""
    from ..cam import cam_batch

    device = next(model.parameters()).device
    x = Normaliser(mean, std, device, channels_last=False)(torch.as_tensor(images).to(device))
    was_training = model.training
    model.eval()
    maps, logits = cam_batch(model, x, CAM_LAYER, size=cam_grid(x.shape[-1]))
    model.train(was_training)
    return {"maps": np.round(maps, 3).tolist(), "predicted": logits.argmax(1).cpu().tolist()}
