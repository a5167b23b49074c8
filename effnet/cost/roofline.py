"""The roofline: the fastest a kernel can run on a device, from its arithmetic intensity.

    attainable FLOP/s = min(peak FLOP/s, intensity x memory bandwidth)

(Williams, Waterman & Patterson, CACM 2009). A kernel left of the ridge point (peak / bandwidth) is
memory-bound: more FLOP/s would not help it, only fewer bytes. Depthwise convolutions sit far left
of any GPU's ridge; EfficientNetV2's Fused-MBConv moves its early stages to the right.

Pure Python (the app draws it on the slider path); `probe_cpu` imports torch when called.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    name: str
    peak_tflops: dict[str, float]  # dense (no sparsity) peak per dtype, 10^12 FLOP/s
    bandwidth_gb_s: float  # memory bandwidth, 10^9 bytes/s
    source: str

    def ridge(self, dtype: str) -> float:
        """The intensity (FLOP/byte) where the roof turns flat: peak / bandwidth."""
        return self.peak_tflops[dtype] * 1e12 / (self.bandwidth_gb_s * 1e9)

    def attainable(self, intensity: float, dtype: str) -> float:
        """FLOP/s the roof allows at `intensity` FLOP/byte."""
        return min(self.peak_tflops[dtype] * 1e12, intensity * self.bandwidth_gb_s * 1e9)


def _gpu(name: str, fp32: float, fp16: float, bf16: float | None, bandwidth: float, source: str) -> Device:
    peaks = {"float32": fp32, "float16": fp16}
    if bf16 is not None:
        peaks["bfloat16"] = bf16
    return Device(name, peaks, bandwidth, source)


# Datasheet peaks: float32 on CUDA cores (not TF32), float16/bfloat16 on tensor cores, dense. The
# H100/H200/A100/L4/T4 compute figures are effnet.cost.latency's table (tests/effnet/cost/test_roofline.py checks
# they agree). H100 and H200 were re-checked against their datasheets; the others
# are typed from the documents named and were not re-read in this session.
DEVICES: dict[str, Device] = {
    "H100 SXM": _gpu("H100 SXM", 67.0, 989.4, 989.4, 3350, "NVIDIA H100 Tensor Core GPU datasheet (SXM): 3.35 TB/s HBM3"),
    "H200 SXM": _gpu("H200 SXM", 67.0, 989.4, 989.4, 4800, "NVIDIA H200 Tensor Core GPU datasheet (SXM): 4.8 TB/s HBM3e"),
    "A100 SXM 80GB": _gpu("A100 SXM 80GB", 19.5, 312.0, 312.0, 2039, "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM): 2,039 GB/s HBM2e"),
    "L4": _gpu("L4", 30.3, 121.0, 121.0, 300, "NVIDIA L4 Tensor Core GPU datasheet: 300 GB/s GDDR6"),
    "T4": _gpu("T4", 8.1, 65.0, None, 320, "NVIDIA T4 Tensor Core GPU datasheet: 320 GB/s GDDR6 (no bfloat16)"),
    "RTX 4090": _gpu("RTX 4090", 82.6, 165.2, 165.2, 1008,
                     "NVIDIA Ada Lovelace GPU architecture whitepaper (GeForce RTX 4090; FP16 tensor with FP32 "
                     "accumulate): 1,008 GB/s GDDR6X"),
}


def probe_cpu(seconds: float = 0.6) -> Device:
    """This machine's CPU roof, measured: float32 matrix products for the peak, a large copy for bandwidth.

    A short probe, not a benchmark: on a shared or busy machine both figures come out low. The CPU has
    no fast float16 convolutions, so only float32 is given (and bfloat16 as measured by the same probe).
    """
    import torch

    threads = torch.get_num_threads()
    size = 1024
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best_flops, deadline = 0.0, time.perf_counter() + seconds / 2
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b)
        best_flops = max(best_flops, 2 * size**3 / (time.perf_counter() - start))
    source_tensor = torch.empty(32 * 2**20 // 4)  # 32 MiB: larger than the caches of a small server
    target = torch.empty_like(source_tensor)
    target.copy_(source_tensor)
    best_bandwidth, deadline = 0.0, time.perf_counter() + seconds / 2
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        target.copy_(source_tensor)
        best_bandwidth = max(best_bandwidth, 2 * source_tensor.numel() * 4 / (time.perf_counter() - start))
    return Device(
        f"this CPU ({threads} threads, probed)",
        {"float32": best_flops / 1e12},
        best_bandwidth / 1e9,
        f"measured here: best of float32 {size}x{size} matrix products and 32 MiB copies over {seconds:g} s",
    )
