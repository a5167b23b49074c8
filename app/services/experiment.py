"""The Experiment page's services: results read once per file version, the five trained networks
loaded once per checkpoint and shared, and their Grad-CAM panels on held-out scenes cached by value.

- `load_results(folder)`: effnet.experiment.read_results, cached by the file's path, mtime and size
  (`st.cache_data`: every caller gets its own copy). Raises ResultsError with one line.
- `network_model(...)`: a plain state dict read with torch.load(weights_only=True) into
  effnet.build (`st.cache_resource`: one model per checkpoint for every session; read-only, in eval
  mode). effnet.cam.cam_batch holds the model's own lock while it computes, so sessions can share it.
- `scene_panels(...)`, `upload_panels(...)`: the maps, drawn as PNG bytes (`st.cache_data`).

Each network sees a scene rendered at its own resolution (effnet.experiment.synthetic.render), never an
enlarged small image; the panel shows that input enlarged to one display size with nearest-neighbour
pixels (what the network saw), the map enlarged bilinearly, and the object's outline from the same
scene rendered at the display size (the ground truth, not a blocky enlargement of a small mask).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from PIL import Image

import effnet
from effnet.experiment import ResultsError, read_results
from effnet.experiment.plan import layer_counts
from effnet.scaling import B0_STAGES

ROOT = Path(__file__).resolve().parents[2]
RESULTS_ENV = "EFFNET_EXPERIMENT_RESULTS"  # a results folder (or results.json) to show instead of the committed one
DEFAULT_RESULTS = ROOT / "results" / "experiment"
DISPLAY = 192  # every panel's side on screen, in pixels
OUTLINE = (255, 255, 255)
_CONFIG_HASH = {effnet.ScalingConfig: repr}


def results_folder() -> Path:
    """Where the committed results are: $EFFNET_EXPERIMENT_RESULTS, or results/experiment."""
    configured = os.environ.get(RESULTS_ENV, "").strip()
    return Path(configured) if configured else DEFAULT_RESULTS


def results_path(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder / "results.json" if folder.is_dir() or folder.suffix != ".json" else folder


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime in ns, size) of a file, (0, 0) when it is missing: a rewritten file is read again."""
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


@st.cache_data(max_entries=16, show_spinner=False)
def _read(path: str, stamp: tuple[int, int]) -> dict:
    return read_results(path)


def load_results(folder: str | Path) -> tuple[dict, tuple[int, int]]:
    """(The checked results document of `folder`, its file stamp); ResultsError with one line."""
    path = results_path(folder)
    stamp = _stamp(path)
    return _read(str(path), stamp), stamp


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def _base_settings(document: dict) -> dict:
    """The base's family, dropout and batch-norm settings (a preset base keeps its own: B5-B7 use eps 1e-3)."""
    name = str((document.get("base") or {}).get("name", "")).strip().lower()
    if name in effnet.PRESETS:
        preset = effnet.preset(name)
        return dict(variant=preset.variant, dropout=preset.dropout, batch_norm_eps=preset.batch_norm_eps,
                    batch_norm_momentum=preset.batch_norm_momentum)
    return {}


@st.cache_data(max_entries=16, show_spinner=False)
def _planned(base: tuple, flops_multiple: float, num_classes: int, settings: tuple) -> dict[str, effnet.ScalingConfig]:
    """The plan's exact configurations for a recorded base and multiple (closed form), by network name."""
    from effnet.experiment import matched_plan

    try:
        config = effnet.ScalingConfig(depth=base[0], width=base[1], resolution=base[2], num_classes=num_classes,
                                      **dict(settings))
        return {network.name: network.config for network in matched_plan(config, flops_multiple)}
    except (effnet.ConfigError, ValueError, TypeError):
        return {}


def network_config(document: dict, network: dict) -> effnet.ScalingConfig:
    """The configuration a network of `document` was trained in.

    results.json keeps depth and width to 4 decimals, and that can change the network: depth 8/3
    written as 2.6667 gives ceil(2.6667 * 3) = 9 layers in a 3-repeat stage instead of 8, and a
    rounded width can move a layer's channels by 8. So the exact configuration is recovered: the
    plan's (matched_plan of the recorded base and multiple, closed form), else the written values
    nudged within their rounding, whichever has the recorded parameter count and layers; else the
    written values as they are (the checkpoint then fails to load, with one line naming it)."""
    settings = _base_settings(document)
    num_classes = len(document["dataset"]["classes"])
    written = effnet.ScalingConfig(depth=float(network["depth"]), width=float(network["width"]),
                                   resolution=int(network["resolution"]), num_classes=num_classes, **settings)
    params = network.get("params")
    layers = network.get("layers") if isinstance(network.get("layers"), list) else None

    def fits(config: effnet.ScalingConfig | None) -> bool:
        if config is None or config.resolution != written.resolution:
            return False
        if layers is not None and len(layers) == len(B0_STAGES) and layer_counts(config) != layers:
            return False
        return not isinstance(params, int) or effnet.profile(config).params == params

    base = document.get("base") or {}
    multiple = finite(document.get("flops_multiple"))
    if all(finite(base.get(key)) is not None for key in ("depth", "width", "resolution")) and multiple is not None:
        planned = _planned((float(base["depth"]), float(base["width"]), int(base["resolution"])), multiple, num_classes,
                           tuple(sorted(settings.items()))).get(str(network.get("name")))
        if fits(planned):
            return planned
    depths = [written.depth]
    if layers is not None and len(layers) == len(B0_STAGES):
        depths.insert(0, min(int(count) / stage.repeats for count, stage in zip(layers, B0_STAGES)))
    widths = [written.width] + [written.width + step * 1e-5 for step in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)]
    for depth in depths:
        for width in widths:
            try:
                candidate = replace(written, depth=depth, width=width)
            except effnet.ConfigError:
                continue
            if fits(candidate):
                return candidate
    return written


@st.cache_resource(max_entries=15, show_spinner=False, hash_funcs=_CONFIG_HASH)
def _model(checkpoint: str, stamp: tuple[int, int], config: effnet.ScalingConfig) -> torch.nn.Module:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = effnet.build(config, state_dict=state)
    model.eval()
    return model


def network_model(folder: str | Path, document: dict, network: dict) -> torch.nn.Module:
    """The trained network (shared and read-only); ResultsError naming the checkpoint if it cannot load."""
    folder = results_path(folder).parent
    checkpoint = folder / str(network.get("checkpoint") or f"{network['name']}.pt")
    if not checkpoint.is_file():
        raise ResultsError(f"{network['name']}'s checkpoint {checkpoint.name} is missing from {folder}")
    try:
        return _model(str(checkpoint), _stamp(checkpoint), network_config(document, network))
    except (ValueError, RuntimeError, OSError, KeyError, TypeError) as error:  # WeightsError, ConfigError, pickle
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ResultsError(f"{network['name']}'s checkpoint {checkpoint.name} does not load: {first_line}") from None


# ---------------------------------------------------------------------------------------------
# Panels
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapPanel:
    """One network's map of one image, ready to show."""

    network: str  # its name in results.json (baseline, depth, ...)
    png: bytes  # the input as the network saw it, the map over it, the object's outline
    predicted: str
    confidence: float  # softmax probability of the predicted class
    correct: bool | None  # None where the truth is unknown (an upload)
    peak_inside: bool | None  # pointing game for this image (None without a mask)
    mass_inside: float | None  # share of the map's mass on the object


def _normalised(images: np.ndarray, document: dict) -> torch.Tensor:
    """uint8 (N, R, R, 3) -> the experiment's input: (x / 255 - mean) / std (effnet.experiment.train.Normaliser)."""
    normalisation = document["dataset"].get("normalisation") or {}
    mean = torch.tensor(normalisation.get("mean", [0.5] * 3), dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(normalisation.get("std", [0.25] * 3), dtype=torch.float32).view(1, 3, 1, 1)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255
    return (x - mean) / std


def _outline(mask: np.ndarray, thickness: int = 2) -> np.ndarray:
    """The boundary pixels of a bool mask (inside pixels with a neighbour outside), `thickness` wide."""
    inner = mask.copy()
    for _ in range(thickness):
        padded = np.pad(inner, 1, constant_values=False)
        inner = inner & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def _overlay(image: np.ndarray, heatmap: np.ndarray | None, outline: np.ndarray | None) -> bytes:
    """PNG: the network's input enlarged to DISPLAY (nearest: its real pixels), the map (jet, half
    opacity, bilinear), and the outline in white."""
    import cv2  # pytorch-grad-cam's dependency; effnet.cam uses the same colour map

    base = np.asarray(Image.fromarray(image).resize((DISPLAY, DISPLAY), Image.Resampling.NEAREST), dtype=np.float32)
    if heatmap is not None:
        grid = np.asarray(Image.fromarray(heatmap.astype(np.float32), mode="F").resize((DISPLAY, DISPLAY), Image.Resampling.BILINEAR))
        colours = cv2.cvtColor(cv2.applyColorMap(np.uint8(np.clip(grid, 0, 1) * 255), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        base = 0.5 * base + 0.5 * colours
    picture = np.uint8(np.clip(np.rint(base), 0, 255))
    if outline is not None:
        picture[outline] = OUTLINE
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def _maps(model: torch.nn.Module, images: np.ndarray, document: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(maps (N, R, R) in [0, 1], predicted classes (N,), their probabilities (N,)) at the results' CAM layer."""
    from effnet.cam import cam_batch

    layer = (document.get("cam") or {}).get("layer") or "stage6"
    maps, logits = cam_batch(model, _normalised(images, document), layer)
    probabilities = torch.softmax(logits.float(), dim=1)
    confidence, predicted = probabilities.max(dim=1)
    return maps, predicted.numpy(), confidence.numpy()


def scene_truth(seed: int, index: int) -> tuple[bytes, str]:
    """(PNG of held-out 'show' scene `index` at the display size with its object outlined, its class)."""
    from effnet.experiment import synthetic

    item = synthetic.scene(seed, "show", index)
    image, mask = synthetic.render(item, DISPLAY)
    return _overlay(image, None, _outline(mask)), item.class_name


@st.cache_data(max_entries=24, show_spinner=False)
def scene_panels(folder: str, stamp: tuple[int, int], seed: int, start: int, count: int) -> list[tuple[bytes, str, list[MapPanel]]]:
    """For scenes start .. start + count - 1 of the held-out 'show' split of data seed `seed`:
    (the scene with its outline, its class, one MapPanel per network). `stamp` keys the cache to the
    results file's version. Raises ResultsError when a checkpoint does not load."""
    from effnet.experiment import synthetic
    from effnet.experiment.evaluate import mass_inside, pointing_game

    document, _ = load_results(folder)
    classes = [str(name) for name in document["dataset"]["classes"]]
    items = [synthetic.scene(seed, "show", start + i) for i in range(count)]
    outlines = [_outline(synthetic.render(item, DISPLAY)[1]) for item in items]
    rows = [(*scene_truth(seed, start + i), []) for i in range(count)]
    for network in document["networks"]:
        model = network_model(folder, document, network)
        rendered = [synthetic.render(item, int(network["resolution"])) for item in items]
        images = np.stack([image for image, _ in rendered])
        masks = np.stack([mask for _, mask in rendered])
        maps, predicted, confidence = _maps(model, images, document)
        hits, mass = pointing_game(maps, masks), mass_inside(maps, masks)
        for i, item in enumerate(items):
            label = int(predicted[i])
            rows[i][2].append(MapPanel(
                network=str(network["name"]), png=_overlay(images[i], maps[i], outlines[i]),
                predicted=classes[label] if label < len(classes) else str(label), confidence=float(confidence[i]),
                correct=label == item.label, peak_inside=bool(hits[i]), mass_inside=float(mass[i]),
            ))
    return rows


def _photo_at(image: Image.Image, resolution: int) -> np.ndarray:
    """A photo as the experiment's photo sets feed it: shorter side resized, centre-cropped (ImageFolderSource)."""
    scale = resolution / min(image.size)
    size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
    picture = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    left, top = (picture.width - resolution) // 2, (picture.height - resolution) // 2
    return np.asarray(picture.crop((left, top, left + resolution, top + resolution)))


@st.cache_data(max_entries=16, show_spinner=False)
def upload_panels(folder: str, stamp: tuple[int, int], image_digest: str, _image: Image.Image) -> list[MapPanel]:
    """One MapPanel per network for an uploaded photo (no mask: no outline, no attention score)."""
    document, _ = load_results(folder)
    classes = [str(name) for name in document["dataset"]["classes"]]
    panels = []
    for network in document["networks"]:
        model = network_model(folder, document, network)
        image = _photo_at(_image, int(network["resolution"]))
        maps, predicted, confidence = _maps(model, image[None], document)
        label = int(predicted[0])
        panels.append(MapPanel(str(network["name"]), _overlay(image, maps[0], None),
                               classes[label] if label < len(classes) else str(label), float(confidence[0]),
                               None, None, None))
    return panels


@st.cache_data(max_entries=4, show_spinner=False)
def sample_grid_png(seed: int, resolution: int = 96) -> bytes:
    """effnet.experiment.synthetic.sample_grid: one scene per class beside its mask, as PNG."""
    from effnet.experiment import synthetic

    buffer = io.BytesIO()
    Image.fromarray(synthetic.sample_grid(seed=seed, resolution=resolution)).save(buffer, format="PNG")
    return buffer.getvalue()


def finite(value) -> float | None:
    """A number from results.json, or None where it is missing, null or not finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
