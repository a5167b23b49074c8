"""effnet.profile's closed forms against outside references: the built torch module (parameters,
shapes), ptflops' `aten` counter, torchvision's published FLOPs, the paper's Table 2, and memory
measured while PyTorch runs the network."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torchvision.models.efficientnet as tv_efficientnet
from ptflops import get_model_complexity_info
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile

import effnet
from effnet.model import EfficientNet
from effnet.paper import table2_by_preset

B_PRESETS = [f"b{i}" for i in range(8)]


def random_configs(count: int, seed: int) -> list[effnet.ScalingConfig]:
    """Small random configurations of both variants (resolution <= 160, width <= 1.5, depth <= 2)."""
    rng = random.Random(seed)
    configs = []
    for index in range(count):
        configs.append(
            effnet.ScalingConfig(
                depth=round(rng.uniform(0.1, 2.0), 3),
                width=round(rng.uniform(0.1, 1.5), 3),
                resolution=rng.randint(32, 160),  # odd sizes too: 'same' padding rounds up
                variant="lite" if index % 2 else "b",
                num_classes=rng.choice([10, 100, 1000]),
            )
        )
    return configs


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def ptflops_macs(model: torch.nn.Module, resolution: int) -> int:
    """Multiply-adds counted by ptflops' aten backend (convolutions and matrix products only).

    Called on a throw-away model, outside inference_mode (where the aten backend counts 0).
    """
    macs, _ = get_model_complexity_info(
        model, (3, resolution, resolution), backend="aten", as_strings=False, print_per_layer_stat=False
    )
    assert macs, "ptflops failed (it prints its error and returns None)"
    return int(macs)


# ---------------------------------------------------------------------------------------------
# (a) Parameters: the closed form equals the built module, for any configuration
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", random_configs(16, seed=1905), ids=lambda c: c.label)
def test_params_equal_built_module(config: effnet.ScalingConfig) -> None:
    model = EfficientNet(config)
    assert effnet.profile(config).params == count_parameters(model)
    # and stage by stage, through the model's own named layers
    for stage_profile, name in zip(effnet.profile(config).stages, effnet.LAYER_NAMES):
        layer_params = count_parameters(model.layer(name))
        if name == "head":
            layer_params += count_parameters(model.classifier)
        assert stage_profile.params == layer_params, name


# ---------------------------------------------------------------------------------------------
# (b) Multiply-adds: the closed form equals ptflops' count of the running network
# ---------------------------------------------------------------------------------------------
# ptflops' aten backend also counts the bias additions of the classifier and of the
# squeeze-and-excitation convolutions (a few thousand operations), hence a tolerance, not equality.
MACS_TOLERANCE = 0.005


@pytest.mark.parametrize(
    "config",
    [effnet.preset("b0"), effnet.preset("lite0")] + random_configs(6, seed=11946),
    ids=lambda c: c.label,
)
def test_macs_match_ptflops(config: effnet.ScalingConfig) -> None:
    model = effnet.build(config)  # Lite: TensorFlow padding, as served; the count must not change
    assert effnet.profile(config).macs == pytest.approx(ptflops_macs(model, config.resolution), rel=MACS_TOLERANCE)


def test_stage_macs_match_ptflops_b0() -> None:
    config = effnet.preset("b0")
    model = effnet.build(config)
    for stage_profile in effnet.profile(config).stages[1:-1]:
        stage = stage_profile.stage
        submodule = model.layer(f"stage{stage.index}")
        macs, _ = get_model_complexity_info(
            submodule, stage.input_shape, backend="aten", as_strings=False, print_per_layer_stat=False
        )
        assert stage_profile.macs == pytest.approx(macs, rel=MACS_TOLERANCE), stage.index


@pytest.mark.slow
@pytest.mark.parametrize("name", ["b4", "b7"])
def test_macs_match_ptflops_large_presets(name: str) -> None:
    config = effnet.preset(name)
    assert effnet.profile(config).macs == pytest.approx(ptflops_macs(effnet.build(config), config.resolution), rel=MACS_TOLERANCE)


@pytest.mark.parametrize("name", B_PRESETS)
def test_macs_equal_torchvision_published_flops(name: str) -> None:
    # torchvision publishes each weight set's cost in GFLOPS (multiply-adds) to 3 decimals, at the
    # weights' evaluation size (the official one, except B2's 288 px)
    weights = getattr(tv_efficientnet, f"EfficientNet_{name.upper()}_Weights").IMAGENET1K_V1
    (crop,) = weights.transforms().crop_size
    config = effnet.preset(name).with_resolution(crop)
    assert round(effnet.profile(config).macs / 1e9, 3) == weights.meta["_ops"]


# ---------------------------------------------------------------------------------------------
# (c) The paper's Table 2
# ---------------------------------------------------------------------------------------------
# The paper prints FLOPs with 2 significant digits (0.39, 0.70, 1.0, ... 19, 37 B), so rounding alone
# allows up to +-5% (1.0 B stands for 0.95-1.05 B). Our counts round to the printed value for B0,
# B2, B3 and B6; B1 (0.687 vs 0.70), B7 (37.7 vs 37), B5 (10.27 vs 9.9) and B4 (4.39 vs 4.2) lie
# 2-4.4% above it. B4 and B5 cannot be rounding: our count is the one every independent tool gets
# for these architectures (it equals torchvision's published 4.394 and 10.266 GFLOPS above and
# ptflops; Lyken17/pytorch-OpCounter#69 reports 10.46 G for B5 with thop, which also counts some
# element-wise work; lukemelas/EfficientNet-PyTorch#17 and tensorflow/tpu#765 raise the same gap
# with no explanation from the authors). The paper itself warns (footnote 3): "FLOPS may differ from
# theoretical value due to rounding". One guess checked and rejected: 456 px is not a multiple of 32
# (the last stages see 15x15 maps; at 448 px, 14x14, B5 counts 9.40 B), but taking every map as
# exactly resolution/stride would give 9.74 B for B5 and would also pull B1 and B2 down to 0.65 and
# 0.89 B, away from the paper. So the tolerance is 5%, and the direction is checked separately.
TABLE2_FLOPS_TOLERANCE = 0.05


@pytest.mark.parametrize("name", B_PRESETS)
def test_macs_near_table2_flops(name: str) -> None:
    paper_flops = table2_by_preset()[name].flops_b * 1e9
    ours = effnet.profile(effnet.preset(name)).macs
    assert ours == pytest.approx(paper_flops, rel=TABLE2_FLOPS_TOLERANCE)


def test_table2_flops_within_rounding_where_the_paper_rounds() -> None:
    # the presets whose count rounds to the printed figure (2 significant digits)
    for name in ("b0", "b2", "b3", "b6"):
        printed = table2_by_preset()[name].flops_b
        digits = 1 - math.floor(math.log10(printed))
        assert round(effnet.profile(effnet.preset(name)).macs / 1e9, digits) == printed, name


def test_table2_flops_ratios() -> None:
    # B7 costs ~96x B0 in the paper (37 / 0.39); ours agrees within the rounding of 0.39 (+-1.3%)
    macs = {name: effnet.profile(effnet.preset(name)).macs for name in B_PRESETS}
    paper = table2_by_preset()
    assert macs["b7"] / macs["b0"] == pytest.approx(paper["b7"].flops_b / paper["b0"].flops_b, rel=0.05)


# ---------------------------------------------------------------------------------------------
# (d) FLOPs growth with phi
# ---------------------------------------------------------------------------------------------
# Equation 3 predicts FLOPs x (alpha * beta^2 * gamma^2)^phi = 1.92^phi. The real network rounds:
# repeats up (ceil), channels and resolution to multiples of 8. Ceil adds a layer to every stage as
# soon as d > 1 (at phi = 0.25, d = 1.047 already turns 16 blocks into 23), so the actual ratio runs
# above the prediction, most at small phi (1.8 instead of 1.19 at phi = 0.25), and the relative
# effect of rounding shrinks as the network grows. Bands measured here for phi in [0, 10]:
# ratio / 1.92^phi in [0.97, 1.53]; at integer phi in [1.0, 1.28]; for phi >= 5 in [0.97, 1.11].
PHI_GRID = tuple(x / 4 for x in range(0, 41))


def test_flops_growth_starts_at_one() -> None:
    first = effnet.flops_growth((0.0,))[0]
    assert (first["actual_ratio"], first["two_to_phi"], first["constraint_ratio"]) == (1.0, 1.0, 1.0)
    assert first["macs"] == effnet.profile(effnet.preset("b0")).macs  # phi = 0 is B0 itself


def test_flops_growth_follows_the_constraint() -> None:
    rows = effnet.flops_growth(PHI_GRID)
    for row in rows:
        phi = row["phi"]
        assert row["constraint_ratio"] == pytest.approx((1.2 * 1.1**2 * 1.15**2) ** phi)
        assert row["two_to_phi"] == pytest.approx(2**phi)
        band = (1.0, 1.3) if phi.is_integer() else (0.95, 1.6)
        if phi >= 5:
            band = (0.95, 1.12)
        assert band[0] <= row["actual_ratio"] / row["constraint_ratio"] <= band[1], phi
    # least-squares growth factor per unit of phi: ~1.92 as designed, not the paper's rounded 2
    xs = [row["phi"] for row in rows]
    ys = [math.log(row["actual_ratio"]) for row in rows]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    assert 1.85 <= math.exp(slope) <= 1.97


def test_flops_growth_is_monotone() -> None:
    for variant in ("b", "lite"):
        macs = [row["macs"] for row in effnet.flops_growth(PHI_GRID, variant=variant)]
        assert all(a <= b for a, b in zip(macs, macs[1:])), variant
        integer_macs = [row["macs"] for row in effnet.flops_growth(tuple(range(11)), variant=variant)]
        assert all(a < b for a, b in zip(integer_macs, integer_macs[1:])), variant


def test_lite_grows_slower_than_b() -> None:
    # Lite fixes the stem, the head and the first and last stages, so it falls behind 1.92^phi
    b, lite = effnet.flops_growth((6.0, 8.0, 10.0)), effnet.flops_growth((6.0, 8.0, 10.0), variant="lite")
    for b_row, lite_row in zip(b, lite):
        assert lite_row["actual_ratio"] < b_row["actual_ratio"]
        assert lite_row["actual_ratio"] < lite_row["constraint_ratio"]


# ---------------------------------------------------------------------------------------------
# (e) The MBConv explainer's steps against the built blocks
# ---------------------------------------------------------------------------------------------
PARTS = {"expand": "expand", "depthwise": "depthwise", "squeeze-excite": "squeeze_excite", "project": "project"}


@pytest.mark.parametrize("config", [effnet.preset("b0")] + random_configs(2, seed=7), ids=lambda c: c.label)
def test_block_steps_match_built_blocks(config: effnet.ScalingConfig) -> None:
    model = EfficientNet(config)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    conv_macs: dict[str, int] = {}
    hooks = []
    for name, module in model.stages.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            def count(m: torch.nn.Conv2d, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                k = m.kernel_size[0] * m.kernel_size[1]
                conv_macs[name] = output.numel() * (m.in_channels // m.groups) * k
            hooks.append(module.register_forward_hook(count))
        elif name.count(".") == 2:  # stage.block.part
            def record(m: torch.nn.Module, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                shapes[name] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))
            hooks.append(module.register_forward_hook(record))
    with torch.no_grad():
        model(torch.zeros(1, 3, config.resolution, config.resolution))
    for hook in hooks:
        hook.remove()

    for stage_index, (stage_profile, stage_module) in enumerate(zip(effnet.profile(config).stages[1:-1], model.stages)):
        stage = stage_profile.stage
        total_params = total_macs = 0
        for layer, block in enumerate(stage_module):
            steps = effnet.block_steps(stage, first=layer == 0)
            names = [step.name for step in steps]
            assert ("residual" in names) == block.use_residual
            for step in steps:
                total_params += step.params
                total_macs += step.macs
                if step.name == "residual":
                    continue
                part = f"{stage_index}.{layer}.{PARTS[step.name]}"
                assert shapes[part] == (step.input_shape, step.output_shape), part
                assert step.params == count_parameters(getattr(block, PARTS[step.name])), part
                assert step.macs == sum(v for k, v in conv_macs.items() if k.startswith(part + ".")), part
            present = {PARTS[n] for n in names if n != "residual"}
            for attribute in set(PARTS.values()) - present:
                assert isinstance(getattr(block, attribute), torch.nn.Identity), attribute
        assert (total_params, total_macs) == (stage_profile.params, stage_profile.macs)


# ---------------------------------------------------------------------------------------------
# (f) Activation memory against measurements of eager PyTorch
# ---------------------------------------------------------------------------------------------
def measured_peak_bytes(model: torch.nn.Module, resolution: int) -> int:
    """Largest total of tensor memory allocated during one inference pass (torch.profiler's CPU memory
    events, in time order), the input and the weights excluded."""
    image = torch.randn(1, 3, resolution, resolution)
    with torch.no_grad():
        model(image)  # warm-up: one-off allocations of the libraries stay out of the count
        with torch_profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recording:
            model(image)
    events = sorted((e for e in recording.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def measured_saved_bytes(model: torch.nn.Module, resolution: int) -> int:
    """Bytes of the distinct tensors autograd saves for the backward pass of one training step,
    the weights and buffers excluded, the input image included."""
    weights = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(torch.randn(1, 3, resolution, resolution))
    return sum(saved.values())


MEMORY_CONFIGS = [
    effnet.ScalingConfig(resolution=96),
    effnet.ScalingConfig(depth=1.5, width=1.3, resolution=80),
    effnet.ScalingConfig(variant="lite", resolution=96, width=0.5),
]


# Both estimates model eager PyTorch on effnet's modules (see "Memory model" in effnet/profile.py)
# and came out within 2% of these measurements; the bands leave room for other CPU kernels (oneDNN
# chooses its algorithms per machine). The model before this test existed ("block input + expanded
# map + depthwise output"; "2 maps per layer, an upper bound") was 1.7-2.2x and 1.14-1.42x too low.
@pytest.mark.parametrize("config", MEMORY_CONFIGS, ids=lambda c: c.label)
def test_activation_bytes_match_measured_peak(config: effnet.ScalingConfig) -> None:
    model = EfficientNet(config, tf_padding=False).eval()
    measured = measured_peak_bytes(model, config.resolution)
    assert 0.97 <= measured / effnet.profile(config).activation_bytes <= 1.10


@pytest.mark.parametrize("config", MEMORY_CONFIGS + [effnet.ScalingConfig(depth=0.5, width=0.5, resolution=64)], ids=lambda c: c.label)
def test_training_activation_bytes_match_autograd(config: effnet.ScalingConfig) -> None:
    measured = measured_saved_bytes(EfficientNet(config, tf_padding=False), config.resolution)
    assert 0.95 <= measured / effnet.profile(config).training_activation_bytes <= 1.05


def test_lite_with_tensorflow_padding_keeps_a_little_more() -> None:
    # build() gives Lite TensorFlow 'same' padding; the padded copies of depthwise inputs are not in
    # the model (they are measured here at about +10%)
    config = effnet.ScalingConfig(variant="lite", resolution=96, width=0.5)
    estimate = effnet.profile(config)
    model = effnet.build(config)
    assert 1.0 <= measured_saved_bytes(model, config.resolution) / estimate.training_activation_bytes <= 1.15
    assert 1.0 <= measured_peak_bytes(model.eval(), config.resolution) / estimate.activation_bytes <= 1.2


# ---------------------------------------------------------------------------------------------
# EfficientNetV2: ptflops' aten count, at a small size and at torchvision's own
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["v2_s", "v2_m", "v2_l"])
def test_v2_macs_match_ptflops(name: str) -> None:
    config = effnet.preset(name).with_resolution(96)
    assert effnet.profile(config).macs == pytest.approx(ptflops_macs(effnet.build(config), 96), rel=MACS_TOLERANCE)


@pytest.mark.parametrize("name", ["v2_s", "v2_m", "v2_l"])
def test_v2_macs_equal_torchvision_published_flops(name: str) -> None:
    weights = getattr(tv_efficientnet, f"EfficientNet_{name.upper()}_Weights").IMAGENET1K_V1
    (crop,) = weights.transforms().crop_size
    assert round(effnet.profile(effnet.preset(name).with_resolution(crop)).macs / 1e9, 3) == weights.meta["_ops"]


def test_v2_custom_table_macs_match_ptflops() -> None:
    config = effnet.ScalingConfig(depth=0.4, width=0.6, resolution=72, stage_table="v2_m", num_classes=10)
    assert effnet.profile(config).macs == pytest.approx(ptflops_macs(effnet.build(config), 72), rel=MACS_TOLERANCE)
