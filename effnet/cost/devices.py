"""The facts about devices that the cost path shares, written once: GPU datasheet figures, latency modes, the CPU's name.

- `GPUS`: each GPU's dense peak TFLOP/s per precision, its memory bandwidth when the roofline uses it,
  the datasheet it comes from, and the pattern that finds it in `torch.cuda.get_device_name()`.
  A measurement compares itself with a peak (`peak_tflops`), the roofline and the latency prediction
  draw against `DEVICES` (the GPUs whose bandwidth is known), all from these rows.
- `MODES`: how a forward pass may be executed, with the label every result and every page shows;
  `GPU_ONLY_MODES` need a GPU.
- `cpu_name`: the CPU's model name, read from /proc/cpuinfo.

Pure Python, no torch: the app's slider path and the recorded-run reader import it without paying
the seconds torch's import costs.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    """A device's roof: dense peak FLOP/s per dtype and memory bandwidth, with where the figures come from."""

    name: str
    peak_tflops: dict[str, float]  # dense (no sparsity) peak per dtype, 10^12 FLOP/s; float32 on CUDA cores
    bandwidth_gb_s: float | None  # memory bandwidth, 10^9 bytes/s; None where no roofline uses it
    source: str
    pattern: str = ""  # a regular expression that finds this GPU in torch.cuda.get_device_name()
    tf32_tflops: float | None = None  # TF32 tensor cores, which cuDNN may use for float32 convolutions

    def ridge(self, dtype: str) -> float:
        """The intensity (FLOP/byte) where the roof turns flat: peak / bandwidth."""
        return self.peak_tflops[dtype] * 1e12 / (self.bandwidth_gb_s * 1e9)

    def attainable(self, intensity: float, dtype: str) -> float:
        """FLOP/s the roof allows at `intensity` FLOP/byte."""
        return min(self.peak_tflops[dtype] * 1e12, intensity * self.bandwidth_gb_s * 1e9)


def _gpu(name: str, pattern: str, fp32: float, tf32: float | None, fp16: float, bf16: float | None,
         bandwidth: float | None, source: str) -> Device:
    peaks = {"float32": fp32, "float16": fp16}
    if bf16 is not None:
        peaks["bfloat16"] = bf16
    return Device(name, peaks, bandwidth, source, pattern, tf32)


# Dense (no structured sparsity) peaks in TFLOP/s from NVIDIA's datasheets: float32 on CUDA cores,
# TF32 tensor cores (None: the chip has none), float16 and bfloat16 on tensor cores (None: no
# bfloat16). The patterns exclude one another (an H100 SXM's name is neither PCIe nor NVL), so a
# device name finds at most one row. The first six rows are the roofline's datasheet GPUs, in the
# order the pages offer them; H100 and H200 were re-checked against their datasheets, the others
# are typed from the documents named.
GPUS: tuple[Device, ...] = (
    _gpu("H100 SXM", r"\bH100\b(?!.*\b(?:PCIe|NVL)\b)", 67.0, 494.7, 989.4, 989.4, 3350,
         "NVIDIA H100 Tensor Core GPU datasheet (SXM): 3.35 TB/s HBM3"),  # "NVIDIA H100 80GB HBM3"
    _gpu("H200 SXM", r"\bH200\b(?!.*\bNVL\b)", 67.0, 494.7, 989.4, 989.4, 4800,
         "NVIDIA H200 Tensor Core GPU datasheet (SXM): 4.8 TB/s HBM3e"),
    _gpu("A100 SXM 80GB", r"\bA100\b", 19.5, 156.0, 312.0, 312.0, 2039,
         "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM): 2,039 GB/s HBM2e"),
    _gpu("L4", r"\bL4\b", 30.3, 60.0, 121.0, 121.0, 300, "NVIDIA L4 Tensor Core GPU datasheet: 300 GB/s GDDR6"),
    _gpu("T4", r"\bT4\b", 8.1, None, 65.0, None, 320,
         "NVIDIA T4 Tensor Core GPU datasheet: 320 GB/s GDDR6 (no bfloat16)"),
    _gpu("RTX 4090", r"\bRTX 4090\b", 82.6, None, 165.2, 165.2, 1008,
         "NVIDIA Ada Lovelace GPU architecture whitepaper (GeForce RTX 4090; FP16 tensor with FP32 accumulate): "
         "1,008 GB/s GDDR6X"),
    _gpu("H200 NVL", r"\bH200\b.*\bNVL\b", 60.0, 417.5, 835.5, 835.5, None, "NVIDIA H200 Tensor Core GPU datasheet (NVL)"),
    _gpu("H100 PCIe", r"\bH100\b.*\bPCIe\b", 51.0, 378.0, 756.0, 756.0, None,
         "NVIDIA H100 Tensor Core GPU datasheet (PCIe)"),
    _gpu("H100 NVL", r"\bH100\b.*\bNVL\b", 60.0, 417.5, 835.5, 835.5, None, "NVIDIA H100 Tensor Core GPU datasheet (NVL)"),
    _gpu("L40S", r"\bL40S\b", 91.6, 183.0, 362.0, 362.0, None, "NVIDIA L40S GPU datasheet"),
    _gpu("A10", r"\bA10\b", 31.2, 62.5, 125.0, 125.0, None, "NVIDIA A10 Tensor Core GPU datasheet"),
    _gpu("V100", r"\bV100\b", 15.7, None, 125.0, None, None, "NVIDIA V100 Tensor Core GPU datasheet (SXM2)"),
)

# The GPUs a roofline can be drawn for (bandwidth known), by name, in the order the pages offer them.
DEVICES: dict[str, Device] = {gpu.name: gpu for gpu in GPUS if gpu.bandwidth_gb_s is not None}


def gpu_by_device_name(device_name: str) -> Device | None:
    """The row whose pattern finds `device_name` (as torch.cuda.get_device_name() gives it), or None."""
    for gpu in GPUS:
        if re.search(gpu.pattern, device_name, flags=re.IGNORECASE):
            return gpu
    return None


def peak_tflops(device_name: str, dtype: str, tf32: bool = True) -> float | None:
    """A GPU's dense peak TFLOP/s for `dtype` by its name, or None when the chip is not in the table.

    With `tf32` (cuDNN's default, `torch.backends.cudnn.allow_tf32`) float32 convolutions may run on
    TF32 tensor cores, so their peak is TF32's; otherwise it is the CUDA cores' float32 peak.
    """
    gpu = gpu_by_device_name(device_name)
    if gpu is None:
        return None
    if dtype == "float32" and tf32 and gpu.tf32_tflops is not None:
        return gpu.tf32_tflops
    return gpu.peak_tflops.get(dtype)


MODES: dict[str, str] = {  # name -> the label every result and every page carries
    "eager": "eager",
    "channels_last": "eager, channels_last",
    "compile": "torch.compile",
    "cuda_graphs": "CUDA graphs",
}
GPU_ONLY_MODES = ("cuda_graphs",)


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("model name", "hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
