"""Predicted GPU latency of any configuration on a named GPU: a roofline per layer plus the cost of launching it.

A laptop in a classroom has no GPU, yet the question "how long would this network take on an H200?"
has a physical answer. Per layer of the network, as eager PyTorch runs it (`effnet.build` timed by
`effnet.cost.latency` in mode 'eager'):

    GPU time  g = max(FLOPs / (efficiency_kind x peak_kind,dtype),  bytes / (efficiency_memory x bandwidth))
    CPU time  c = launch x kernels(layer)

- FLOPs = 2 x multiply-adds and bytes = the layer's traffic (`effnet.cost.traffic`: the roofline chart's
  closed form), plus the passes eager PyTorch adds: batch norm and the activation are kernels of
  their own, each reading and writing the layer's output map once more.
- peaks and bandwidth come from `effnet.cost.devices.DEVICES`, the roofline chart's datasheet table.
  Dense and 1x1 convolutions run on tensor cores: float16/bfloat16 at that peak, float32 as TF32
  (PyTorch lets cuDNN use TF32 for convolutions by default), which these datasheets give as half the
  float16 rate on GPUs with bfloat16 (Ampere and later; on a T4 float32 uses the CUDA cores). The
  classifier's matrix product stays float32 (PyTorch's default for matmul). Depthwise convolutions
  do not use tensor cores and accumulate in float32 whatever the storage type: their peak is the
  float32 CUDA-core peak.
- kernels(layer): what eager PyTorch dispatches, e.g. convolution + batch norm + activation = 3,
  squeeze-and-excitation = 6 (tests count them on the real module).

The CPU issues kernels while the GPU runs earlier ones, so the two overlap: a layer starts when the
CPU has issued it and the GPU has finished the layer before. The predicted latency is when the last
layer ends, and it splits exactly into three parts: `launch` (the GPU idle, waiting for the CPU to
issue work: at batch 1 nearly all of it), `memory` (layers whose bytes bind) and `compute` (layers
whose FLOPs bind). `overlap=False` gives the plain sum of GPU and CPU time instead, for comparison.

The free constants (launch cost per kernel, memory efficiency, depthwise efficiency; the tensor-core
efficiency where the recorded runs constrain it) are fitted on recorded H200 runs by
`python benchmarks/calibrate_prediction.py` and stored in effnet/cost/data/latency_calibration.json with
the fit and its errors. On another GPU the same constants meet that GPU's datasheet: a prediction,
calibrated on the H200 only. The launch cost is the host's (Python, the dispatcher, the driver), not
the GPU's. Only eager execution is predicted: no other mode was recorded to calibrate it.
Pure Python and numpy, closed form: instant on the slider path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..scaling import ScalingConfig
from .devices import DEVICES, Device
from .traffic import LayerTraffic, Traffic, dtype_bytes, traffic

CALIBRATION_PATH = Path(__file__).resolve().parent / "data" / "latency_calibration.json"
KINDS = ("dense conv", "1x1 conv", "depthwise", "fc", "squeeze-excite", "elementwise")
# Which efficiency constant limits each kind's arithmetic; elementwise layers do no multiply-adds.
EFFICIENCY_OF_KIND = {"dense conv": "tensor_core_efficiency", "1x1 conv": "tensor_core_efficiency",
                      "fc": "tensor_core_efficiency", "squeeze-excite": "tensor_core_efficiency",
                      "depthwise": "depthwise_efficiency", "elementwise": None}
PREDICTED_MODE = "eager"


@dataclass(frozen=True)
class Constants:
    """The model's free constants, fitted on recorded runs."""

    launch_us: float  # CPU time to issue one kernel in eager PyTorch, microseconds
    memory_efficiency: float  # share of the datasheet bandwidth a layer's bytes move at
    tensor_core_efficiency: float  # share of the tensor-core (or TF32) peak dense, 1x1 and fc layers reach
    depthwise_efficiency: float  # share of the float32 CUDA-core peak depthwise convolutions reach

    def __post_init__(self) -> None:
        if not self.launch_us >= 0:
            raise ValueError(f"launch_us must be 0 or more, got {self.launch_us!r}")
        for name in ("memory_efficiency", "tensor_core_efficiency", "depthwise_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be above 0 and at most 1, got {value!r}")


@dataclass(frozen=True)
class Calibration:
    """Constants and where they come from: the device whose recorded runs fitted them."""

    constants: Constants
    device: str  # a DEVICES name, e.g. "H200 SXM"
    recorded_device_name: str  # as the runs name it, e.g. "NVIDIA H200"
    fitted_on: str  # in words, e.g. "B0, B2, B4, B6 at batch 1 and 32, float32 and float16, eager"


@dataclass(frozen=True)
class Layer:
    """One layer as eager PyTorch runs it: the work it does and the kernels it takes."""

    name: str  # as in effnet.cost.traffic: "stem", "stage3.1 expand", "head pool", ...
    kind: str  # one of KINDS
    kernels: int  # kernels eager PyTorch dispatches for it
    flops: int  # 2 x multiply-adds, whole batch
    traffic_bytes: int  # effnet.cost.traffic's bytes for the layer (one fused kernel)
    eager_bytes: int  # what eager adds: separate batch-norm, activation and padding passes

    @property
    def memory_bytes(self) -> int:
        return self.traffic_bytes + self.eager_bytes


@dataclass(frozen=True)
class LayerPrediction:
    layer: Layer
    stage: int  # the stage index (1 = stem)
    compute_s: float  # FLOPs / attainable compute rate
    memory_s: float  # bytes / attainable bandwidth
    wait_s: float  # the GPU idle before this layer, waiting for the CPU to issue it

    @property
    def gpu_s(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        """'compute' or 'memory': what limits the layer once the GPU runs it."""
        return "compute" if self.compute_s > self.memory_s else "memory"


@dataclass(frozen=True)
class Prediction:
    """Predicted latency of one batch, in three parts that add up to it."""

    config: ScalingConfig
    device: Device
    batch: int
    dtype: str
    calibration: Calibration
    layers: tuple[LayerPrediction, ...]

    @property
    def launch_ms(self) -> float:
        return 1e3 * sum(layer.wait_s for layer in self.layers)

    @property
    def memory_ms(self) -> float:
        return 1e3 * sum(layer.gpu_s for layer in self.layers if layer.bound == "memory")

    @property
    def compute_ms(self) -> float:
        return 1e3 * sum(layer.gpu_s for layer in self.layers if layer.bound == "compute")

    @property
    def latency_ms(self) -> float:
        return self.launch_ms + self.memory_ms + self.compute_ms

    @property
    def kernels(self) -> int:
        return sum(layer.layer.kernels for layer in self.layers)

    @property
    def calibrated_here(self) -> bool:
        """True when the device is the one whose recorded runs fitted the constants."""
        return self.device.name == self.calibration.device

    @property
    def calibration_note(self) -> str:
        """'calibrated on recorded NVIDIA H200 runs', or '... on H200 SXM only' for any other GPU."""
        if self.calibrated_here:
            return f"calibrated on recorded {self.calibration.recorded_device_name} runs"
        return f"calibrated on {self.calibration.device} only"

    @property
    def label(self) -> str:
        """How the figure is named wherever it is shown: never mistakable for a measurement."""
        return f"predicted on {self.device.name}, {self.calibration_note}"

    def stage_parts(self) -> list[dict]:
        """Per stage: its index and its launch, memory and compute milliseconds (they sum to the total)."""
        parts: dict[int, dict] = {}
        for layer in self.layers:
            row = parts.setdefault(layer.stage, {"index": layer.stage, "launch_ms": 0.0, "memory_ms": 0.0, "compute_ms": 0.0})
            row["launch_ms"] += 1e3 * layer.wait_s
            row[f"{layer.bound}_ms"] += 1e3 * layer.gpu_s
        for row in parts.values():
            row["predicted_latency_ms"] = row["launch_ms"] + row["memory_ms"] + row["compute_ms"]
        return list(parts.values())

    def as_dict(self) -> dict:
        constants = self.calibration.constants
        return {
            "predicted_latency_ms": self.latency_ms,
            "launch_ms": self.launch_ms,
            "memory_ms": self.memory_ms,
            "compute_ms": self.compute_ms,
            "device": self.device.name,
            "batch": self.batch,
            "dtype": self.dtype,
            "mode": PREDICTED_MODE,
            "kernels": self.kernels,
            "label": self.label,
            "calibrated_on": self.calibration.device,
            "fitted_on": self.calibration.fitted_on,
            "constants": {"launch_us": constants.launch_us, "memory_efficiency": constants.memory_efficiency,
                          "tensor_core_efficiency": constants.tensor_core_efficiency,
                          "depthwise_efficiency": constants.depthwise_efficiency},
            "stages": self.stage_parts(),
        }


# ---------------------------------------------------------------------------------------------
# devices
# ---------------------------------------------------------------------------------------------
def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _aliases() -> dict[str, str]:
    """Lower-case names without spaces or dashes, and each name without its form factor ('h200', 'a100')."""
    aliases = {}
    for name in DEVICES:
        aliases[_normalised(name)] = name
        aliases.setdefault(_normalised(re.sub(r"\s+SXM.*$", "", name)), name)
    return aliases


def resolve_device(name: str) -> Device:
    """The datasheet entry for a GPU name ('H200 SXM', 'h200', 'a100', ...); ValueError listing the names."""
    found = _aliases().get(_normalised(str(name)))
    if found is None:
        raise ValueError(f"unknown GPU {name!r}; choose one of {', '.join(DEVICES)} (case and spaces do not matter)")
    return DEVICES[found]


def device_for_recorded(device_name: str) -> Device | None:
    """The DEVICES entry a recorded run's device name ('NVIDIA H200') stands for, when there is one."""
    words = set(re.findall(r"[a-z0-9]+", device_name.lower()))
    for name, device in DEVICES.items():
        if _normalised(re.sub(r"\s+SXM.*$", "", name)) in words or _normalised(name) in words:
            return device
    return None


def tensor_core_peak(device: Device, dtype: str, kind: str) -> float:
    """FLOP/s a tensor-core layer (dense, 1x1, fc, squeeze-excite) could reach at best on `device` in `dtype`.

    float32 convolutions may run as TF32 (PyTorch's default for cuDNN), at half the float16 tensor
    rate on GPUs with bfloat16 (Ampere and later); the fc layer's matrix product stays float32.
    """
    if dtype != "float32":
        return device.peak_tflops[dtype] * 1e12
    if kind != "fc" and "bfloat16" in device.peak_tflops:
        return device.peak_tflops["float16"] * 1e12 / 2
    return device.peak_tflops["float32"] * 1e12


def compute_rate(device: Device, dtype: str, kind: str, constants: Constants) -> float | None:
    """Attainable FLOP/s of a layer of `kind`: its efficiency times its peak; None for elementwise layers."""
    if kind == "elementwise":
        return None
    if kind == "depthwise":
        return constants.depthwise_efficiency * device.peak_tflops["float32"] * 1e12
    return constants.tensor_core_efficiency * tensor_core_peak(device, dtype, kind)


def memory_rate(device: Device, constants: Constants) -> float:
    """Attainable bytes per second: the memory efficiency times the datasheet bandwidth."""
    return constants.memory_efficiency * device.bandwidth_gb_s * 1e9


# ---------------------------------------------------------------------------------------------
# the network as eager PyTorch runs it
# ---------------------------------------------------------------------------------------------
def _eager_layer(layer: LayerTraffic, stage_kind: str, tf_padding: bool) -> Layer:
    """Kind, kernel count and eager's extra bytes of one traffic layer (effnet.blocks' module layout)."""
    name = layer.name
    step = name.rsplit(" ", 1)[-1]
    output = layer.output_bytes
    if name == "stem" or (step == "expand" and stage_kind == "fused_mbconv"):
        kind, kernels, extra = "dense conv", 3, 4 * output  # conv, batch norm, activation
    elif step in ("expand", "conv"):  # an MBConv expansion, the head's 1x1 convolution
        kind, kernels, extra = "1x1 conv", 3, 4 * output
    elif step == "depthwise":
        kind, kernels, extra = "depthwise", 3, 4 * output
    elif step == "project":
        kind, kernels, extra = "1x1 conv", 2, 2 * output  # conv, batch norm: a linear bottleneck
    elif step == "squeeze-excite":
        kind, kernels, extra = "squeeze-excite", 6, 0  # pool, conv, activation, conv, sigmoid, scale
    elif step in ("residual", "pool"):
        kind, kernels, extra = "elementwise", 1, 0
    elif step == "classifier":
        kind, kernels, extra = "fc", 1, 0
    else:  # a layer effnet.cost.traffic names that this table does not know: an internal error
        raise AssertionError(f"no eager layout for layer {name!r}")
    if tf_padding and kind in ("dense conv", "depthwise"):  # Conv2dSame pads with its own kernel (k > 1)
        kernels += 1
        extra += 2 * layer.input_bytes  # read the map, write it padded
    return Layer(name, kind, kernels, 2 * layer.macs, layer.memory_bytes, extra)


def eager_layers(config: ScalingConfig, batch: int = 1, dtype: str = "float32",
                 moved: Traffic | None = None) -> tuple[tuple[int, Layer], ...]:
    """(stage index, layer) for every layer of `config` as effnet.build's module runs in eager mode.
    `moved`: traffic(config, batch, dtype) when the caller has it already."""
    moved = moved or traffic(config, batch, dtype)
    tf_padding = config.is_lite  # effnet.build's default
    return tuple((stage.stage.index, _eager_layer(layer, stage.stage.kind, tf_padding))
                 for stage in moved.stages for layer in stage.layers)


def schedule(issue_s: np.ndarray, gpu_s: np.ndarray) -> np.ndarray:
    """Seconds the GPU sits idle before each layer, when layer i can start only after the CPU has
    issued it (cumulative `issue_s`) and the GPU has finished layer i - 1 (each taking `gpu_s`).

    finish_i = max(issued_i, finish_(i-1)) + gpu_i, so finish_i = G_i + max over j <= i of
    (issued_j - G_(j-1)) with G the running sum of GPU time: one cumulative maximum, no loop.
    """
    issued = np.cumsum(issue_s)
    gpu_total = np.cumsum(gpu_s)
    before = np.concatenate(([0.0], gpu_total[:-1]))
    finish = gpu_total + np.maximum.accumulate(issued - before)
    previous_finish = np.concatenate(([0.0], finish[:-1]))
    return np.maximum(0.0, issued - previous_finish)


@dataclass(frozen=True)
class LayerArrays:
    """The layers' work as arrays, computed once per network, batch, dtype and device, so that a
    fit can try many constants cheaply (effnet.cost.calibrate)."""

    flops: np.ndarray
    memory_bytes: np.ndarray
    kernels: np.ndarray
    peak: np.ndarray  # FLOP/s before efficiency: tensor-core (or TF32) peak, float32 CUDA cores, 0 for elementwise
    depthwise: np.ndarray  # True where the depthwise efficiency applies
    bandwidth: float  # bytes/s, datasheet


def layer_arrays(layers: tuple[Layer, ...], device: Device, dtype: str) -> LayerArrays:
    peaks = [0.0 if layer.kind == "elementwise" else device.peak_tflops["float32"] * 1e12 if layer.kind == "depthwise"
             else tensor_core_peak(device, dtype, layer.kind) for layer in layers]
    return LayerArrays(
        flops=np.array([layer.flops for layer in layers], dtype=float),
        memory_bytes=np.array([layer.memory_bytes for layer in layers], dtype=float),
        kernels=np.array([layer.kernels for layer in layers], dtype=float),
        peak=np.array(peaks),
        depthwise=np.array([layer.kind == "depthwise" for layer in layers]),
        bandwidth=device.bandwidth_gb_s * 1e9,
    )


def array_times(arrays: LayerArrays, constants: Constants, overlap: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute seconds, memory seconds, GPU idle seconds before) of each layer. Without `overlap`
    the idle time is the whole launch cost (the plain sum: launch x kernels + GPU time)."""
    efficiency = np.where(arrays.depthwise, constants.depthwise_efficiency, constants.tensor_core_efficiency)
    rate = efficiency * arrays.peak
    compute = np.divide(arrays.flops, rate, out=np.zeros_like(arrays.flops), where=rate > 0)
    memory = arrays.memory_bytes / (constants.memory_efficiency * arrays.bandwidth)
    issue = arrays.kernels * constants.launch_us * 1e-6
    wait = schedule(issue, np.maximum(compute, memory)) if overlap else issue
    return compute, memory, wait


# ---------------------------------------------------------------------------------------------
# calibration and prediction
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_calibration(path: str | Path = CALIBRATION_PATH) -> Calibration:
    """The fitted constants committed in effnet/cost/data/latency_calibration.json (or `path`)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        constants = document["constants"]
        return Calibration(
            Constants(float(constants["launch_us"]), float(constants["memory_efficiency"]),
                      float(constants["tensor_core_efficiency"]), float(constants["depthwise_efficiency"])),
            device=str(document["device"]),
            recorded_device_name=str(document["recorded_device_name"]),
            fitted_on=str(document["fitted_on"]),
        )
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"the latency calibration {path.name} is missing or malformed ({error}); "
                         "python benchmarks/calibrate_prediction.py writes it") from None


def predict(config: ScalingConfig, device: str | Device = "H200 SXM", batch: int = 1, dtype: str = "float32",
            calibration: Calibration | None = None) -> Prediction:
    """Predicted eager latency of one batch of `config` on `device` (a DEVICES name or alias, or a Device).

    Cached by value for the datasheet devices (the slider path asks for the same figures on every rerun).
    """
    gpu = device if isinstance(device, Device) else resolve_device(device)
    dtype_bytes(dtype)
    if dtype not in gpu.peak_tflops:
        raise ValueError(f"{gpu.name} has no {dtype} support; choose one of {', '.join(gpu.peak_tflops)}")
    calibration = calibration or load_calibration()
    if DEVICES.get(gpu.name) is gpu:
        return _predict_cached(config, gpu.name, batch, dtype, calibration)
    return _predict(config, gpu, batch, dtype, calibration)


@lru_cache(maxsize=512)
def _predict_cached(config: ScalingConfig, device_name: str, batch: int, dtype: str, calibration: Calibration) -> Prediction:
    return _predict(config, DEVICES[device_name], batch, dtype, calibration)


def _predict(config: ScalingConfig, gpu: Device, batch: int, dtype: str, calibration: Calibration) -> Prediction:
    staged = eager_layers(config, batch, dtype)
    layers = tuple(layer for _, layer in staged)
    compute, memory, wait = array_times(layer_arrays(layers, gpu, dtype), calibration.constants)
    return Prediction(config, gpu, batch, dtype, calibration, tuple(
        LayerPrediction(layer, stage, float(c), float(m), float(w))
        for (stage, layer), c, m, w in zip(staged, compute, memory, wait)
    ))
