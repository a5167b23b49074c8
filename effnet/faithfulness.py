"""Does the highlighted region drive the prediction? pytorch-grad-cam's metrics, and their baselines.

A map can look plausible and still be wrong about what the network uses. pytorch-grad-cam's
`metrics` module tests it by changing the image where the map points and watching the target's
softmax confidence (all figures are changes in that probability, -1..+1):

* keep_highlighted — CamMultImageConfidenceChange: the image multiplied by the map (only the
  highlighted region kept). Higher is better: a faithful map keeps what the network needs.
* road_most_relevant_first[p] — ROADMostRelevantFirst(p): the pixels above the map's p-th percentile
  (the most relevant 100-p %) removed and filled in from their neighbours (ROAD, Rong et al. 2022,
  "A Consistent and Efficient Evaluation Strategy for Attribution Methods"). Lower is better.
* road_least_relevant_first[p] — ROADLeastRelevantFirst(p): only the most relevant p % kept, the rest
  filled in. Higher is better.
* road_combined — ROADCombined's formula over the same percentiles: (mean LeRF - mean MoRF) / 2.
  Higher is better.

Baselines (the library's tutorial: "compare with a random map"): the same figures for a seeded
random map with the CAM's own coarseness (random cells, upsampled like a CAM) and for a centred
Gaussian (the photographer's bias: objects sit in the middle). A method worth showing beats both.

One implementation: the Attention page, `python -m effnet cam --faithfulness` and the scaling
experiment (effnet.experiment.evaluate.faithfulness) all call `scores` here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

PERCENTILES: tuple[int, ...] = (20, 50, 80)
SEED = 0
RANDOM_CELLS = 7  # a head map at 224 px is 7 x 7 cells: the random baseline is as coarse
Progress = Callable[[float, str], None]

MEANINGS = {
    "keep_highlighted": ("Keep only the highlighted region (image × map): change in the target's confidence", "higher"),
    "road_most_relevant_first": ("ROAD: remove the most relevant pixels (above the p-th percentile), fill them in", "lower"),
    "road_least_relevant_first": ("ROAD: keep only the most relevant p % of pixels, fill in the rest", "higher"),
    "road_combined": ("ROAD combined: (least-relevant-first − most-relevant-first) / 2, over all percentiles", "higher"),
}
BASELINE_LABELS = {"map": "this map", "random": "random map", "centre": "centred Gaussian"}


def scores(model: torch.nn.Module, x: torch.Tensor, maps: np.ndarray, targets: Sequence[int],
           percentiles: Sequence[int] = PERCENTILES, progress: Progress | None = None,
           seed: int = SEED, least_relevant_first: bool = True) -> dict[str, np.ndarray | dict[int, np.ndarray]]:
    """pytorch-grad-cam's metrics for a batch: x (B, 3, H, W) normalised as the network expects, maps
    (B, H, W) in [0, 1], one class per image. Per image: keep_highlighted, road_most_relevant_first
    and road_least_relevant_first ({percentile: values}) and road_combined (these two left out with
    least_relevant_first=False, which saves half the ROAD passes).

    The unperturbed confidence is computed once (the metrics' return_diff=False) instead of once per
    metric; ROAD's noisy imputation is seeded, so the figures repeat.
    """
    from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
    from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirst, ROADMostRelevantFirst
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] != x.shape[0] or maps.shape[1:] != tuple(x.shape[-2:]):
        raise ValueError(f"maps must be (batch, H, W) matching the input {tuple(x.shape)}, got {maps.shape}")
    chosen = [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    steps = 2 + (2 if least_relevant_first else 1) * len(percentiles)
    done = 0

    def step(text: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / steps, text)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            before = np.float32([target(output).cpu().numpy() for target, output in zip(chosen, model(x))])
            step("unchanged image")

            def change(metric) -> np.ndarray:
                after = metric(x, maps, chosen, model, return_diff=False)
                return np.asarray(after, dtype=np.float64).reshape(-1) - before.astype(np.float64)

            keep = change(CamMultImageConfidenceChange())
            step("only the highlighted region")
            morf, lerf = {}, {}
            for p in percentiles:
                morf[int(p)] = change(ROADMostRelevantFirst(percentile=p))
                step(f"ROAD, most relevant first, p={p}")
                if least_relevant_first:
                    lerf[int(p)] = change(ROADLeastRelevantFirst(percentile=p))
                    step(f"ROAD, least relevant first, p={p}")
    finally:
        model.train(was_training)
    figures = {"keep_highlighted": keep, "road_most_relevant_first": morf}
    if least_relevant_first:
        figures["road_least_relevant_first"] = lerf
        figures["road_combined"] = (np.mean(list(lerf.values()), axis=0) - np.mean(list(morf.values()), axis=0)) / 2
    return figures


def random_map(side: int, cells: int = RANDOM_CELLS, seed: int = SEED) -> np.ndarray:
    """A seeded random map as coarse as a CAM: cells x cells uniform values, upsampled bilinearly."""
    import cv2

    grid = np.random.default_rng(seed).random((cells, cells), dtype=np.float32)
    up = cv2.resize(grid, (side, side), interpolation=cv2.INTER_LINEAR)
    return (up - up.min()) / max(float(up.max() - up.min()), 1e-12)


def centre_map(side: int, sigma_share: float = 0.25) -> np.ndarray:
    """A centred Gaussian (sigma a quarter of the side), max 1: 'the object is in the middle'."""
    axis = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5
    return np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma_share**2)).astype(np.float32)


@dataclass(frozen=True)
class Faithfulness:
    """The figures of one panel's map and of the baselines, and what they cost."""

    figures: dict[str, dict]  # "map" | "random" | "centre" -> {metric: float or {percentile: float}}
    percentiles: tuple[int, ...]
    target_index: int
    seconds: float
    forward_passes: int = field(default=0)

    def as_dict(self) -> dict:
        def plain(value):
            return {str(k): round(float(v), 6) for k, v in value.items()} if isinstance(value, dict) else round(float(value), 6)

        document = {kind: {metric: plain(value) for metric, value in figures.items()} for kind, figures in self.figures.items()}
        return {
            **document["map"],
            "baselines": {kind: document[kind] for kind in document if kind != "map"},
            "percentiles": list(self.percentiles),
            "target_index": self.target_index,
            "seconds": round(self.seconds, 3),
            "better": {metric: direction for metric, (_, direction) in MEANINGS.items()},
        }


def for_panel(cam_model, image, result, baselines: bool = True, percentiles: Sequence[int] = PERCENTILES,
              progress: Progress | None = None) -> Faithfulness:
    """The faithfulness of one effnet.cam.CamResult (and of the baselines) on the input it was computed on.

    The image goes through the same preprocessing at the same size; the target is the panel's.
    Forward passes only (no gradients, nothing written to the model): safe on a shared model.
    """
    preprocessing = cam_model.preprocessing
    if preprocessing.crop_size != result.resolution:
        preprocessing = preprocessing.at_resolution(result.resolution)
    start = time.perf_counter()
    with torch.inference_mode(False):
        x = preprocessing(image.convert("RGB")).unsqueeze(0).to(next(cam_model.model.parameters()).device)
    side = result.heatmap.shape[-1]
    kinds = {"map": result.heatmap}
    if baselines:
        kinds.update({"random": random_map(side), "centre": centre_map(side)})
    x = x.expand(len(kinds), -1, -1, -1).contiguous()  # one batch: the map and its baselines together
    maps = np.stack([np.asarray(m, dtype=np.float32) for m in kinds.values()])
    batch = scores(cam_model.model, x, maps, [result.target_index] * len(kinds), percentiles, progress)
    figures = {}
    for index, kind in enumerate(kinds):
        figures[kind] = {
            metric: ({p: float(v[index]) for p, v in value.items()} if isinstance(value, dict) else float(value[index]))
            for metric, value in batch.items()
        }
    return Faithfulness(figures, tuple(int(p) for p in percentiles), result.target_index,
                        time.perf_counter() - start, 2 + 2 * len(percentiles))
