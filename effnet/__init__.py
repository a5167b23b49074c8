"""effnet: build, profile and explain compound-scaled EfficientNets (B0-B7, Lite0-Lite4).

    import effnet
    config = effnet.compound(2.5)            # or effnet.preset("b3"), effnet.ScalingConfig(...)
    effnet.stages(config)                    # the paper's Table 1 for this configuration
    effnet.profile(config).macs              # multiply-adds, in closed form (no weights built)
    model = effnet.build(config)             # a torch.nn.Module
    effnet.measure_latency(model)            # GPU when there is one, CPU otherwise
    effnet.layer_profile(config, 32, "float16", "H200 SXM")   # every layer: params, MACs, bytes, predicted time
    effnet.export_onnx(config).data          # the network as an ONNX file (dynamic batch)
    effnet.compare_family("assets/chelsea.jpg")   # Grad-CAM of the trained Lite0/1/2

The scaling arithmetic and the profile are pure Python and import at once; everything that needs
torch (the builder, weights, latency, Grad-CAM, images) is imported on first use, so the app's
slider path starts without paying the seconds that importing torch costs.
"""

from __future__ import annotations

import importlib
from typing import Any

from .profile import (
    MAX_BUILD_BYTES,
    Profile,
    StageProfile,
    Step,
    block_steps,
    check_buildable,
    flops_growth,
    profile,
)
from .scaling import (
    ALPHA,
    BETA,
    GAMMA,
    PRESETS,
    ConfigError,
    ScalingConfig,
    Stage,
    compound,
    flops_ratio_per_phi,
    preset,
    round_filters,
    round_repeats,
    stages,
)

# name -> the module that defines it, imported when the name is first used
_LAZY = {
    "model": ("LAYER_NAMES", "EfficientNet"),
    "weights": (
        "PRETRAINED", "build", "Preprocessing", "WeightSpec", "WeightsError", "WeightsUnavailableError",
        "imagenet_categories", "load_into", "read_checkpoint", "weight_spec",
    ),
    "attention": ("AttentionStats",),
    "cam": (
        "METHODS", "CamModel", "CamResult", "checkpoint_model", "compare_family", "compare_resolutions",
        "compare_stages", "compute_cam", "overlap_matrix", "trained_model", "untrained_model",
    ),
    "images": ("ImageError", "load_image", "original_size"),
    "cost.latency": ("Latency", "LatencyError", "cuda_available", "device_description", "measure_latency"),
    "layers": ("LayerProfile", "LayerRow", "layer_profile"),
    "onnx_export": ("ExportError", "ExportedModel", "export_onnx"),
    "cost.runtime_latency": ("measure_onnxruntime_latency",),
}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'effnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


__all__ = [
    "ALPHA", "BETA", "GAMMA", "MAX_BUILD_BYTES", "PRESETS", "ConfigError", "Profile", "ScalingConfig",
    "Stage", "StageProfile", "Step", "block_steps", "check_buildable", "compound", "flops_growth",
    "flops_ratio_per_phi", "preset", "profile", "round_filters", "round_repeats", "stages",
    *_LAZY_NAMES,
]
