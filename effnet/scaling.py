"""Scaling configurations: the compound rule, the official presets and the stage table.

Everything here is pure arithmetic (no torch), so the app can call it on every slider move.

Paper: Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019, arXiv:1905.11946 v5. Section 3.3 gives the compound rule

    depth d = alpha ** phi,  width w = beta ** phi,  resolution r = gamma ** phi
    subject to alpha * beta**2 * gamma**2 ~= 2,  alpha, beta, gamma >= 1,

and Table 1 the baseline EfficientNet-B0 that every configuration scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

# The grid search of Section 3.3 found these for B0.
ALPHA = 1.2
BETA = 1.1
GAMMA = 1.15
BASE_RESOLUTION = 224

# Input resolutions are rounded to a multiple of 8: fine enough that the FLOPs curve over phi stays
# smooth (a step is 3.6% of 224), coarse enough that the first three stride-2 layers halve the
# feature map exactly, like most of the paper's own sizes (240, 456, 528, 600).
RESOLUTION_MULTIPLE = 8
# Channels are rounded to a multiple of 8 (hardware-friendly), as the official code does.
CHANNEL_DIVISOR = 8

VARIANTS = ("b", "lite")

# Ranges a classroom can explore. They are wide enough for phi from -2 to 10 with the paper's
# coefficients and for any preset; memory is guarded separately when a network is built.
DEPTH_RANGE = (0.1, 8.0)
WIDTH_RANGE = (0.1, 8.0)
RESOLUTION_RANGE = (32, 2048)
PHI_RANGE = (-2.0, 10.0)
COEFFICIENT_RANGE = (1.0, 2.5)


class ConfigError(ValueError):
    """A scaling choice outside what this project can build; the message says what is accepted."""


# ---------------------------------------------------------------------------------------------
# The baseline network, EfficientNet-B0 (paper, Table 1). One row per MBConv stage:
#   expand_ratio, kernel_size, stride, in_channels, out_channels, repeats
# The stem (Conv3x3, 32 channels, stride 2) and the head (Conv1x1 to 1280, pooling, FC) surround it.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineStage:
    expand_ratio: int
    kernel_size: int
    stride: int
    in_channels: int
    out_channels: int
    repeats: int
    block: str = "mbconv"  # "mbconv" (expand 1x1, depthwise kxk, SE, project) or "fused_mbconv"


B0_STAGES: tuple[BaselineStage, ...] = (
    BaselineStage(1, 3, 1, 32, 16, 1),  # stage 2: MBConv1, k3x3, 112x112
    BaselineStage(6, 3, 2, 16, 24, 2),  # stage 3: MBConv6, k3x3, 112x112 -> 56x56
    BaselineStage(6, 5, 2, 24, 40, 2),  # stage 4: MBConv6, k5x5, 56x56 -> 28x28
    BaselineStage(6, 3, 2, 40, 80, 3),  # stage 5: MBConv6, k3x3, 28x28 -> 14x14
    BaselineStage(6, 5, 1, 80, 112, 3),  # stage 6: MBConv6, k5x5, 14x14
    BaselineStage(6, 5, 2, 112, 192, 4),  # stage 7: MBConv6, k5x5, 14x14 -> 7x7
    BaselineStage(6, 3, 1, 192, 320, 1),  # stage 8: MBConv6, k3x3, 7x7
)
STEM_CHANNELS = 32
STEM_STRIDE = 2
HEAD_CHANNELS = 1280
SE_RATIO = 0.25  # squeeze to a quarter of the block's *input* channels

# ---------------------------------------------------------------------------------------------
# EfficientNetV2 (Tan & Le, "EfficientNetV2: Smaller Models and Faster Training", ICML 2021,
# arXiv:2104.00298). Table 4 gives V2-S; M and L are the rows of torchvision models/efficientnet.py
# (_efficientnet_conf), from the official automl/efficientnetv2 effnetv2_configs.py. The early
# stages use Fused-MBConv (the 1x1 expansion and the kxk depthwise replaced by one kxk conv, no
# squeeze-and-excitation): more MACs, but dense convolutions that keep an accelerator busy.
# Rows as for B0: expand_ratio, kernel_size, stride, in_channels, out_channels, repeats, block.
# The stem is a 3x3 stride-2 conv to the first row's input channels; the head a 1x1 conv to 1280.
# ---------------------------------------------------------------------------------------------
_F, _M = "fused_mbconv", "mbconv"
V2_S_STAGES: tuple[BaselineStage, ...] = (
    BaselineStage(1, 3, 1, 24, 24, 2, _F),  # stage 1: Fused-MBConv1, k3x3
    BaselineStage(4, 3, 2, 24, 48, 4, _F),  # stage 2: Fused-MBConv4, k3x3
    BaselineStage(4, 3, 2, 48, 64, 4, _F),  # stage 3: Fused-MBConv4, k3x3
    BaselineStage(4, 3, 2, 64, 128, 6, _M),  # stage 4: MBConv4, k3x3, SE0.25
    BaselineStage(6, 3, 1, 128, 160, 9, _M),  # stage 5: MBConv6, k3x3, SE0.25
    BaselineStage(6, 3, 2, 160, 256, 15, _M),  # stage 6: MBConv6, k3x3, SE0.25
)
V2_M_STAGES: tuple[BaselineStage, ...] = (
    BaselineStage(1, 3, 1, 24, 24, 3, _F),
    BaselineStage(4, 3, 2, 24, 48, 5, _F),
    BaselineStage(4, 3, 2, 48, 80, 5, _F),
    BaselineStage(4, 3, 2, 80, 160, 7, _M),
    BaselineStage(6, 3, 1, 160, 176, 14, _M),
    BaselineStage(6, 3, 2, 176, 304, 18, _M),
    BaselineStage(6, 3, 1, 304, 512, 5, _M),
)
V2_L_STAGES: tuple[BaselineStage, ...] = (
    BaselineStage(1, 3, 1, 32, 32, 4, _F),
    BaselineStage(4, 3, 2, 32, 64, 7, _F),
    BaselineStage(4, 3, 2, 64, 96, 7, _F),
    BaselineStage(4, 3, 2, 96, 192, 10, _M),
    BaselineStage(6, 3, 1, 192, 224, 19, _M),
    BaselineStage(6, 3, 2, 224, 384, 25, _M),
    BaselineStage(6, 3, 1, 384, 640, 7, _M),
)
# The stage table a configuration scales: "b0" (EfficientNet-B0, Table 1, and Lite) or a V2 table.
STAGE_TABLES: dict[str, tuple[BaselineStage, ...]] = {
    "b0": B0_STAGES,
    "v2_s": V2_S_STAGES,
    "v2_m": V2_M_STAGES,
    "v2_l": V2_L_STAGES,
}


@dataclass(frozen=True)
class ScalingConfig:
    """One point in the scaling space: the three multipliers and the family's switches.

    Frozen and validated, so it can key caches and be shared between threads.
    """

    depth: float = 1.0  # d: each stage's repeats become ceil(d * repeats)
    width: float = 1.0  # w: each layer's channels become round_filters(w * channels)
    resolution: int = BASE_RESOLUTION  # input side in pixels (square images)
    variant: str = "b"  # "b": the paper's EfficientNet; "lite": the mobile EfficientNet-Lite
    name: str = ""  # a preset's name ("b3", "lite0"), or "" for a custom configuration
    num_classes: int = 1000
    dropout: float = 0.2  # before the classifier; the official presets raise it with size
    stochastic_depth: float = 0.2  # drop-path probability of the last block (linear from 0)
    batch_norm_eps: float = 1e-5
    batch_norm_momentum: float = 0.1
    phi: float | None = field(default=None, compare=False)  # set by compound(), for display
    stage_table: str = "b0"  # the baseline that depth and width scale: "b0" or "v2_s", "v2_m", "v2_l"

    def __post_init__(self) -> None:
        _check_number("depth", self.depth, *DEPTH_RANGE)
        _check_number("width", self.width, *WIDTH_RANGE)
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, int):
            if isinstance(self.resolution, float) and math.isfinite(self.resolution) and self.resolution.is_integer():
                object.__setattr__(self, "resolution", int(self.resolution))
            else:
                raise ConfigError(
                    f"resolution must be a whole number of pixels between {RESOLUTION_RANGE[0]} and "
                    f"{RESOLUTION_RANGE[1]}, got {self.resolution!r}"
                )
        _check_number("resolution", self.resolution, *RESOLUTION_RANGE)
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.stage_table not in STAGE_TABLES:
            raise ConfigError(f"stage_table must be one of {', '.join(STAGE_TABLES)}, got {self.stage_table!r}")
        if self.is_v2 and self.variant != "b":
            raise ConfigError("EfficientNetV2 has no Lite variant: use variant 'b' with a V2 stage table")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or not 1 <= self.num_classes <= 100_000:
            raise ConfigError(f"num_classes must be a whole number from 1 to 100000, got {self.num_classes!r}")
        _check_number("dropout", self.dropout, 0.0, 0.99)
        _check_number("stochastic_depth", self.stochastic_depth, 0.0, 0.99)

    @property
    def is_lite(self) -> bool:
        return self.variant == "lite"

    @property
    def is_v2(self) -> bool:
        return self.stage_table != "b0"

    @property
    def label(self) -> str:
        """A short human name: 'EfficientNet-B3', 'EfficientNet-Lite0', 'EfficientNetV2-S' or the multipliers."""
        if self.name:
            return preset_label(self.name)
        family = "V2-" + self.stage_table[-1].upper() if self.is_v2 else "Lite" if self.is_lite else "B"
        if self.phi is not None:
            return f"{family} φ={self.phi:g} (d={self.depth:.3g}, w={self.width:.3g}, r={self.resolution})"
        return f"{family} custom (d={self.depth:.3g}, w={self.width:.3g}, r={self.resolution})"

    def with_resolution(self, resolution: int) -> "ScalingConfig":
        """The same network fed a different input size (weights stay compatible)."""
        return replace(self, resolution=int(resolution))


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        # 4 significant digits: 1.2**14.4 reads 13.82, not 13.823999999999998
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {shown}")


# ---------------------------------------------------------------------------------------------
# Official presets. These are the published table, NOT alpha**phi at integer phi: B1 is
# d1.1 w1.0 r240 although 1.2**1 = 1.2. Sources: tensorflow/tpu efficientnet_builder.py
# (efficientnet_params) and efficientnet_lite_builder.py; torchvision models/efficientnet.py.
#   name     width  depth  res  dropout  batch-norm (torchvision)
# ---------------------------------------------------------------------------------------------
_PRESET_TABLE: dict[str, tuple[float, float, int, float, str]] = {
    "b0": (1.0, 1.0, 224, 0.2, "b"),
    "b1": (1.0, 1.1, 240, 0.2, "b"),
    "b2": (1.1, 1.2, 260, 0.3, "b"),
    "b3": (1.2, 1.4, 300, 0.3, "b"),
    "b4": (1.4, 1.8, 380, 0.4, "b"),
    "b5": (1.6, 2.2, 456, 0.4, "b"),
    "b6": (1.8, 2.6, 528, 0.5, "b"),
    "b7": (2.0, 3.1, 600, 0.5, "b"),
    "lite0": (1.0, 1.0, 224, 0.2, "lite"),
    "lite1": (1.0, 1.1, 240, 0.2, "lite"),
    "lite2": (1.1, 1.2, 260, 0.3, "lite"),
    "lite3": (1.2, 1.4, 280, 0.3, "lite"),
    "lite4": (1.4, 1.8, 300, 0.3, "lite"),
    # EfficientNetV2: each its own stage table at d = w = 1; the resolution is torchvision's
    # evaluation size (train sizes are smaller: progressive learning, paper Section 4.2)
    "v2_s": (1.0, 1.0, 384, 0.2, "b"),
    "v2_m": (1.0, 1.0, 480, 0.3, "b"),
    "v2_l": (1.0, 1.0, 480, 0.4, "b"),
}
PRESETS: tuple[str, ...] = tuple(_PRESET_TABLE)
# torchvision ported B5-B7 with TensorFlow's batch-norm settings; B0-B4 use PyTorch's defaults.
# The Lite weights come from TensorFlow, whose batch-norm epsilon is 1e-3. torchvision's V2 sets
# epsilon 1e-3 and keeps PyTorch's momentum (0.1).
_TF_BATCH_NORM = {"b5", "b6", "b7", "lite0", "lite1", "lite2", "lite3", "lite4"}
_V2_PRESETS = {"v2_s", "v2_m", "v2_l"}


def preset_label(name: str) -> str:
    """'b3' -> 'EfficientNet-B3', 'lite0' -> 'EfficientNet-Lite0', 'v2_s' -> 'EfficientNetV2-S'."""
    if name.startswith("v2_"):
        return "EfficientNetV2-" + name[3:].upper()
    return "EfficientNet-" + name.replace("lite", "Lite").replace("b", "B")


def preset(name: str) -> ScalingConfig:
    """The official configuration of EfficientNet-B0..B7, EfficientNet-Lite0..Lite4 or EfficientNetV2-S/M/L."""
    key = str(name).strip().lower().replace("efficientnet-", "").replace("efficientnet_", "")
    key = key.replace("efficientnetv2-", "v2_").replace("v2-", "v2_")
    if key not in _PRESET_TABLE:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    width, depth, resolution, dropout, variant = _PRESET_TABLE[key]
    tf_bn = key in _TF_BATCH_NORM
    return ScalingConfig(
        depth=depth,
        width=width,
        resolution=resolution,
        variant=variant,
        name=key,
        dropout=dropout,
        batch_norm_eps=1e-3 if tf_bn or key in _V2_PRESETS else 1e-5,
        batch_norm_momentum=0.01 if tf_bn else 0.1,
        stage_table=key if key in _V2_PRESETS else "b0",
    )


def compound(
    phi: float,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    variant: str = "b",
) -> ScalingConfig:
    """Compound scaling (paper, Eq. 3): d = alpha**phi, w = beta**phi, r = 224 * gamma**phi.

    phi may be fractional. The resolution is rounded to a multiple of RESOLUTION_MULTIPLE.
    """
    _check_number("phi", phi, *PHI_RANGE)
    for coefficient_name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        _check_number(coefficient_name, value, *COEFFICIENT_RANGE)
    resolution = round_resolution(BASE_RESOLUTION * gamma**phi)
    return ScalingConfig(
        depth=alpha**phi,
        width=beta**phi,
        resolution=resolution,
        variant=variant,
        phi=float(phi),
    )


def flops_ratio_per_phi(alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA) -> float:
    """alpha * beta**2 * gamma**2: by how much FLOPs grow per unit of phi (paper, Section 3.3).

    FLOPs of a convolution grow linearly with depth and quadratically with width and resolution.
    """
    return alpha * beta**2 * gamma**2


def round_resolution(resolution: float) -> int:
    return int(RESOLUTION_MULTIPLE * round(resolution / RESOLUTION_MULTIPLE))


def round_filters(channels: float, width: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """Scale a channel count by `width` and round it to a multiple of `divisor`.

    The rule of the official code (tensorflow/tpu efficientnet_model.round_filters; torchvision
    `_make_divisible`): round to the nearest multiple, never below `divisor`, and never more than
    10% below the exact value.
    """
    exact = channels * width
    rounded = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * exact:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a stage's number of layers by `depth`, rounding up (official round_repeats)."""
    return int(math.ceil(depth * repeats))


# ---------------------------------------------------------------------------------------------
# The stage table of any configuration (the paper's Table 1, scaled and rounded).
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One row of Table 1 for a concrete configuration."""

    index: int  # 1 = stem, 2..8 = MBConv stages, 9 = head (the paper's numbering; V2: 2..7 or 2..8)
    kind: str  # "stem", "mbconv", "fused_mbconv" or "head"
    operator: str  # as the paper writes it, e.g. "MBConv6, k5x5"
    input_resolution: int  # H = W of the stage's input
    output_resolution: int
    in_channels: int
    out_channels: int
    layers: int
    kernel_size: int
    stride: int  # stride of the stage's first layer
    expand_ratio: int = 1  # MBConv only
    squeeze_ratio: float = 0.0  # 0.25 with squeeze-and-excitation, 0 without (Lite)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.input_resolution, self.input_resolution)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, self.output_resolution, self.output_resolution)


def conv_output_size(size: int, stride: int) -> int:
    """Spatial size after a k x k convolution with 'same' padding: ceil(size / stride)."""
    return -(-size // stride)


def stages(config: ScalingConfig) -> tuple[Stage, ...]:
    """The stages of `config` in the paper's Table 1 layout (stem, 7 MBConv stages, head).

    A V2 stage table gives stem, 6 (S) or 7 (M, L) Fused-MBConv and MBConv stages, head; its rows are
    numbered from 2 like B0's (V2's Table 4 numbers the stem 0).

    Lite (tensorflow/tpu efficientnet_lite_builder): no squeeze-and-excitation, ReLU6, the stem (32)
    and head (1280) channels are not scaled, and the first and last MBConv stages keep 1 layer.
    """
    lite = config.is_lite
    table = STAGE_TABLES[config.stage_table]
    base_stem = table[0].in_channels if config.is_v2 else STEM_CHANNELS
    stem_channels = STEM_CHANNELS if lite else round_filters(base_stem, config.width)
    resolution = config.resolution
    rows: list[Stage] = []

    stem_out = conv_output_size(resolution, STEM_STRIDE)
    rows.append(Stage(1, "stem", "Conv3x3", resolution, stem_out, 3, stem_channels, 1, 3, STEM_STRIDE))
    resolution, in_channels = stem_out, stem_channels

    last = len(table) - 1
    for position, base in enumerate(table):
        out_channels = round_filters(base.out_channels, config.width)
        if lite and position in (0, last):
            layers = base.repeats
        else:
            layers = round_repeats(base.repeats, config.depth)
        out_resolution = conv_output_size(resolution, base.stride)
        fused = base.block == "fused_mbconv"
        rows.append(
            Stage(
                index=position + 2,
                kind=base.block,
                operator=f"{'Fused-' if fused else ''}MBConv{base.expand_ratio}, k{base.kernel_size}x{base.kernel_size}",
                input_resolution=resolution,
                output_resolution=out_resolution,
                in_channels=in_channels,
                out_channels=out_channels,
                layers=layers,
                kernel_size=base.kernel_size,
                stride=base.stride,
                expand_ratio=base.expand_ratio,
                squeeze_ratio=0.0 if lite or fused else SE_RATIO,
            )
        )
        resolution, in_channels = out_resolution, out_channels

    # The official code rounds 1280 * w. torchvision builds 4x the last stage's channels instead:
    # the same for every preset, and within 8 channels of it for any other width.
    head_channels = HEAD_CHANNELS if lite else round_filters(HEAD_CHANNELS, config.width)
    rows.append(Stage(len(table) + 2, "head", "Conv1x1 & Pooling & FC", resolution, 1, in_channels, head_channels, 1, 1, 1))
    return tuple(rows)
