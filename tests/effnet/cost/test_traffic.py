"""effnet.cost.traffic's bytes moved: layers computed by hand, and the convolutions against torch's profiler."""

from __future__ import annotations

import math

import pytest
import torch
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile

import effnet
from effnet.cost.traffic import stage_layers, traffic


def layer(config: effnet.ScalingConfig, name: str, batch: int = 1, dtype: str = "float32"):
    return next(l for s in traffic(config, batch, dtype).stages for l in s.layers if l.name == name)


def test_stem_by_hand() -> None:
    stem = layer(effnet.preset("b0"), "stem")
    assert stem.input_bytes == 4 * 3 * 224 * 224
    assert stem.output_bytes == 4 * 32 * 112 * 112
    assert stem.weight_bytes == 4 * (32 * 3 * 3 * 3 + 32)  # 3x3 kernels + the folded batch-norm bias
    assert stem.macs == 32 * 27 * 112 * 112


def test_depthwise_by_hand_and_its_low_intensity() -> None:
    # B0's first depthwise 3x3: 32 channels at 112x112, one 3x3 filter each
    values = 32 * 112 * 112
    dw = layer(effnet.preset("b0"), "stage2.0 depthwise")
    assert (dw.input_bytes, dw.output_bytes, dw.weight_bytes) == (4 * values, 4 * values, 4 * (32 * 9 + 32))
    assert dw.macs == 9 * values
    assert dw.intensity == pytest.approx(2 * 9 * values / (4 * (2 * values + 32 * 10)))  # ~2.25 FLOP/B
    # in float16 a depthwise 3x3 does ~18 FLOPs per 4 bytes (~4.5 FLOP/B)
    assert layer(effnet.preset("b0"), "stage2.0 depthwise", dtype="float16").intensity == pytest.approx(4.5, rel=0.01)


def test_batch_and_dtype_scale_activations_not_weights() -> None:
    one = layer(effnet.preset("b0"), "stage4.0 expand")
    many = layer(effnet.preset("b0"), "stage4.0 expand", batch=8, dtype="bfloat16")
    assert many.input_bytes == 8 * one.input_bytes // 2 and many.output_bytes == 8 * one.output_bytes // 2
    assert many.weight_bytes == one.weight_bytes // 2 and many.macs == 8 * one.macs


def test_squeeze_excite_and_residual_by_hand() -> None:
    config = effnet.preset("b0")
    se = layer(config, "stage3.1 squeeze-excite")  # 144 channels at 56x56, squeezed to 24 // 4 = 6
    values, hidden, squeeze = 144 * 56 * 56, 144, 6
    assert se.input_bytes == 4 * (2 * values + 2 * hidden + squeeze)  # pool reads, gate reads
    assert se.output_bytes == 4 * (values + 2 * hidden + squeeze)
    assert se.weight_bytes == 4 * (2 * hidden * squeeze + squeeze + hidden)
    residual = layer(config, "stage3.1 residual")
    assert (residual.input_bytes, residual.output_bytes) == (4 * 2 * 24 * 56 * 56, 4 * 24 * 56 * 56)


def test_fused_mbconv_is_far_more_intense_than_depthwise() -> None:
    v2 = traffic(effnet.preset("v2_s"))
    fused = layer(effnet.preset("v2_s"), "stage4.0 expand")  # 3x3 conv 48 -> 192, stride 2, 96x96 -> 48x48
    values_in, values_out = 48 * 96 * 96, 192 * 48 * 48
    assert (fused.input_bytes, fused.output_bytes) == (4 * values_in, 4 * values_out)
    assert fused.weight_bytes == 4 * (192 * 48 * 9 + 192)
    assert fused.intensity > 10 * layer(effnet.preset("b0"), "stage2.0 depthwise").intensity
    assert v2.intensity > 2 * traffic(effnet.preset("b3")).intensity


@pytest.mark.parametrize("name", ["b0", "lite2", "v2_m"])
def test_macs_equal_the_profile(name: str) -> None:
    config = effnet.preset(name)
    assert traffic(config, batch=3).macs == 3 * effnet.profile(config).macs
    totals = traffic(config)
    assert totals.memory_bytes == sum(s.memory_bytes for s in totals.stages)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dtype"):
        traffic(effnet.preset("b0"), dtype="int8")
    with pytest.raises(ValueError, match="batch"):
        traffic(effnet.preset("b0"), batch=0)
    assert stage_layers(effnet.stages(effnet.preset("b0"))[0])[0].name == "stem"


@pytest.mark.parametrize("config", [effnet.ScalingConfig(resolution=64), effnet.preset("v2_s").with_resolution(64)],
                         ids=lambda c: c.label)
def test_convolutions_equal_what_torch_profiler_records(config: effnet.ScalingConfig) -> None:
    # Every aten::conv2d on a feature map (SE's 1x1 convs on the pooled vector are left out): the
    # input and weight tensors from the recorded shapes, the output from the bytes it allocated.
    model = effnet.build(config)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        model(x)
        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True, profile_memory=True) as prof:
            model(x)
    measured = [0, 0, 0]
    count = 0
    for event in prof.events():
        if event.name == "aten::conv2d" and event.input_shapes[0][-1] > 1:
            count += 1
            measured[0] += 4 * math.prod(event.input_shapes[0])
            measured[1] += 4 * math.prod(event.input_shapes[1])
            measured[2] += event.cpu_memory_usage
    convs = [l for s in traffic(config, 2).stages for l in s.layers
             if not any(k in l.name for k in ("residual", "squeeze", "pool", "classifier"))]
    assert count == len(convs)
    assert measured[0] == sum(l.input_bytes for l in convs)
    assert measured[2] == sum(l.output_bytes for l in convs)
    # ours adds one folded bias per output channel (eager reads it in batch norm instead)
    assert measured[1] < sum(l.weight_bytes for l in convs)
    assert measured[1] == pytest.approx(sum(l.weight_bytes for l in convs), rel=0.01)
