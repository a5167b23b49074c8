"""effnet.scaling against outside references: the paper's equations and Table 1, the official preset
tables (tensorflow/tpu), torchvision's EfficientNet configuration and its rounding helper."""

from __future__ import annotations

import math
import random
from unittest import mock

import pytest
import torchvision.models.efficientnet as tv_efficientnet
from torchvision.models._utils import _make_divisible

import effnet
from effnet.scaling import ConfigError, ScalingConfig

B_PRESETS = [f"b{i}" for i in range(8)]
LITE_PRESETS = [f"lite{i}" for i in range(5)]

# The official tables, typed from tensorflow/tpu models/official/efficientnet:
# efficientnet_builder.efficientnet_params and lite/efficientnet_lite_builder.efficientnet_lite_params,
# name: (width, depth, resolution, dropout).
OFFICIAL = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
    "lite0": (1.0, 1.0, 224, 0.2),
    "lite1": (1.0, 1.1, 240, 0.2),
    "lite2": (1.1, 1.2, 260, 0.3),
    "lite3": (1.2, 1.4, 280, 0.3),
    "lite4": (1.4, 1.8, 300, 0.3),
}

# Table 1 of the paper (EfficientNet-B0), typed from the v5 text: stage i, operator, input
# resolution, output channels, layers.
TABLE1 = (
    (1, "Conv3x3", 224, 32, 1),
    (2, "MBConv1, k3x3", 112, 16, 1),
    (3, "MBConv6, k3x3", 112, 24, 2),
    (4, "MBConv6, k5x5", 56, 40, 2),
    (5, "MBConv6, k3x3", 28, 80, 3),
    (6, "MBConv6, k5x5", 14, 112, 3),
    (7, "MBConv6, k5x5", 14, 192, 4),
    (8, "MBConv6, k3x3", 7, 320, 1),
    (9, "Conv1x1 & Pooling & FC", 7, 1280, 1),
)


# ---------------------------------------------------------------------------------------------
# The paper: Equation 3 and Table 1
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("phi", [-2.0, -0.5, 0.0, 0.5, 1.0, 2.5, 4.0, 7.0, 10.0])
def test_compound_follows_equation_3(phi: float) -> None:
    config = effnet.compound(phi)
    assert config.depth == pytest.approx(1.2**phi, rel=1e-12)
    assert config.width == pytest.approx(1.1**phi, rel=1e-12)
    exact_resolution = 224 * 1.15**phi
    # rounded to the nearest multiple of 8 pixels
    assert config.resolution % 8 == 0
    assert abs(config.resolution - exact_resolution) <= 4
    assert config.phi == phi


def test_compound_with_other_coefficients() -> None:
    config = effnet.compound(2.0, alpha=1.4, beta=1.05, gamma=1.3)
    assert (config.depth, config.width) == (pytest.approx(1.96), pytest.approx(1.1025))
    assert config.resolution == 376  # 224 * 1.69 = 378.56, nearest multiple of 8


def test_coefficients_are_the_papers() -> None:
    # Section 4, step 1: alpha = 1.2, beta = 1.1, gamma = 1.15 under alpha * beta^2 * gamma^2 ~= 2
    assert (effnet.ALPHA, effnet.BETA, effnet.GAMMA) == (1.2, 1.1, 1.15)
    assert effnet.flops_ratio_per_phi() == pytest.approx(1.2 * 1.21 * 1.3225)
    assert effnet.flops_ratio_per_phi() == pytest.approx(1.92, abs=0.001)
    assert effnet.flops_ratio_per_phi(1.0, 1.0, 1.0) == 1.0


def test_b0_stage_table_is_the_papers_table_1() -> None:
    rows = effnet.stages(effnet.preset("b0"))
    assert len(rows) == len(TABLE1)
    for row, (index, operator, resolution, channels, layers) in zip(rows, TABLE1):
        assert (row.index, row.operator, row.input_resolution, row.out_channels, row.layers) == (
            index, operator, resolution, channels, layers,
        )


def test_stage_shapes_chain() -> None:
    # each stage consumes what the previous one produced (shapes, not values, so any config will do)
    for config in (effnet.preset("b7"), effnet.compound(3.3), effnet.ScalingConfig(resolution=97, width=0.3)):
        rows = effnet.stages(config)
        for before, after in zip(rows, rows[1:]):
            assert after.in_channels == before.out_channels
            assert after.input_resolution == before.output_resolution
        assert rows[-2].output_resolution == math.ceil(config.resolution / 32)


# ---------------------------------------------------------------------------------------------
# Presets against tensorflow/tpu's tables and torchvision's builders
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", B_PRESETS + LITE_PRESETS)
def test_presets_equal_the_official_table(name: str) -> None:
    config = effnet.preset(name)
    assert (config.width, config.depth, config.resolution, config.dropout) == OFFICIAL[name]
    assert config.variant == ("lite" if name.startswith("lite") else "b")


def _torchvision_conf(name: str) -> dict:
    """What torchvision's efficientnet_<name>() passes on, captured without building the network."""
    captured: dict = {}
    original_conf = tv_efficientnet._efficientnet_conf

    def conf(arch: str, **kwargs: float):
        captured.update(kwargs)
        setting, last_channel = original_conf(arch, **kwargs)
        captured.update(setting=setting, last_channel=last_channel)
        return setting, last_channel

    def build(setting, dropout, last_channel, weights, progress, **kwargs):
        captured.update(dropout=dropout, norm_layer=kwargs.get("norm_layer"))

    with mock.patch.object(tv_efficientnet, "_efficientnet_conf", conf), mock.patch.object(tv_efficientnet, "_efficientnet", build):
        getattr(tv_efficientnet, f"efficientnet_{name}")()
    return captured


@pytest.mark.parametrize("name", B_PRESETS)
def test_presets_equal_torchvision_builders(name: str) -> None:
    reference = _torchvision_conf(name)
    config = effnet.preset(name)
    assert (config.width, config.depth, config.dropout) == (reference["width_mult"], reference["depth_mult"], reference["dropout"])
    norm = reference["norm_layer"]
    eps, momentum = (norm.keywords["eps"], norm.keywords["momentum"]) if norm is not None else (1e-5, 0.1)
    assert (config.batch_norm_eps, config.batch_norm_momentum) == (eps, momentum)


@pytest.mark.parametrize("name", B_PRESETS)
def test_stage_table_equals_torchvision_configuration(name: str) -> None:
    reference = _torchvision_conf(name)
    rows = effnet.stages(effnet.preset(name))
    blocks = rows[1:-1]
    assert len(blocks) == len(reference["setting"])
    for row, tv in zip(blocks, reference["setting"]):
        assert (row.expand_ratio, row.kernel_size, row.stride, row.in_channels, row.out_channels, row.layers) == (
            tv.expand_ratio, tv.kernel, tv.stride, tv.input_channels, tv.out_channels, tv.num_layers,
        )
    # torchvision builds the stem from the first stage's input and the head as 4x the last stage
    assert rows[0].out_channels == reference["setting"][0].input_channels
    assert rows[-1].out_channels == 4 * reference["setting"][-1].out_channels


@pytest.mark.parametrize("name", [n for n in B_PRESETS if n != "b2"])
def test_preset_resolution_equals_torchvision_weights_crop(name: str) -> None:
    # B2 is left out: torchvision's B2 weights were trained and are evaluated at 288 px, not the
    # official 260 px (checked against the official table above instead).
    weights = getattr(tv_efficientnet, f"EfficientNet_{name.upper()}_Weights").IMAGENET1K_V1
    assert [effnet.preset(name).resolution] == list(weights.transforms().crop_size)


def test_lite_keeps_stem_head_and_end_stages_fixed() -> None:
    # tensorflow/tpu lite/README.md: "Fix the stem and head while scaling models up"; the Lite
    # builder keeps the first and last stage at one layer (efficientnet_lite_builder).
    for name in LITE_PRESETS:
        rows = effnet.stages(effnet.preset(name))
        assert (rows[0].out_channels, rows[-1].out_channels) == (32, 1280)
        assert (rows[1].layers, rows[-2].layers) == (1, 1)
        assert all(row.squeeze_ratio == 0 for row in rows[1:-1])
    lite4, b4 = effnet.stages(effnet.preset("lite4")), effnet.stages(effnet.preset("b4"))
    # the middle stages scale exactly like B4's (same width and depth multipliers)
    assert [(r.out_channels, r.layers) for r in lite4[2:-2]] == [(r.out_channels, r.layers) for r in b4[2:-2]]


# ---------------------------------------------------------------------------------------------
# Rounding rules against torchvision's helpers
# ---------------------------------------------------------------------------------------------
def test_round_filters_equals_torchvision_make_divisible() -> None:
    rng = random.Random(1905)
    channels = [16, 24, 32, 40, 80, 112, 192, 320, 1280] + [rng.randint(1, 2000) for _ in range(200)]
    widths = [0.1, 0.25, 0.5, 0.75, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0, 3.7, 8.0] + [rng.uniform(0.1, 8.0) for _ in range(50)]
    for c in channels:
        for w in widths:
            assert effnet.round_filters(c, w) == _make_divisible(c * w, 8), (c, w)


def test_round_repeats_equals_torchvision_adjust_depth() -> None:
    rng = random.Random(11946)
    for repeats in (1, 2, 3, 4):
        for depth in [0.1, 0.5, 1.0, 1.1, 1.2, 1.4, 1.8, 2.2, 2.6, 3.1, 8.0] + [rng.uniform(0.1, 8.0) for _ in range(50)]:
            assert effnet.round_repeats(repeats, depth) == tv_efficientnet.MBConvConfig.adjust_depth(repeats, depth)


# ---------------------------------------------------------------------------------------------
# Validation: every bad value raises a ValueError that names the field
# ---------------------------------------------------------------------------------------------
BAD_NUMBERS = [-1.0, 0, 0.0, float("nan"), float("inf"), -float("inf"), 1e9, True, "2", None]


@pytest.mark.parametrize(
    "field, value",
    [
        (field, value)
        for field in ("depth", "width", "resolution", "dropout", "stochastic_depth")
        for value in BAD_NUMBERS
        # no dropout is a valid choice
        if not (field in ("dropout", "stochastic_depth") and value == 0 and not isinstance(value, bool))
    ],
    ids=repr,
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field) as error:
        ScalingConfig(**{field: value})
    assert isinstance(error.value, ConfigError)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", [223.5, 2049, 31, 10**6])
def test_resolution_must_be_whole_and_in_range(value: object) -> None:
    with pytest.raises(ValueError, match="resolution"):
        ScalingConfig(resolution=value)


def test_whole_float_resolution_is_accepted() -> None:
    assert ScalingConfig(resolution=240.0).resolution == 240
    assert isinstance(ScalingConfig(resolution=240.0).resolution, int)


@pytest.mark.parametrize("field, value", [("variant", "c"), ("variant", None), ("num_classes", 0), ("num_classes", True), ("num_classes", 2.5)])
def test_other_fields_are_checked(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        ScalingConfig(**{field: value})


@pytest.mark.parametrize("argument", ["phi", "alpha", "beta", "gamma"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -50.0, 1e9, True, "1"], ids=repr)
def test_compound_rejects_bad_values_naming_the_argument(argument: str, value: object) -> None:
    arguments = {"phi": 1.0, argument: value}
    with pytest.raises(ValueError, match=argument):
        effnet.compound(**arguments)


def test_coefficients_below_one_are_rejected() -> None:
    # the paper requires alpha, beta, gamma >= 1 (Equation 3)
    with pytest.raises(ValueError, match="beta"):
        effnet.compound(1.0, beta=0.9)


@pytest.mark.parametrize("name", ["b8", "", "lite5", "resnet50", None])
def test_unknown_preset_names_the_choices(name: object) -> None:
    with pytest.raises(ValueError, match="b0") as error:
        effnet.preset(name)  # type: ignore[arg-type]
    assert repr(name) in str(error.value)


@pytest.mark.parametrize("name", ["B3", " b3 ", "efficientnet-b3", "efficientnet_b3"])
def test_preset_names_are_forgiving(name: str) -> None:
    assert effnet.preset(name) == effnet.preset("b3")


def test_configs_are_hashable_values() -> None:
    # frozen and compared by value, so they key caches (phi is for display only)
    assert effnet.compound(1.0) == ScalingConfig(depth=1.2, width=1.1, resolution=256)
    assert len({effnet.preset("b0"), effnet.preset("b0"), effnet.preset("lite0")}) == 2
