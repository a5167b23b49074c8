"""The roofline: the fastest a kernel can run on a device, from its arithmetic intensity.

    attainable FLOP/s = min(peak FLOP/s, intensity x memory bandwidth)

(Williams, Waterman & Patterson, CACM 2009). A kernel left of the ridge point (peak / bandwidth) is
memory-bound: more FLOP/s would not help it, only fewer bytes. Depthwise convolutions sit far left
of any GPU's ridge; EfficientNetV2's Fused-MBConv moves its early stages to the right.

The datasheet roofs are `effnet.cost.devices.DEVICES` (`Device.ridge`, `Device.attainable`); this module
adds this machine's CPU roof, measured. Pure Python: `probe_cpu` imports torch when called.
"""

from __future__ import annotations

import time

from .devices import Device


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
