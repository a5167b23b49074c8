"""Class activation maps (Grad-CAM and relatives) that compare scaling choices on one image.

The paper's Figure 7 shows where compound-scaled networks look compared with networks scaled in
one dimension. This module computes such maps for trained EfficientNets, for user checkpoints and,
clearly labelled, for untrained configurations, and puts numbers on the differences.

API
---
    METHODS = ("gradcam", "gradcam++", "hirescam", "layercam", "eigencam")
    METHOD_LABELS: dict[str, str]          # "gradcam" -> "Grad-CAM", ...
    DEFAULT_LAYER = "head"                 # the last convolution before pooling
    STAGES = ("stage4", "stage5", "stage6", "stage7", "stage8", "head")   # compare_stages default
    UNTRAINED_LABEL = "untrained (random weights)"
    MAX_CAM_BYTES                          # memory limit per CAM (env EFFNET_MAX_CAM_BYTES, 4 GiB)

    CamModel(name, label, model, preprocessing, trained, resolution, weights)   # frozen dataclass
    trained_model(name: str) -> CamModel                     # 'lite0'..'lite2', cached 'b0'..'b7', 'v2_s'..'v2_l'; one per name
    available_trained() -> tuple[str, ...]                   # the names trained_model serves offline
    untrained_model(config: ScalingConfig, seed: int = 0) -> CamModel
    checkpoint_model(config, source: bytes | str | Path | Mapping | BinaryIO,
                     preprocessing: Preprocessing | None = None, name: str = "") -> CamModel

    compute_cam(cam_model, image, method="gradcam", target=None, layer=None, resolution=None) -> CamResult
    compute_cams(cam_model, image, layers, method="gradcam", target=None, resolution=None) -> list[CamResult]
    compare_family(image, names=("lite0", "lite1", "lite2"), method=..., target=None, layer=None)
    compare_resolutions(image, name="lite0", resolutions=(224, 260, 300, 380), method=..., target=None, layer=None)
    compare_stages(image, name="lite0", stages=STAGES, method=..., target=None)
        -> list[CamResult]; `name`/`names` items may also be CamModel objects (the app's cached ones)
    overlap_matrix(results: Sequence[CamResult]) -> np.ndarray   # IoU of top-20% regions, (n, n)
    resolve_target(target: int | str | None, num_classes: int = 1000) -> int | None
    normalise_method(method: str) -> str;  normalise_layer(layer: str | None, names=LAYER_NAMES) -> str   # ValueError if unknown
    check_cam_memory(config: ScalingConfig) -> None          # ConfigError above MAX_CAM_BYTES
    model_lock(model) -> threading.Lock                      # the per-model lock compute_cam holds

    CamResult (frozen dataclass): model_name, model_label, trained, weights, resolution, layer, method,
        target_index, target_label, target_prob, top5 (tuple of (label, prob)), heatmap (float32 (H, W)
        in [0, 1] over the crop the network saw), crop_box ((left, top, right, bottom) in original-image
        pixels), image_size ((width, height)), attention (effnet.attention.AttentionStats:
        mass_share_50, centre, peak);
        .image_grid(shape=None) -> np.ndarray   the map on a grid over the original image
        .overlay(image, alpha=0.5, max_side=1024) -> PIL.Image   heatmap over the ORIGINAL image, the
            part the network did not see dimmed and the crop outlined
        .as_dict() -> dict   JSON-ready (no heatmap)

`image` is an RGB PIL image from effnet.load_image (bytes or a path are also accepted and go through
load_image). `target`: None = each model's own top-1; an ImageNet class index; or a class name
('tabby', case-insensitive; unknown names raise ValueError with close matches). Pass one target to
every panel for a fair comparison. Untrained results say UNTRAINED_LABEL in model_label.

How a map is computed, and why it is safe on a model shared between threads
-------------------------------------------------------------------------
pytorch-grad-cam registers hooks on the model and accumulates gradients into the parameters'
`.grad`: two requests on one shared model corrupt each other (seen on these machines: crashes with 20 Streamlit
sessions). Here one forward pass runs the network piece by piece (stem, stage2..stage8, head; the
pieces `model.layer_names` lists and `model.layer(name)` returns; V2-S ends at stage7): up to the earliest target layer without gradients, from there on
with gradients, keeping each target layer's output. One `torch.autograd.grad` of the target logit
with respect to those outputs gives their gradients: nothing is written to the model (no hooks, no
`.grad`), and the same forward pass gives the top-5 predictions. pytorch-grad-cam's method classes
(GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, EigenCAM), created without target layers, turn the
activations and gradients into the map (`get_cam_image`, `scale_cam_image`), so the maps equal the
library's own. A lock per model object is held around each computation anyway: it keeps one
backward graph per model in memory at a time. ScoreCAM is not offered: on a 1280-channel head it
takes minutes on a CPU (178 s measured here).
"""

from __future__ import annotations

import difflib
import threading
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import attention
from .cam_models import (  # re-exported: part of effnet.cam's API
    MAX_CAM_BYTES,
    UNTRAINED_LABEL,
    CamModel,
    available_trained,
    check_cam_memory,
    checkpoint_model,
    trained_model,
    untrained_model,
)
from .images import load_image
from .model import LAYER_NAMES, EfficientNet
from .overlay import overlay
from .weights import imagenet_categories

__all__ = [
    "MAX_CAM_BYTES", "METHODS", "METHOD_LABELS", "STAGES", "UNTRAINED_LABEL", "CamModel", "CamResult",
    "available_trained", "check_cam_memory", "checkpoint_model", "compare_family", "compare_resolutions",
    "cam_batch", "compare_stages", "compute_cam", "compute_cams", "model_lock", "normalise_layer", "normalise_method",
    "overlap_matrix", "resolve_target", "trained_model", "untrained_model",
]

METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "hirescam", "layercam", "eigencam")
METHOD_LABELS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "hirescam": "HiResCAM", "layercam": "LayerCAM", "eigencam": "EigenCAM"}
DEFAULT_LAYER = "head"
STAGES: tuple[str, ...] = ("stage4", "stage5", "stage6", "stage7", "stage8", "head")
# ---------------------------------------------------------------------------------------------
# Targets and methods
# ---------------------------------------------------------------------------------------------
def class_names(num_classes: int) -> list[str]:
    """ImageNet's names for a 1000-class network; 'class N' for any other head."""
    return imagenet_categories() if num_classes == 1000 else [f"class {i}" for i in range(num_classes)]


def resolve_target(target: int | str | None, num_classes: int = 1000) -> int | None:
    """A class index from an index or a class name (case-insensitive); None stays None (top-1)."""
    if target is None:
        return None
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not 0 <= int(target) < num_classes:
            raise ValueError(f"target class {target} is out of range; accepted: 0..{num_classes - 1} or a class name")
        return int(target)
    if isinstance(target, str):
        text = target.strip()
        if text.isdigit():
            return resolve_target(int(text), num_classes)
        names = class_names(num_classes)
        lowered = [n.lower() for n in names]
        if text.lower() in lowered:
            return lowered.index(text.lower())
        close = difflib.get_close_matches(text.lower(), lowered, n=5, cutoff=0.6)
        close += [n for n in lowered if text.lower() in n and n not in close][: 5 - len(close)]
        hint = f"; close matches: {', '.join(repr(names[lowered.index(c)]) for c in close)}" if close else ""
        raise ValueError(f"unknown class name {target!r}{hint}; accepted: an ImageNet class name or an index 0..{num_classes - 1}")
    raise ValueError(f"target must be a class index, a class name or None, got {type(target).__name__}")


def normalise_method(method: str) -> str:
    """'Grad-CAM++', 'gradcamplusplus', 'gradcam++' -> 'gradcam++'; refuses unknown methods."""
    key = str(method).lower().replace("-", "").replace("_", "").replace(" ", "").replace("plusplus", "++")
    if key in METHODS:
        return key
    if key == "scorecam":
        raise ValueError("ScoreCAM is not offered: on a CPU it takes minutes per image; accepted: " + ", ".join(METHODS))
    raise ValueError(f"unknown CAM method {method!r}; accepted: {', '.join(METHODS)}")


def normalise_layer(layer: str | None, names: Sequence[str] = LAYER_NAMES) -> str:
    """None -> 'head'; 'stage1' -> 'stem', the stage after the last -> 'head'; refuses unknown names.

    `names`: the network's own points (`model.layer_names`): stem, stage2..stage8, head for the B and
    Lite families, up to stage7 for V2-S (six stages)."""
    key = DEFAULT_LAYER if layer is None else str(layer).strip().lower()
    key = {"stage1": "stem", f"stage{len(names)}": "head"}.get(key, key)
    if key not in names:
        raise ValueError(f"unknown layer {layer!r}; accepted: {', '.join(names)}")
    return key


@lru_cache(maxsize=1)
def _method_classes() -> dict[str, type]:
    """pytorch-grad-cam's class for each method (imported on first use: the import takes seconds)."""
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM

    class EconomyEigenCAM(EigenCAM):
        """EigenCAM with the economy SVD: the library asks for all 1280 right singular vectors of a
        49 x 1280 matrix (0.5 s on this CPU) and uses only the first; the economy SVD gives the same
        first vector, sign included (checked against the library in tests/test_cam.py), in 10 ms."""

        def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
            projections = []
            for sample in np.nan_to_num(np.asarray(activations, dtype=np.float32)):
                flat = sample.reshape(sample.shape[0], -1).T  # (positions, channels)
                flat = flat - flat.mean(axis=0)  # centred, as the library does
                first_direction = np.linalg.svd(flat, full_matrices=False)[2][0]
                projections.append((flat @ first_direction).reshape(sample.shape[1:]))
            return np.float32(projections)

    return {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM, "layercam": LayerCAM, "eigencam": EconomyEigenCAM}


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # eq=False: a numpy field makes == ambiguous
class CamResult:
    """One panel: a map, what it is a map of, the model's top-5 and the attention figures."""

    model_name: str
    model_label: str  # says UNTRAINED_LABEL for random weights
    trained: bool
    weights: str
    resolution: int
    layer: str
    method: str
    target_index: int
    target_label: str
    target_prob: float
    top5: tuple[tuple[str, float], ...]
    heatmap: np.ndarray = field(repr=False)  # float32 (resolution, resolution) in [0, 1], over the crop
    crop_box: tuple[float, float, float, float]  # the crop in original-image pixels
    image_size: tuple[int, int]  # (width, height) of the original image
    attention: attention.AttentionStats

    def image_grid(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The map on a grid over the whole original image (0 where the network saw nothing)."""
        return attention.heatmap_on_image(self.heatmap, self.crop_box, self.image_size, shape)

    def overlay(self, image: Image.Image, alpha: float = 0.5, max_side: int | None = 1024) -> Image.Image:
        """The heatmap (jet colours) over the ORIGINAL image; outside the crop dimmed, the crop outlined."""
        if image.size != self.image_size:
            raise ValueError(f"overlay() needs the image the map was computed on ({self.image_size}), got {image.size}")
        base = image.convert("RGB")
        if max_side and max(base.size) > max_side:
            scale = max_side / max(base.size)
            base = base.resize((max(1, round(base.width * scale)), max(1, round(base.height * scale))), Image.Resampling.BILINEAR)
        grid = self.image_grid((base.height, base.width))
        scale_x, scale_y = base.width / self.image_size[0], base.height / self.image_size[1]
        left, top, right, bottom = self.crop_box
        box = (left * scale_x, top * scale_y, right * scale_x, bottom * scale_y)
        xs, ys = np.arange(base.width) + 0.5, np.arange(base.height) + 0.5
        inside = ((ys >= box[1]) & (ys < box[3]))[:, None] & ((xs >= box[0]) & (xs < box[2]))[None, :]
        result = Image.fromarray(overlay(np.asarray(base), grid, alpha, inside))
        ImageDraw.Draw(result).rectangle([box[0], box[1], box[2] - 1, box[3] - 1], outline=(255, 255, 255), width=max(1, round(max(base.size) / 300)))
        return result

    def as_dict(self) -> dict:
        """The figures, JSON-ready (the heatmap itself is left out)."""
        return {
            "model": self.model_name or self.model_label,
            "label": self.model_label,
            "trained": self.trained,
            "weights": self.weights,
            "resolution": self.resolution,
            "layer": self.layer,
            "method": self.method,
            "target": self.target_label,
            "target_index": self.target_index,
            "target_prob": round(self.target_prob, 6),
            "top5": [{"label": label, "prob": round(prob, 6)} for label, prob in self.top5],
            "crop_box": [round(v, 2) for v in self.crop_box],
            "attention": self.attention.as_dict(),
        }


def overlap_matrix(results: Sequence[CamResult]) -> np.ndarray:
    """IoU of the top-20% regions of every pair of results, on one grid over the original image.

    Works across models, crops, resolutions and layers, as long as all maps are of one image.
    """
    sizes = {r.image_size for r in results}
    if len(sizes) > 1:
        raise ValueError(f"overlap_matrix() compares maps of one image, got image sizes {sorted(sizes)}")
    if not results:
        return np.zeros((0, 0))
    shape = attention.grid_shape(results[0].image_size)
    return attention.overlap_matrix([r.image_grid(shape) for r in results])


# ---------------------------------------------------------------------------------------------
# Computing maps
# ---------------------------------------------------------------------------------------------
_LOCKS: "weakref.WeakKeyDictionary[torch.nn.Module, threading.Lock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: torch.nn.Module) -> threading.Lock:
    """The one lock of `model` (created on first use, dropped with the model)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.Lock()
        return lock


def _forward(model: EfficientNet, x: torch.Tensor, layers: Sequence[str], with_gradients: bool):
    """One forward pass; returns ({layer: output}, logits).

    Up to the earliest requested layer nothing is recorded for autograd; its output becomes a leaf
    that requires a gradient, so a backward pass runs only through the rest of the network.
    """
    order = model.layer_names  # V2-S has one stage fewer than LAYER_NAMES
    earliest = min(order.index(name) for name in layers)
    outputs: dict[str, torch.Tensor] = {}
    hidden = x
    with torch.no_grad():
        for name in order[: earliest + 1]:
            hidden = model.layer(name)(hidden)
    if with_gradients:
        hidden = hidden.detach().requires_grad_(True)
    outputs[order[earliest]] = hidden
    with torch.set_grad_enabled(with_gradients):
        for name in order[earliest + 1:]:
            hidden = model.layer(name)(hidden)
            if name in layers:
                outputs[name] = hidden
        logits = model.forward_head(hidden)
    return outputs, logits


def compute_cams(
    cam_model: CamModel,
    image: Image.Image | bytes | str | Path,
    layers: Sequence[str | None],
    method: str = "gradcam",
    target: int | str | None = None,
    resolution: int | None = None,
) -> list[CamResult]:
    """Maps at several layers of one model from ONE forward and ONE backward pass (see compute_cam)."""
    if not isinstance(image, Image.Image):
        image = load_image(image)
    image = image.convert("RGB") if image.mode != "RGB" else image
    method = normalise_method(method)
    model = cam_model.model
    layer_names = list(dict.fromkeys(normalise_layer(layer, model.layer_names) for layer in layers))
    if not layer_names:
        raise ValueError(f"no layer given; accepted: {', '.join(model.layer_names)}")
    num_classes = model.config.num_classes
    target_index = resolve_target(target, num_classes)
    size = int(resolution or cam_model.resolution)
    config = model.config.with_resolution(size)  # validates the size (ConfigError)
    check_cam_memory(config)
    preprocessing = cam_model.preprocessing if size == cam_model.preprocessing.crop_size else cam_model.preprocessing.at_resolution(size)
    crop_box = tuple(float(v) for v in preprocessing.crop_box(*image.size))
    needs_gradients = method != "eigencam"

    with model_lock(model):
        # Fresh tensors inside inference_mode(False): the caller may be under no_grad or inference_mode.
        with torch.inference_mode(False), torch.enable_grad():
            x = preprocessing(image).unsqueeze(0).to(next(model.parameters()).device)
            outputs, logits = _forward(model, x, layer_names, needs_gradients)
            if target_index is None:
                target_index = int(logits[0].argmax())
            if needs_gradients:
                gradients = torch.autograd.grad(logits[0, target_index], [outputs[n] for n in layer_names])
            else:
                gradients = [None] * len(layer_names)
        probabilities = torch.softmax(logits.detach()[0].double(), dim=0)
        activations = [outputs[n].detach().cpu().numpy() for n in layer_names]
        gradients = [g.detach().cpu().numpy() if g is not None else None for g in gradients]
        del outputs, logits

    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    # Created without target layers, the library's object registers no hooks; it only does the maths.
    cam_object = _method_classes()[method](model, target_layers=[])
    targets = [ClassifierOutputTarget(target_index)]
    names = class_names(num_classes)
    top = torch.topk(probabilities, k=min(5, num_classes))
    top5 = tuple((names[int(i)], float(p)) for p, i in zip(top.values, top.indices))
    results = []
    for name, layer_activations, layer_gradients in zip(layer_names, activations, gradients):
        heatmap = _library_maps(cam_object, x, targets, layer_activations, layer_gradients, size)[0]
        grid = attention.heatmap_on_image(heatmap, crop_box, image.size)
        results.append(
            CamResult(
                cam_model.name, cam_model.label, cam_model.trained, cam_model.weights, size, name, method,
                target_index, names[target_index], float(probabilities[target_index]), top5, heatmap,
                crop_box, image.size, attention.attention_stats(grid),
            )
        )
    return results


def _library_maps(cam_object, x: torch.Tensor, targets, activations: np.ndarray, gradients: np.ndarray | None, size: int) -> np.ndarray:
    """pytorch-grad-cam's maths for one layer (compute_cam_per_layer + aggregate_multi_layers):
    float32 maps (batch, size, size) in [0, 1], each min-max normalised."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    cam = cam_object.get_cam_image(x, None, targets, activations, gradients, False)
    cam = np.nan_to_num(np.maximum(cam, 0), nan=0.0, posinf=0.0)
    maps = cam_object.aggregate_multi_layers([scale_cam_image(cam, (size, size))[:, None, :]])
    return np.clip(np.nan_to_num(maps.astype(np.float32)), 0.0, 1.0)


def cam_batch(
    model: EfficientNet,
    x: torch.Tensor,
    layer: str | None = None,
    targets: Sequence[int] | None = None,
    method: str = "gradcam",
    size: int | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """Maps for a batch of already preprocessed images: (float32 (B, H, W) in [0, 1], logits (B, classes)).

    `size`: the maps' side in pixels (default: the input's); the layer's own grid gives the raw maps.

    The same forward pass, gradients and library maths as compute_cams, for tensors instead of one
    photo (the scaling experiment's held-out images). `targets`: a class per image, or None for each
    image's top-1. In eval mode the images of a batch do not interact, so one backward pass of the
    summed target logits gives every image its own gradients. Holds the model's lock.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    method = normalise_method(method)
    name = normalise_layer(layer, model.layer_names)
    needs_gradients = method != "eigencam"
    with model_lock(model):
        with torch.inference_mode(False), torch.enable_grad():
            x = x.detach().clone()
            outputs, logits = _forward(model, x, [name], needs_gradients)
            chosen = logits.argmax(1) if targets is None else torch.as_tensor(list(targets), device=logits.device)
            gradient = None
            if needs_gradients:
                picked = logits.gather(1, chosen.view(-1, 1)).sum()
                gradient = torch.autograd.grad(picked, [outputs[name]])[0].detach().cpu().numpy()
        activation = outputs[name].detach().cpu().numpy()
        logits = logits.detach()
        del outputs
    cam_object = _method_classes()[method](model, target_layers=[])
    maps = _library_maps(cam_object, x, [ClassifierOutputTarget(int(c)) for c in chosen], activation, gradient,
                         size or x.shape[-1])
    return maps, logits


def compute_cam(
    cam_model: CamModel,
    image: Image.Image | bytes | str | Path,
    method: str = "gradcam",
    target: int | str | None = None,
    layer: str | None = None,
    resolution: int | None = None,
) -> CamResult:
    """The class activation map of `image` for `cam_model`, with its top-5 from the same pass.

    method: one of METHODS. target: None (the model's top-1), a class index or an ImageNet class
    name. layer: None (= 'head', the last convolution before pooling), 'stem' or 'stage2'..'stage8'
    (the end of that stage). resolution: feed the image at another size (default: the model's own).
    Safe to call from many threads on one shared CamModel.
    """
    return compute_cams(cam_model, image, [layer], method, target, resolution)[0]


def _as_cam_model(item: str | CamModel) -> CamModel:
    return item if isinstance(item, CamModel) else trained_model(item)


def compare_family(
    image: Image.Image | bytes | str | Path,
    names: Sequence[str | CamModel] = ("lite0", "lite1", "lite2"),
    method: str = "gradcam",
    target: int | str | None = None,
    layer: str | None = None,
) -> list[CamResult]:
    """Compound scaling: one map per trained model, each at its own resolution (Lite0/1/2: 224/240/260)."""
    if not isinstance(image, Image.Image):
        image = load_image(image)
    return [compute_cam(_as_cam_model(n), image, method, target, layer) for n in names]


def compare_resolutions(
    image: Image.Image | bytes | str | Path,
    name: str | CamModel = "lite0",
    resolutions: Sequence[int] = (224, 260, 300, 380),
    method: str = "gradcam",
    target: int | str | None = None,
    layer: str | None = None,
) -> list[CamResult]:
    """Resolution scaling alone: one trained network fed the image at several sizes."""
    if not isinstance(image, Image.Image):
        image = load_image(image)
    cam_model = _as_cam_model(name)
    return [compute_cam(cam_model, image, method, target, layer, resolution=r) for r in resolutions]


def compare_stages(
    image: Image.Image | bytes | str | Path,
    name: str | CamModel = "lite0",
    stages: Sequence[str] = STAGES,
    method: str = "gradcam",
    target: int | str | None = None,
) -> list[CamResult]:
    """Depth inside one network: the map at the end of each stage, from one forward/backward pass."""
    return compute_cams(_as_cam_model(name), image, list(stages), method, target)
