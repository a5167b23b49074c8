"""effnet.cost.predict: layers computed by hand, kernels counted on the real module, the schedule on a timeline
drawn by hand, agreement with the roofline's table and traffic, and the committed calibration against the
recorded H200 runs."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

import effnet
from effnet.cost import calibrate
from effnet.cost.predict import (CALIBRATION_PATH, Calibration, Constants, eager_layers, predict, resolve_device, schedule,
                            tensor_core_peak)
from effnet.cost.devices import DEVICES
from effnet.cost.recorded import RecordedRun, best_runs, load_recorded
from effnet.cost.traffic import traffic

# Round constants chosen for the hand computations (not the fitted ones)
HAND = Calibration(Constants(launch_us=10.0, memory_efficiency=0.5, tensor_core_efficiency=0.8, depthwise_efficiency=0.1),
                   device="H200 SXM", recorded_device_name="NVIDIA H200", fitted_on="hand-picked for tests")


def _layer(prediction, name):
    (found,) = [layer for layer in prediction.layers if layer.layer.name == name]
    return found


def test_a_depthwise_layer_by_hand():
    """B0's first block: a 3x3 depthwise convolution over 32 channels at 112x112, batch 1, float32, on an H200."""
    layer = _layer(predict(effnet.preset("b0"), "H200 SXM", 1, "float32", HAND), "stage2.0 depthwise")
    macs = 112 * 112 * 32 * 3 * 3
    map_bytes = 32 * 112 * 112 * 4
    weights = (32 * 3 * 3 + 32) * 4  # one 3x3 filter a channel + the folded batch-norm bias
    assert layer.layer.kind == "depthwise" and layer.layer.kernels == 3  # conv, batch norm, SiLU
    assert layer.layer.flops == 2 * macs
    assert layer.layer.traffic_bytes == 2 * map_bytes + weights
    assert layer.layer.eager_bytes == 4 * map_bytes  # batch norm and SiLU each read and write the map once more
    # depthwise runs on the CUDA cores: 10% of the H200's 67 TFLOP/s float32
    assert layer.compute_s == pytest.approx(2 * macs / (0.1 * 67e12))
    assert layer.memory_s == pytest.approx((6 * map_bytes + weights) / (0.5 * 4800e9))
    assert layer.bound == "memory"


def test_tensor_core_layers_by_hand():
    prediction = predict(effnet.preset("b0"), "H200 SXM", 32, "float32", HAND)
    head = _layer(prediction, "head conv")  # 1x1, 320 -> 1280 channels at 7x7
    assert head.layer.kind == "1x1 conv"
    # float32 convolutions as TF32: half the H200's 989.4 TFLOP/s float16 rate
    assert head.compute_s == pytest.approx(2 * 32 * 49 * 320 * 1280 / (0.8 * 989.4e12 / 2))
    classifier = _layer(prediction, "classifier")  # a float32 matrix product on the CUDA cores
    assert classifier.layer.kind == "fc" and classifier.layer.kernels == 1
    assert classifier.compute_s == pytest.approx(2 * 32 * 1280 * 1000 / (0.8 * 67e12))
    half = _layer(predict(effnet.preset("b0"), "H200 SXM", 32, "float16", HAND), "head conv")
    assert half.compute_s == pytest.approx(2 * 32 * 49 * 320 * 1280 / (0.8 * 989.4e12))
    assert half.memory_s == pytest.approx((32 * 49 * (320 + 5 * 1280) * 2 + (320 * 1280 + 1280) * 2) / (0.5 * 4800e9))


def test_the_schedule_on_a_timeline_drawn_by_hand():
    # CPU issues a layer every 2 us; the GPU needs 1, 5, 1 us. Layer 1 waits 2 us for the CPU (runs 2-3);
    # layer 2 is issued at 4 (waits 1 us, runs 4-9); layer 3 is issued at 6 but starts at 9 (no wait), ends at 10.
    waits = schedule(np.array([2.0, 2.0, 2.0]), np.array([1.0, 5.0, 1.0]))
    assert waits.tolist() == [2.0, 1.0, 0.0]
    assert schedule(np.array([1.0, 1.0]), np.array([0.0, 0.0])).tolist() == [1.0, 1.0]  # nothing to overlap


def test_the_parts_add_up_and_batch_one_is_launch_bound():
    prediction = predict(effnet.preset("b0"), "H200 SXM", 1, "float16", HAND)
    assert prediction.latency_ms == pytest.approx(prediction.launch_ms + prediction.memory_ms + prediction.compute_ms)
    # at batch 1 every layer is done before the CPU has issued the next: the total is B0's 238 launches of
    # 10 us plus the last layer (the classifier) on the GPU; the GPU idles for all but its own work
    gpu_ms = [1e3 * layer.gpu_s for layer in prediction.layers]
    assert prediction.latency_ms == pytest.approx(238 * 10e-3 + gpu_ms[-1])
    assert prediction.launch_ms == pytest.approx(238 * 10e-3 - sum(gpu_ms[:-1]))
    stages = prediction.stage_parts()
    assert len(stages) == 9 and sum(s["predicted_latency_ms"] for s in stages) == pytest.approx(prediction.latency_ms)


class _CountKernels:
    """Counts the operations the real module dispatches (views and no-ops left out)."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counts = self.counts = collections.Counter()

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                counts[func.overloadpacket.__name__] += 1
                return func(*args, **(kwargs or {}))

        self.mode = Mode()


@pytest.mark.parametrize("name", ["b0", "lite0", "v2_s"])
def test_kernels_per_layer_match_what_the_module_dispatches(name, one_torch_thread):
    import torch

    config = effnet.preset(name).with_resolution(64)  # the count does not depend on the resolution
    model = effnet.build(config)
    counter = _CountKernels()
    images = torch.randn(1, 3, 64, 64)
    with torch.inference_mode(), counter.mode:
        model(images)
    dispatched = sum(n for op, n in counter.counts.items() if op not in ("flatten", "dropout", "dropout_", "view", "t"))
    assert sum(layer.kernels for _, layer in eager_layers(config)) == dispatched


def test_the_prediction_uses_the_roofline_table_and_traffic():
    """The Latency panel and the roofline chart agree: same datasheet bandwidth, same bytes per layer."""
    config = effnet.preset("v2_s")
    prediction = predict(config, "A100 SXM 80GB", 8, "float16", HAND)
    moved = [layer for stage in traffic(config, 8, "float16").stages for layer in stage.layers]
    assert [p.layer.traffic_bytes for p in prediction.layers] == [layer.memory_bytes for layer in moved]
    bandwidth = DEVICES["A100 SXM 80GB"].bandwidth_gb_s * 1e9
    for layer in prediction.layers:
        assert layer.memory_s == pytest.approx(layer.layer.memory_bytes / (0.5 * bandwidth))
    memory_bound = [p for p in prediction.layers if p.bound == "memory"]
    assert prediction.memory_ms == pytest.approx(1e3 * sum(p.layer.memory_bytes for p in memory_bound) / (0.5 * bandwidth))


@pytest.mark.parametrize("gpu_name, table_name", [("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H200", "H200 SXM"),
                                                  ("NVIDIA A100-SXM4-80GB", "A100 SXM 80GB"), ("NVIDIA L4", "L4"),
                                                  ("Tesla T4", "T4")])
def test_the_tf32_rule_matches_effnet_latency_s_datasheet_table(gpu_name, table_name):
    from effnet.cost.devices import peak_tflops

    assert tensor_core_peak(DEVICES[table_name], "float32", "1x1 conv") / 1e12 == pytest.approx(
        peak_tflops(gpu_name, "float32", tf32=True), rel=0.01)


def test_gpu_names_and_mistakes():
    assert resolve_device("h200").name == "H200 SXM"
    assert resolve_device(" H200-SXM ").name == "H200 SXM"
    assert resolve_device("a100").name == "A100 SXM 80GB"
    assert resolve_device("rtx 4090").name == "RTX 4090"
    with pytest.raises(ValueError, match=r"unknown GPU 'K80'; choose one of H100 SXM, H200 SXM"):
        resolve_device("K80")
    with pytest.raises(ValueError, match="T4 has no bfloat16"):
        predict(effnet.preset("b0"), "T4", 1, "bfloat16")
    with pytest.raises(ValueError, match="batch must be a whole number"):
        predict(effnet.preset("b0"), "H200 SXM", 0)


def test_other_gpus_are_labelled_as_calibrated_on_the_h200_only():
    assert predict(effnet.preset("b0"), "T4").label == "predicted on T4, calibrated on H200 SXM only"
    assert predict(effnet.preset("b0"), "H200 SXM").label.startswith("predicted on H200 SXM, calibrated on recorded NVIDIA H200")


def test_the_fit_recovers_known_constants_from_runs_made_with_them():
    truth = Calibration(Constants(15.0, 0.6, 1.0, 0.05), "H200 SXM", "NVIDIA H200", "synthetic")
    runs = []
    for name in ("b0", "b3", "b5"):
        for batch in (1, 32):
            for dtype in ("float32", "float16"):
                ms = predict(effnet.preset(name), "H200 SXM", batch, dtype, truth).latency_ms
                runs.append(RecordedRun(name, effnet.preset(name).resolution, batch, dtype, "eager", False, "cuda",
                                        "NVIDIA H200", 10, ms, (ms, ms), False, None, "test", None, "today", "synthetic"))
    fitted = calibrate.fit(calibrate.fit_points(runs)).constants
    assert fitted.launch_us == pytest.approx(15.0, rel=0.01)
    assert fitted.memory_efficiency == pytest.approx(0.6, rel=0.01)
    assert fitted.depthwise_efficiency == pytest.approx(0.05, rel=0.02)


def test_the_committed_calibration_matches_the_model_and_the_recorded_runs():
    """Each run in the committed calibration is re-predicted by today's model (a changed model needs a new
    calibration), and every recorded H200 run at batch 32 is within the README's ±30%."""
    document = json.loads(CALIBRATION_PATH.read_text(encoding="utf-8"))
    for row in document["runs"]:
        config = effnet.preset(row["preset"]).with_resolution(row["resolution"])
        assert predict(config, "H200 SXM", row["batch"], row["dtype"]).latency_ms == pytest.approx(row["predicted_ms"], rel=1e-6)
    recorded = [r for r in best_runs(load_recorded()) if r.device_name == "NVIDIA H200" and r.batch == 32 and r.mode == "eager"]
    assert len(recorded) == 16
    for run in recorded:
        predicted = predict(run.config, "H200 SXM", run.batch, run.dtype).latency_ms
        assert abs(predicted / run.median_ms - 1) <= 0.30, (run.preset, run.dtype, run.median_ms, predicted)


def test_profile_predict_on_the_command_line(capsys):
    from effnet.cli import main

    assert main(["profile", "--preset", "b0", "--predict", "H200 SXM", "--batch", "32", "--dtype", "float16", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    parts = document["launch_ms"] + document["memory_ms"] + document["compute_ms"]
    assert document["predicted_latency_ms"] == pytest.approx(parts)
    assert document["prediction"]["device"] == "H200 SXM" and document["prediction"]["batch"] == 32
    assert document["prediction"]["label"].startswith("predicted on H200 SXM")
    assert sum(stage["predicted_latency_ms"] for stage in document["stages"]) == pytest.approx(parts)
    # B0 at batch 32 in float16 was recorded at 5.17 ms (gpu_h200_fp16_run2.json)
    assert document["predicted_latency_ms"] == pytest.approx(5.17, rel=0.30)
    assert main(["profile", "--preset", "b0", "--predict", "k80"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown GPU 'k80'; choose one of H100 SXM, H200 SXM" in error
