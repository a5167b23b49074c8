"""effnet: build, profile and explain compound-scaled EfficientNets (B0-B7, Lite0-Lite4).

    import effnet
    config = effnet.compound(2.5)            # or effnet.preset("b3"), effnet.ScalingConfig(...)
    effnet.stages(config)                    # the paper's Table 1 for this configuration
    effnet.profile(config).macs              # multiply-adds, in closed form (no weights built)
    model = effnet.build(config)             # a torch.nn.Module
"""

from .model import LAYER_NAMES, MAX_BUILD_BYTES, EfficientNet, build, check_buildable
from .profile import Profile, StageProfile, Step, block_steps, flops_growth, profile
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
from .weights import (
    PRETRAINED,
    Preprocessing,
    WeightsError,
    WeightsUnavailableError,
    WeightSpec,
    imagenet_categories,
    load_into,
    read_checkpoint,
    weight_spec,
)

__all__ = [
    "ALPHA", "BETA", "GAMMA", "PRESETS", "PRETRAINED", "LAYER_NAMES", "MAX_BUILD_BYTES",
    "ConfigError", "EfficientNet", "Preprocessing", "Profile", "ScalingConfig", "Stage", "StageProfile",
    "Step", "WeightSpec", "WeightsError", "WeightsUnavailableError",
    "block_steps", "build", "check_buildable", "compound", "flops_growth", "flops_ratio_per_phi",
    "imagenet_categories", "load_into", "preset", "profile", "read_checkpoint", "round_filters",
    "round_repeats", "stages", "weight_spec",
]

# Images and class activation maps (effnet.images, effnet.attention, effnet.cam).
from .attention import AttentionStats
from .cam import (
    METHODS,
    CamModel,
    CamResult,
    checkpoint_model,
    compare_family,
    compare_resolutions,
    compare_stages,
    compute_cam,
    overlap_matrix,
    trained_model,
    untrained_model,
)
from .images import ImageError, load_image

__all__ += [
    "METHODS", "AttentionStats", "CamModel", "CamResult", "ImageError",
    "checkpoint_model", "compare_family", "compare_resolutions", "compare_stages", "compute_cam",
    "load_image", "overlap_matrix", "trained_model", "untrained_model",
]

# Latency, measured honestly on the GPU when there is one and on the CPU otherwise (effnet.latency).
from .latency import Latency, LatencyError, cuda_available, device_description, measure_latency

__all__ += ["Latency", "LatencyError", "cuda_available", "device_description", "measure_latency"]
