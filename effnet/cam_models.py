"""Networks ready for class activation maps: a module, its weights' provenance and its preprocessing.

Trained presets are cached once per process and shared by every caller and thread (read-only);
untrained and checkpoint networks are built per request. Part of effnet.cam's API (re-exported there).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Mapping

import torch

from .model import EfficientNet
from .weights import build
from .profile import profile
from .scaling import ConfigError, ScalingConfig, preset
from .weights import Preprocessing, WeightsUnavailableError, available_offline, read_checkpoint, weight_spec

UNTRAINED_LABEL = "untrained (random weights)"
# The profile's training_activation_bytes (everything autograd could keep for one image) must stay
# below this: every published preset fits (B7 at 600 px: 3.7 GiB), a custom giant does not.
MAX_CAM_BYTES = int(os.environ.get("EFFNET_MAX_CAM_BYTES", 4 * 2**30))


@dataclass(frozen=True)
class CamModel:
    """A network ready for CAMs: the module (shared, read-only, eval mode) and how to feed it."""

    name: str  # the preset ('lite0', 'b3') or '' for a custom configuration
    label: str  # what every panel shows, e.g. 'EfficientNet-Lite0 (ImageNet)'
    model: EfficientNet = field(repr=False)
    preprocessing: Preprocessing
    trained: bool  # False: random weights, the maps mean nothing
    resolution: int  # the input size the weights were made for
    weights: str  # where the weights come from, one line


_TRAINED: dict[str, CamModel] = {}
_TRAINED_GUARD = threading.Lock()


def trained_model(name: str) -> CamModel:
    """The ImageNet-trained preset `name` ('lite0'..'lite2'; 'b0'..'b7' and 'v2_s'..'v2_l' when
    torchvision's weights are already in the torch cache: nothing is downloaded). Cached: every caller, in every thread,
    gets the same model object. Raises WeightsUnavailableError for weights not on this machine."""
    config = preset(name)
    with _TRAINED_GUARD:  # concurrent first calls must not load the weights twice
        if config.name not in _TRAINED:
            offline = available_trained()
            if config.name not in offline:
                raise WeightsUnavailableError(
                    f"the trained {config.label} weights are not on this machine (nothing is downloaded); "
                    f"available: {', '.join(offline)}"
                )
            spec = weight_spec(config.name)
            model = build(config, pretrained=True)
            _TRAINED[config.name] = CamModel(config.name, f"{config.label} (ImageNet)", model, spec.preprocessing,
                                             True, spec.preprocessing.crop_size, spec.source)
        return _TRAINED[config.name]


def available_trained() -> tuple[str, ...]:
    """The presets whose trained weights load without a network: Lite0-2, and cached B0-B7, V2-S/M/L."""
    return available_offline()


def untrained_model(config: ScalingConfig, seed: int = 0) -> CamModel:
    """Any configuration with random weights (seeded, so the same config gives the same maps)."""
    check_cam_memory(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(config)
    return CamModel(config.name, f"{config.label} — {UNTRAINED_LABEL}", model, _default_preprocessing(config),
                    False, config.resolution, UNTRAINED_LABEL)


def checkpoint_model(
    config: ScalingConfig,
    source: bytes | str | Path | Mapping[str, torch.Tensor] | BinaryIO,
    preprocessing: Preprocessing | None = None,
    name: str = "",
) -> CamModel:
    """`config` with weights from a user checkpoint, read with torch.load(weights_only=True).

    Raises effnet.WeightsError when the file is not a state dict or its shapes do not fit `config`.
    `name` (e.g. the uploaded file's name) only labels the panels.
    """
    check_cam_memory(config)
    if hasattr(source, "read"):
        source = source.read()
    state = read_checkpoint(source)
    model = build(config, state_dict=state)
    origin = f"checkpoint {name}".strip()
    return CamModel(config.name, f"{config.label} ({origin})", model, preprocessing or _default_preprocessing(config),
                    True, config.resolution, f"user {origin}")


def _default_preprocessing(config: ScalingConfig) -> Preprocessing:
    """The pipeline of the family's trained weights (Lite: (x-127)/128; B: ImageNet mean/std; V2: its
    table's own weights, e.g. V2-L's mean = std = 0.5), at config's size."""
    family = config.stage_table if config.is_v2 else "lite0" if config.is_lite else "b0"
    return weight_spec(family).preprocessing.at_resolution(config.resolution)


def check_cam_memory(config: ScalingConfig) -> None:
    """Raise ConfigError when a CAM of `config` (at its resolution) could need more than MAX_CAM_BYTES."""
    needed = profile(config).training_activation_bytes
    if needed > MAX_CAM_BYTES:
        raise ConfigError(
            f"a CAM of {config.label} at {config.resolution}x{config.resolution} would keep about "
            f"{needed / 2**30:.1f} GiB of activations; this server allows {MAX_CAM_BYTES / 2**30:.1f} GiB: "
            "lower depth, width or resolution"
        )
