"""effnet.layers: every layer's multiply-adds against ptflops' per-module figures on the built network,
its parameters against the module's own, and the rows adding up to the stage table and the totals."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
import torch

import effnet
from effnet.blocks import Conv2dSame
from effnet.cost.predict import predict
from effnet.cost.traffic import traffic
from effnet.layers import GROUPS, KINDS, layer_profile

CONFIGS = {
    "b0": effnet.preset("b0"),
    "lite0": effnet.preset("lite0"),  # built with TensorFlow padding (Conv2dSame), as effnet.build does for Lite
    "v2_s": effnet.preset("v2_s"),
    "custom": effnet.ScalingConfig(depth=0.6, width=0.7, resolution=136),
}


@contextlib.contextmanager
def ptflops_modules(model: torch.nn.Module, resolution: int):
    """ptflops' pytorch backend run module by module: {module name: (multiply-adds, parameters)}.

    Its module hooks only (no patching of torch.nn.functional), on a model built for the test alone.
    ptflops matches module types exactly, so effnet's Conv2dSame (a Conv2d subclass) is handed to
    ptflops' own convolution hook as a custom module.
    """
    from ptflops import pytorch_engine
    from ptflops.pytorch_ops import conv_flops_counter_hook

    saved = pytorch_engine.CUSTOM_MODULES_MAPPING
    pytorch_engine.CUSTOM_MODULES_MAPPING = {Conv2dSame: conv_flops_counter_hook}
    counted = pytorch_engine.add_flops_counting_methods(model)
    try:
        counted.start_flops_count(ost=io.StringIO(), verbose=False, ignore_list=[])
        with torch.no_grad():
            counted(torch.randn(1, 3, resolution, resolution))
        yield {name: (int(module.__flops__), int(module.__params__))
               for name, module in counted.named_modules() if hasattr(module, "__flops__")}
    finally:
        counted.stop_flops_count()
        pytorch_engine.CUSTOM_MODULES_MAPPING = saved


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_convolution_and_the_classifier_match_ptflops_and_the_module(name: str) -> None:
    config = CONFIGS[name]
    rows = layer_profile(config).layers
    torch.manual_seed(0)
    model = effnet.build(config)
    modules = dict(model.named_modules())
    with ptflops_modules(model, config.resolution) as counted:
        checked = 0
        for row in rows:
            if row.module is None:  # functional: the residual addition, squeeze-and-excitation's scaling
                assert row.kind in ("add", "scale") and row.params == 0
                continue
            module = modules[row.module]
            own = sum(p.numel() for p in module.parameters())
            assert row.params == own, row.name
            if row.kind in ("conv", "depthwise", "se", "linear"):
                flops, params = counted[row.module]
                # ptflops counts a bias as one more multiply-add per output value; the paper's
                # convention (effnet.profile) does not: squeeze-and-excitation's 1x1s and the classifier
                bias_adds = math.prod(row.output_shape) if module.bias is not None else 0
                assert flops == row.macs + bias_adds, (row.name, flops, row.macs)
                assert params == row.params
                checked += 1
    convolutions = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.modules())
    assert checked == convolutions  # every convolution and the classifier has its row
    # every parameter of the network sits in exactly one row's module
    assert sum(row.params for row in rows) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_rows_add_up_to_the_stage_table_and_the_totals(name: str) -> None:
    config = CONFIGS[name]
    table, layers = effnet.profile(config), layer_profile(config, batch=8, dtype="bfloat16")
    assert sum(r.params for r in layers.layers) == table.params
    assert sum(r.macs for r in layers.layers) == table.macs
    for stage in table.stages:
        own = [r for r in layers.layers if r.stage == stage.stage.index]
        assert sum(r.params for r in own) == stage.params and sum(r.macs for r in own) == stage.macs
    moved = traffic(config, 8, "bfloat16")
    assert sum(r.bytes for r in layers.layers) == moved.memory_bytes
    for stage in moved.stages:
        assert sum(r.bytes for r in layers.layers if r.stage == stage.stage.index) == stage.memory_bytes
    assert {r.kind for r in layers.layers} <= set(KINDS) and {r.group for r in layers.layers} <= set(GROUPS)


def test_predicted_shares_add_up_to_the_prediction() -> None:
    config = effnet.preset("b0")
    layers = layer_profile(config, batch=32, dtype="float16", device="h200")
    prediction = predict(config, "H200 SXM", 32, "float16")
    assert sum(r.predicted_ms for r in layers.layers) == pytest.approx(prediction.latency_ms, rel=1e-9)
    assert sum(r.kernels for r in layers.layers) == prediction.kernels
    assert sum(layers.share_by_group().values()) == pytest.approx(1.0)
    for stage in prediction.stage_parts():
        own = sum(r.predicted_ms for r in layers.layers if r.stage == stage["index"])
        assert own == pytest.approx(stage["predicted_latency_ms"], rel=1e-9)
    assert all(r.predicted_ms >= 0 for r in layers.layers)
    top = layers.top(10)
    assert len(top) == 10 and top[0].predicted_ms == max(r.predicted_ms for r in layers.layers)


def test_a_depthwise_row_by_hand() -> None:
    # B0's first depthwise 3x3: 32 channels at 112x112; traffic in float32 = input + output + 32 x (9 + 1) weights
    row = next(r for r in layer_profile(effnet.preset("b0")).layers if r.name == "stage2.0 depthwise conv")
    values = 32 * 112 * 112
    assert (row.kind, row.params, row.macs) == ("depthwise", 32 * 9, 9 * values)
    assert row.bytes == 4 * (2 * values + 32 * 10)
    assert row.intensity == pytest.approx(2 * 9 * values / row.bytes)


def test_bad_batch_or_gpu_is_refused() -> None:
    with pytest.raises(ValueError, match="batch"):
        layer_profile(effnet.preset("b0"), batch=0)
    with pytest.raises(ValueError, match="unknown GPU"):
        layer_profile(effnet.preset("b0"), device="Z80")


def test_the_command_line_prints_the_layers_as_json_and_csv(capsys) -> None:
    import csv
    import json

    from effnet.cli import main

    assert main(["profile", "--preset", "b0", "--layers", "--predict", "H200 SXM", "--batch", "32", "--dtype", "float16",
                 "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    layers = document["layers"]
    for key in ("name", "stage", "kind", "params", "macs", "bytes", "intensity", "predicted_share"):
        assert all(key in row for row in layers), key
    assert sum(row["params"] for row in layers) == document["params"] == 5_288_548  # torchvision's B0
    assert sum(row["macs"] for row in layers) == document["macs"]
    assert sum(row["bytes"] for row in layers) == document["memory_bytes"]
    assert sum(row["predicted_ms"] for row in layers) == pytest.approx(document["predicted_latency_ms"])
    assert "predicted" in document["prediction_label"]
    assert main(["profile", "--preset", "b0", "--layers", "--csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert len(rows) == len(layers) and sum(int(row["macs"]) for row in rows) == document["macs"]
    assert main(["profile", "--preset", "b0", "--csv"]) == 2
