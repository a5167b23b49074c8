"""Pictures of a finished experiment: what the Experiment page and `python -m effnet` can show of a
results folder, computed here so that a page only asks and draws.

    document = read_results(folder)
    models = {n["name"]: load_network(folder, n) for n in document["networks"]}
    rows = scene_panels(document, models, start=0, count=3)          # held-out scenes, maps, scores
    rows = watch_panels(document, epoch=2)                            # attention as it formed (no model)
    panels = photo_panels(document, models, image)                    # an uploaded photo (no mask)

Every network is rebuilt from its entry's exact configuration (`ScalingConfig(**network["config"])`)
and the first seed's state dict, loaded with `torch.load(..., weights_only=True)`: no plan is solved
again. Each network sees a scene rendered at its own resolution (synthetic.render), never an
enlarged small image; a panel shows that input enlarged to one display size with nearest-neighbour
pixels (what the network saw), its map enlarged bilinearly (as effnet.cam enlarges maps), and the
object's outline from the same scene drawn at the display size (the truth, not a blocky mask).

A panel's attention figures are scored as the experiment scores them on its common grid (map and
mask pooled to it; a hit is a peak cell that touches the object), so one picture and the page's
headline figures speak of the same thing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from ..overlay import overlay as draw_overlay
from . import synthetic
from .results import ResultsError

DISPLAY = 192  # every panel's side, in pixels
OUTLINE = (255, 255, 255)


@dataclass(frozen=True)
class MapPanel:
    """One network's map of one image, ready to show."""

    network: str  # its name in results.json (baseline, depth, ...)
    png: bytes  # the input as the network saw it, the map over it, the object's outline
    predicted: str
    confidence: float | None  # softmax probability of the predicted class (None: not recorded)
    correct: bool | None  # None where the truth is unknown (a photo)
    peak_inside: bool | None  # pointing game on the common grid (None without a mask)
    mass_inside: float | None  # share of the pooled map on the object's cells


@dataclass(frozen=True)
class SceneRow:
    """One held-out scene: its picture with the object outlined, its class, one panel per network."""

    index: int
    truth_png: bytes
    class_name: str
    panels: list[MapPanel]


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def network_config(network: Mapping):
    """The exact configuration a network entry was trained in (results.json stores every field)."""
    from ..scaling import ConfigError, ScalingConfig

    fields = network.get("config")
    if not isinstance(fields, Mapping):
        raise ResultsError(f"{network.get('name')!s} has no exact configuration in results.json")
    try:
        return ScalingConfig(**dict(fields))
    except (ConfigError, TypeError, ValueError) as error:
        raise ResultsError(f"{network.get('name')!s}'s configuration is not valid: {_first_line(error)}") from None


def checkpoint_path(folder: str | Path, network: Mapping) -> Path:
    """The first seed's state dict of a network entry (a path relative to the results folder)."""
    folder = Path(folder)
    if folder.suffix == ".json":
        folder = folder.parent
    return folder / str(network.get("checkpoint") or f"{network.get('name')}-seed0.pt")


def load_checkpoint(path: str | Path, config):
    """effnet.build(config) with the plain state dict at `path`, in eval mode; ResultsError naming
    the file (one line) when it is missing or does not fit the configuration."""
    import torch

    from ..weights import build

    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"checkpoint {path.name} is missing from {path.parent}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = build(config, state_dict=state)
    except (ValueError, RuntimeError, OSError, KeyError, TypeError, EOFError) as error:  # WeightsError, pickle
        raise ResultsError(f"checkpoint {path.name} does not load: {_first_line(error)}") from None
    model.eval()
    return model


def load_network(folder: str | Path, network: Mapping):
    """The trained network of an entry (first seed), rebuilt exactly; ResultsError with one line."""
    try:
        return load_checkpoint(checkpoint_path(folder, network), network_config(network))
    except ResultsError as error:
        raise ResultsError(f"{network.get('name')!s}'s {error}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ---------------------------------------------------------------------------------------------
# Scenes and maps
# ---------------------------------------------------------------------------------------------
def scene_options(dataset: Mapping) -> dict:
    """The keyword arguments that draw a results document's scenes (synthetic.scenes), as the run drew them."""
    options = {"easy": bool(dataset.get("easy", False))}
    objects = dataset.get("objects")
    if objects not in (None, "small"):
        options["objects"] = objects
    return options


def show_scenes(dataset: Mapping, start: int, count: int) -> list:
    """Scenes start .. start + count - 1 of the held-out "show" split of a document's dataset."""
    return synthetic.scenes(int(dataset.get("seed", 0) or 0), "show", count, start=start, **scene_options(dataset))


def normalised(images: np.ndarray, dataset: Mapping):
    """uint8 (N, R, R, 3) -> the experiment's input, (x / 255 - mean) / std with the run's normalisation."""
    import torch

    normalisation = dataset.get("normalisation") or {}
    mean = torch.tensor(normalisation.get("mean", [0.5] * 3), dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(normalisation.get("std", [0.25] * 3), dtype=torch.float32).view(1, 3, 1, 1)
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2))).float() / 255
    return (x - mean) / std


def network_maps(model, images: np.ndarray, document: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(maps (N, R, R) in [0, 1], predicted classes (N,), their softmax probabilities (N,)): Grad-CAM of
    each image's predicted class at the results' CAM layer (effnet.cam.cam_batch, which holds the
    model's lock: a network shared between sessions is safe)."""
    import torch

    from ..cam import cam_batch

    layer = (document.get("cam") or {}).get("layer") or "stage6"
    maps, logits = cam_batch(model, normalised(images, document["dataset"]), layer)
    probabilities = torch.softmax(logits.float(), dim=1)
    confidence, predicted = probabilities.max(dim=1)
    return maps, predicted.numpy(), confidence.numpy()


def common_scores(maps: np.ndarray, masks: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(pointing-game hits, mass inside) per image on the common grid, as the experiment scores them."""
    from .evaluate import mass_inside, pointing_game, pool_maps, pool_masks

    pooled, touched = pool_maps(maps, grid), pool_masks(masks, grid)
    return pointing_game(pooled, touched), mass_inside(pooled, touched)


def upsample(grid_maps: np.ndarray, size: int) -> np.ndarray:
    """Raw map grids (N, g, g) enlarged to (N, size, size) as effnet.cam enlarges them (pytorch-grad-cam's
    scale_cam_image: bilinear, then scaled to [0, 1] per map)."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    grids = np.nan_to_num(np.maximum(np.asarray(grid_maps, dtype=np.float32), 0))
    return np.clip(scale_cam_image(grids, (size, size)), 0.0, 1.0)


def pattern_period_pixels(diameter_share: float, resolution: int) -> float:
    """Pixels per period of a target's pattern: the period is synthetic.PATTERN_PERIOD circumradii, and
    the circumradius half the target's diameter (a share of the image side)."""
    return synthetic.PATTERN_PERIOD * diameter_share / 2 * resolution


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------
def outline(mask: np.ndarray, thickness: int = 2) -> np.ndarray:
    """The boundary pixels of a bool mask (inside pixels with a neighbour outside), `thickness` wide."""
    inner = np.asarray(mask, dtype=bool).copy()
    for _ in range(thickness):
        padded = np.pad(inner, 1, constant_values=False)
        inner = inner & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return np.asarray(mask, dtype=bool) & ~inner


def overlay(image: np.ndarray, heatmap: np.ndarray | None, edge: np.ndarray | None, display: int = DISPLAY) -> np.ndarray:
    """RGB uint8 (display, display, 3): the input enlarged with nearest-neighbour pixels (its real
    pixels), the map in the jet colour map at half opacity (bilinear), the outline in white."""
    picture = np.asarray(Image.fromarray(image).resize((display, display), Image.Resampling.NEAREST), dtype=np.uint8)
    if heatmap is not None:
        grid = np.asarray(Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
                          .resize((display, display), Image.Resampling.BILINEAR))
        picture = draw_overlay(picture, grid, alpha=0.5)
    else:
        picture = picture.copy()  # the outline is drawn into it
    if edge is not None:
        picture[edge] = OUTLINE
    return picture


def png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def _class_name(classes: Sequence[str], label: int) -> str:
    return str(classes[label]) if 0 <= label < len(classes) else str(label)


def _truth(items: Sequence, display: int) -> tuple[list[bytes], list[np.ndarray]]:
    """Each scene drawn at the display size with its object outlined (PNG), and the outlines."""
    pictures, edges = [], []
    for item in items:
        image, mask = synthetic.render(item, display)
        edges.append(outline(mask))
        pictures.append(png(overlay(image, None, edges[-1], display)))
    return pictures, edges


# ---------------------------------------------------------------------------------------------
# The page's three kinds of panels
# ---------------------------------------------------------------------------------------------
def scene_panels(document: Mapping, models: Mapping, start: int, count: int, display: int = DISPLAY) -> list[SceneRow]:
    """Held-out "show" scenes start .. start + count - 1: each network's map of its own rendering of
    the scene, its prediction, and the scene's common-grid pointing game and mass inside."""
    dataset = document["dataset"]
    classes = [str(c) for c in dataset["classes"]]
    grid = int(document["common_grid"])
    items = show_scenes(dataset, start, count)
    truths, edges = _truth(items, display)
    rows = [SceneRow(start + i, truths[i], item.class_name, []) for i, item in enumerate(items)]
    for network in document["networks"]:
        rendered = [synthetic.render(item, int(network["resolution"])) for item in items]
        images, masks = np.stack([image for image, _ in rendered]), np.stack([mask for _, mask in rendered])
        maps, predicted, confidence = network_maps(models[network["name"]], images, document)
        hits, mass = common_scores(maps, masks, grid)
        for i, item in enumerate(items):
            label = int(predicted[i])
            rows[i].panels.append(MapPanel(str(network["name"]), png(overlay(images[i], maps[i], edges[i], display)),
                                           _class_name(classes, label), float(confidence[i]), label == item.label,
                                           bool(hits[i]), float(mass[i])))
    return rows


def watch_epochs(document: Mapping) -> int:
    """How many epochs every network recorded maps of the watched scenes for (0: none recorded)."""
    counts = []
    for network in document["networks"]:
        history = network.get("history") or []
        counts.append(sum(1 for entry in history if isinstance(entry, Mapping) and isinstance(entry.get("watch"), Mapping)))
    return min(counts) if counts else 0


def watch_panels(document: Mapping, epoch: int, display: int = DISPLAY) -> list[SceneRow]:
    """The watched held-out scenes ("show" split, first seed) after `epoch` (1-based): each network's
    map as recorded during training (raw grid values, enlarged here), its prediction then, and the
    common-grid scores of that map. Needs no network: the maps are in results.json."""
    dataset = document["dataset"]
    classes = [str(c) for c in dataset["classes"]]
    grid = int(document["common_grid"])
    epochs = watch_epochs(document)
    if not 1 <= epoch <= epochs:
        raise ResultsError(f"epoch {epoch} has no recorded maps; accepted: 1 to {epochs}")
    watched = [network["history"][epoch - 1]["watch"] for network in document["networks"]]
    count = min(len(watch.get("maps") or []) for watch in watched)
    items = show_scenes(dataset, 0, count)
    truths, edges = _truth(items, display)
    rows = [SceneRow(i, truths[i], item.class_name, []) for i, item in enumerate(items)]
    for network, watch in zip(document["networks"], watched):
        resolution = int(network["resolution"])
        rendered = [synthetic.render(item, resolution) for item in items]
        images, masks = np.stack([image for image, _ in rendered]), np.stack([mask for _, mask in rendered])
        maps = upsample(np.asarray(watch["maps"][:count], dtype=np.float32), resolution)
        hits, mass = common_scores(maps, masks, grid)
        predicted = list(watch.get("predicted") or [])
        for i, item in enumerate(items):
            label = int(predicted[i]) if i < len(predicted) else -1
            rows[i].panels.append(MapPanel(str(network["name"]), png(overlay(images[i], maps[i], edges[i], display)),
                                           _class_name(classes, label) if label >= 0 else "–", None,
                                           label == item.label if label >= 0 else None, bool(hits[i]), float(mass[i])))
    return rows


def photo_at(image: Image.Image, resolution: int) -> np.ndarray:
    """A photo as the experiment's photo sets feed it: shorter side resized, centre-cropped (ImageFolderSource)."""
    scale = resolution / min(image.size)
    size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
    picture = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    left, top = (picture.width - resolution) // 2, (picture.height - resolution) // 2
    return np.asarray(picture.crop((left, top, left + resolution, top + resolution)))


def photo_panels(document: Mapping, models: Mapping, image: Image.Image, display: int = DISPLAY) -> list[MapPanel]:
    """One panel per network for a photo (no mask: no outline, no attention score)."""
    classes = [str(c) for c in document["dataset"]["classes"]]
    panels = []
    for network in document["networks"]:
        picture = photo_at(image, int(network["resolution"]))
        maps, predicted, confidence = network_maps(models[network["name"]], picture[None], document)
        label = int(predicted[0])
        panels.append(MapPanel(str(network["name"]), png(overlay(picture, maps[0], None, display)),
                               _class_name(classes, label), float(confidence[0]), None, None, None))
    return panels


def sample_picture(dataset: Mapping, resolution: int) -> np.ndarray:
    """One held-out scene per class beside its mask, drawn at `resolution` (the base's: what it sees)."""
    return synthetic.sample_grid(seed=int(dataset.get("seed", 0) or 0), resolution=int(resolution))
