"""Can you trust this heat map? The cascading model-parameter randomisation test.

Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018), section 3: starting from the
classifier and moving down, re-initialise one more layer at a time and recompute the map of the same
image for the same class. A map that explains the network must change as the network is destroyed;
a map that stays the same shows something else (the image's edges, the method's own bias). The paper
found Grad-CAM passes while guided backpropagation does not.

Here a "layer" is a block of Table 1: the classifier, the head (the last 1x1 convolution), the
MBConv stages from the last to the first, and the stem: 11 steps for the B and Lite families, trained
first and fully random last. Each re-initialised block takes the tensors of a freshly built network
of the same configuration (the network's own initialisation: He-normal convolutions, unit batch
norms with fresh running statistics, a uniform classifier), seeded, so a run repeats.

Every step's map is compared with the trained network's map by effnet.similarity (Spearman with and
without absolute values, SSIM, HOG correlation). An edge detector's map (pytorch-grad-cam's Sobel
baseline) goes through the same steps as the reference for "just image structure": it ignores the
weights, so it scores 1 at every step.

Nothing touches the caller's network: the randomised network is a deep copy made per call, and
the trained pass is read under the model's lock (effnet.cam.model_lock). Lower blocks stay trained
while upper ones are randomised, so each step starts from the trained pass's stored output of the
block below the lowest randomised one: one step costs only the randomised part's forward pass.

API
---
    METHODS = effnet.cam.METHODS + ("sobel",)
    randomisation_order(model) -> ("classifier", "head", "stage8", ..., "stage2", "stem")
    check_sanity_memory(config) -> None                # ConfigError above effnet.cam.MAX_CAM_BYTES
    cascading_randomisation(model, x, methods=METHODS, layer=None, target=None, seed=0, picture=None,
                            progress=None, class_names=None) -> SanityResult   # x: one preprocessed image
    sanity_check(cam_model, image, methods=METHODS, layer=None, target=None, seed=0, progress=None) -> SanityResult
    normalise_methods("all" | "gradcam,sobel" | [...]) -> tuple of METHODS names
    SanityResult: model_label, resolution, layer, target_index, target_label, methods, steps, seconds, seed,
        picture; .curve(method, measure) -> [value per step]; .overlay(step, method) -> PIL.Image; .as_dict()
    SanityStep: randomised (blocks so far), label, maps {method: (R, R) in [0, 1]}, similarity
        {method: {measure: value}}, target_prob
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from . import similarity
from .cam import METHOD_LABELS as CAM_LABELS, METHODS as CAM_METHODS, _method_classes
from .cam import class_names as imagenet_or_numbered, model_lock, normalise_layer, resolve_target
from .cam_models import MAX_CAM_BYTES, CamModel
from .images import load_image
from .overlay import overlay as draw_overlay
from .profile import profile
from .scaling import ConfigError, ScalingConfig

SOBEL = "sobel"
METHODS: tuple[str, ...] = CAM_METHODS + (SOBEL,)
METHOD_LABELS = {**CAM_LABELS, SOBEL: "Sobel edges (no network)"}
SEED = 0
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class StepState:
    """What an explainer may read at one step: the (partly random) network, its input, the target, and
    the activation at the map's layer with the target logit's gradient there (None without gradients)."""

    model: torch.nn.Module
    x: torch.Tensor
    target_index: int
    activation: np.ndarray  # (1, channels, h, w)
    gradient: np.ndarray | None
    picture: np.ndarray  # uint8 (R, R, 3): the crop the network saw


# An explainer turns a step's state into a raw map on any square grid (a CAM: the layer's, 7 x 7 at
# 224 px; Sobel: the input's), signed where the method is signed.
Explainer = Callable[[StepState], np.ndarray]


@dataclass(frozen=True)
class SanityStep:
    """One step of the cascade: what is random so far, each method's map and its similarity to step 0."""

    randomised: tuple[str, ...]  # the blocks re-initialised so far, top first; () for the trained network
    maps: Mapping[str, np.ndarray] = field(repr=False)  # method -> float32 (R, R) in [0, 1], as shown
    similarity: Mapping[str, Mapping[str, float]]  # method -> measure -> value (NaN where undefined)
    target_prob: float  # the target's softmax probability in this network

    @property
    def label(self) -> str:
        """'trained', then the block added at this step ('classifier', 'head', 'stage8', ...)."""
        return self.randomised[-1] if self.randomised else "trained"


@dataclass(frozen=True)
class SanityResult:
    """The whole cascade for one image and one class."""

    model_label: str
    resolution: int
    layer: str  # where the CAM methods read activations and gradients
    target_index: int
    target_label: str
    methods: tuple[str, ...]
    steps: tuple[SanityStep, ...]
    seconds: float
    seed: int
    picture: np.ndarray = field(repr=False)  # uint8 (R, R, 3): the crop the network saw

    def overlay(self, step: int, method: str, alpha: float = 0.5, side: int | None = None) -> Image.Image:
        """Step `step`'s map of `method` in jet colours over the crop the network saw (as the page shows
        CAMs), `side` pixels square (default: the input's)."""
        image = Image.fromarray(draw_overlay(self.picture, self.steps[step].maps[method], alpha))
        return image if side is None or side == image.width else image.resize((side, side), Image.Resampling.BILINEAR)

    def curve(self, method: str, measure: str = "spearman") -> list[float]:
        """`measure` of `method` at every step (the line chart's y values)."""
        return [step.similarity[method][measure] for step in self.steps]

    def as_dict(self) -> dict:
        """JSON-ready: per method, per step, the similarity figures (NaN written as null); no maps."""
        def plain(value: float) -> float | None:
            return None if not np.isfinite(value) else round(float(value), 6)

        return {
            "label": self.model_label,
            "resolution": self.resolution,
            "layer": self.layer,
            "target": self.target_label,
            "target_index": self.target_index,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "methods": {
                method: {"label": METHOD_LABELS.get(method, method), "steps": [
                    {"randomised": list(step.randomised), "step": step.label, "target_prob": plain(step.target_prob),
                     **{measure: plain(value) for measure, value in step.similarity[method].items()}}
                    for step in self.steps
                ]}
                for method in self.methods
            },
        }


def randomisation_order(model: torch.nn.Module) -> tuple[str, ...]:
    """The blocks in the order the cascade re-initialises them: classifier, head, last stage .. stem."""
    return ("classifier",) + tuple(reversed(model.layer_names))


def check_sanity_memory(config: ScalingConfig, max_bytes: int | None = None) -> None:
    """Raise ConfigError (one line) when the test could need more than the lab's CAM memory limit.

    Counted: the activations autograd could keep for one image (the profile's
    training_activation_bytes, which also bounds the stored trained outputs of every block) and two
    more copies of the float32 weights (the randomised copy and the fresh network it draws from)."""
    limit = MAX_CAM_BYTES if max_bytes is None else max_bytes
    cost = profile(config)
    needed = cost.training_activation_bytes + 2 * 4 * cost.params
    if needed > limit:
        raise ConfigError(
            f"a sanity check of {config.label} at {config.resolution}x{config.resolution} would need about "
            f"{needed / 2**30:.1f} GiB (activations of one image and two copies of the weights); this server "
            f"allows {limit / 2**30:.1f} GiB: pick a smaller network"
        )


def cam_explainer(method: str) -> Explainer:
    """pytorch-grad-cam's `method` on a step's activation and gradient: the raw map on the layer's
    grid, before the ReLU and the scaling that effnet.cam applies (signed for the gradient methods)."""

    def explain(state: StepState) -> np.ndarray:
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        # Created without target layers, the library's object registers no hooks; it only does the maths.
        cam_object = _method_classes()[method](state.model, target_layers=[])
        return cam_object.get_cam_image(state.x, None, [ClassifierOutputTarget(state.target_index)],
                                        state.activation, state.gradient, False)[0]

    return explain


def sobel_explainer(state: StepState) -> np.ndarray:
    """pytorch-grad-cam's Sobel baseline (sobel_cam): the edge strength of the crop; no network."""
    from pytorch_grad_cam.sobel_cam import sobel_cam

    return np.float32(sobel_cam(state.picture))


def upsampled(raw: np.ndarray, side: int) -> np.ndarray:
    """A raw map resized bilinearly to the input (side, side), signs kept: what the measures compare."""
    import cv2

    raw = np.nan_to_num(np.float32(raw))
    return raw if raw.shape == (side, side) else cv2.resize(raw, (side, side), interpolation=cv2.INTER_LINEAR)


def shown(raw: np.ndarray, side: int) -> np.ndarray:
    """The map as effnet.cam and the page show it: pytorch-grad-cam's ReLU, then scale_cam_image
    (scaled to 0..1 on its own grid, resized bilinearly to the input)."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    positive = np.maximum(np.nan_to_num(np.float32(raw)), 0)[None]
    return np.clip(np.float32(scale_cam_image(positive, (side, side))[0]), 0.0, 1.0)


def _explainers(methods: Sequence[str]) -> dict[str, Explainer]:
    return {m: (sobel_explainer if m == SOBEL else cam_explainer(m)) for m in methods}


def normalise_methods(methods: Sequence[str] | str | None) -> tuple[str, ...]:
    """'all' or None -> METHODS; a list of names (any spelling effnet.cam accepts, or 'sobel')."""
    from .cam import normalise_method

    if methods is None or (isinstance(methods, str) and methods.strip().lower() in ("", "all")):
        return METHODS
    items = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
    chosen = [SOBEL if m.lower() == SOBEL else normalise_method(m) for m in items if m]
    if not chosen:
        raise ValueError(f"no method given; accepted: all, {', '.join(METHODS)}")
    return tuple(dict.fromkeys(chosen))


def cascading_randomisation(
    model: torch.nn.Module,
    x: torch.Tensor,
    methods: Sequence[str] | Mapping[str, Explainer] = METHODS,
    layer: str | None = None,
    target: int | str | None = None,
    seed: int = SEED,
    picture: np.ndarray | None = None,
    progress: Progress | None = None,
    class_names: Sequence[str] | None = None,
    model_label: str = "",
) -> SanityResult:
    """The cascade for one preprocessed image x (1, 3, R, R) through an effnet EfficientNet.

    methods: names from METHODS, or {name: explainer} (tests pass weight-independent explainers).
    layer: where the CAM methods read (default: the head). target: None = the trained network's top-1,
    kept at every step. picture: the crop as uint8 (R, R, 3) for the Sobel map (default: x scaled
    back to 0..255 channel by channel). progress(fraction, text) is called after every step.
    `model` is only read (under its lock); the randomised network is a private deep copy.
    """
    start = time.perf_counter()
    check_sanity_memory(model.config.with_resolution(int(x.shape[-1])))
    explainers = dict(methods) if isinstance(methods, Mapping) else _explainers(normalise_methods(methods))
    order = model.layer_names
    cam_index = order.index(normalise_layer(layer, order))
    names = list(class_names) if class_names is not None else imagenet_or_numbered(model.config.num_classes)
    target_index = resolve_target(target, model.config.num_classes)
    x = x.detach().clone()
    if picture is None:
        low = x[0].amin(dim=(1, 2), keepdim=True)
        span = (x[0].amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-12)
        picture = np.uint8(np.rint(((x[0] - low) / span * 255).permute(1, 2, 0).cpu().numpy()))
    steps_total = len(randomisation_order(model)) + 1
    side = int(x.shape[-1])

    with model_lock(model):  # the shared network is read once, then copied
        with torch.inference_mode(False), torch.no_grad():
            stored, hidden = [], x
            for name in order:
                hidden = model.layer(name)(hidden)
                stored.append(hidden)
        network = copy.deepcopy(model).eval()
    fresh = _fresh_network(model, seed)
    for parameter in network.parameters():
        parameter.requires_grad_(False)  # gradients flow only to the activation, never into weights

    randomised: list[str] = []
    steps: list[SanityStep] = []
    references: dict[str, similarity.Reference] = {}
    for number, block in enumerate((None,) + randomisation_order(model)):
        if block is not None:
            _module(network, block).load_state_dict(_module(fresh, block).state_dict())
            randomised.append(block)
        lowest = min((order.index(b) for b in randomised if b != "classifier"), default=len(order))
        state, probability = _step_state(network, x, stored, order, lowest, cam_index, target_index, picture,
                                         needs_gradients=any(m not in (SOBEL, "eigencam") for m in explainers))
        target_index = state.target_index
        raw = {method: np.asarray(explain(state), dtype=np.float32) for method, explain in explainers.items()}
        compared = {method: upsampled(r, side) for method, r in raw.items()}
        if number == 0:
            references = {method: similarity.Reference(c) for method, c in compared.items()}
        steps.append(SanityStep(tuple(randomised), {m: shown(r, side) for m, r in raw.items()},
                                {m: references[m].compare(c) for m, c in compared.items()}, probability))
        if progress is not None:
            progress((number + 1) / steps_total, f"step {number + 1} of {steps_total}: {steps[-1].label}")
    label = model_label or getattr(model.config, "label", "network")
    return SanityResult(label, int(x.shape[-1]), order[cam_index], target_index, names[target_index],
                        tuple(explainers), tuple(steps), time.perf_counter() - start, seed, picture)


def _module(model: torch.nn.Module, block: str) -> torch.nn.Module:
    return model.classifier if block == "classifier" else model.layer(block)


_SEEDED = threading.Lock()  # torch's global generator is one per process: two threads seeding it at once mix draws


def _fresh_network(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A newly initialised network of the same configuration and class (seeded; the global RNG is left alone).

    Built under a lock: fork_rng restores the generator afterwards but does not keep another thread
    from seeding and drawing from it meanwhile, and then two sessions' "random" networks differ from a
    run alone."""
    from .blocks import Conv2dSame

    tf_padding = any(isinstance(module, Conv2dSame) for module in model.modules())
    with _SEEDED, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = type(model)(model.config, tf_padding=tf_padding)
    return fresh.eval()


def _step_state(network, x, stored, order, lowest, cam_index, target_index, picture, needs_gradients):
    """Run the network from the trained output below its lowest random block; (StepState, target prob)."""
    first = min(lowest, cam_index + 1)
    hidden = x if first == 0 else stored[first - 1]
    with torch.inference_mode(False):
        with torch.no_grad():
            for name in order[first:cam_index + 1]:
                hidden = network.layer(name)(hidden)
        activation = hidden.detach().clone().requires_grad_(needs_gradients)
        with torch.set_grad_enabled(needs_gradients):
            hidden = activation
            for name in order[cam_index + 1:]:
                hidden = network.layer(name)(hidden)
            logits = network.forward_head(hidden)
            if target_index is None:
                target_index = int(logits[0].argmax())
            gradient = torch.autograd.grad(logits[0, target_index], activation)[0] if needs_gradients else None
    probability = float(torch.softmax(logits.detach()[0].double(), dim=0)[target_index])
    state = StepState(network, x, target_index, activation.detach().cpu().numpy(),
                      None if gradient is None else gradient.detach().cpu().numpy(), picture)
    return state, probability


def sanity_check(
    cam_model: CamModel,
    image: Image.Image | bytes | str | Path,
    methods: Sequence[str] | str | None = METHODS,
    layer: str | None = None,
    target: int | str | None = None,
    seed: int = SEED,
    progress: Progress | None = None,
) -> SanityResult:
    """The cascade for a photo through a CamModel (trained preset or checkpoint), with its own
    preprocessing at its own resolution; the Sobel map is computed on the same crop."""
    if not isinstance(image, Image.Image):
        image = load_image(image)
    image = image.convert("RGB")
    preprocessing = cam_model.preprocessing
    check_sanity_memory(cam_model.model.config.with_resolution(preprocessing.crop_size))
    resample = Image.Resampling.BICUBIC if preprocessing.interpolation == "bicubic" else Image.Resampling.BILINEAR
    side = preprocessing.crop_size
    picture = np.asarray(image.resize((side, side), resample=resample, box=preprocessing.crop_box(*image.size)))
    with torch.inference_mode(False):
        x = preprocessing(image).unsqueeze(0).to(next(cam_model.model.parameters()).device)
    return cascading_randomisation(cam_model.model, x, normalise_methods(methods), layer, target, seed, picture,
                                   progress, model_label=cam_model.label)
