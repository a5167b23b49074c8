"""The same network timed in ONNX Runtime, beside PyTorch eager, on the CPU.

A classroom's laptops deploy on the CPU, where a runtime made for inference (graph optimisations, fused
batch norm and activations, its own thread pool) can be several times faster than eager PyTorch. To
compare like with like, `measure_onnxruntime_latency` follows `effnet.cost.latency.measure_latency`'s
recipe exactly: the same untrained network (weights do not change the time), batch, thread count,
warm-up, run count rule, time budget, median and 10th-90th percentile spread, under the same lock (so a
PyTorch and an ONNX Runtime measurement never overlap). The network is exported first
(`effnet.onnx_export`, seconds; not timed) and run by the CPU execution provider with `threads`
intra-op threads and one inter-op thread. float32 only: the export is float32.
"""

from __future__ import annotations

from ..onnx_export import ExportError, export_onnx
from ..profile import profile
from ..scaling import ScalingConfig
from .devices import cpu_name
from .latency import (
    _DEFAULTS,
    _MEASURE_LOCK,
    Latency,
    LatencyError,
    ProgressCallback,
    _check_count,
    _percentile,
    _time_runs,
)


def onnxruntime_session(data: bytes, threads: int):
    """An ONNX Runtime session on the CPU execution provider with `threads` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: its warnings would land in the CLI's output
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def measure_onnxruntime_latency(
    config: ScalingConfig,
    batch: int = 1,
    runs: int | None = None,
    warmup: int | None = None,
    time_budget_s: float | None = None,
    progress: ProgressCallback | None = None,
    threads: int | None = None,
    dtype: str = "float32",
    onnx_data: bytes | None = None,
) -> Latency:
    """Median and spread of ONNX Runtime forward passes of `config` on random images (see the module docstring).

    threads: intra-op threads; None means torch's current setting, the thread count a PyTorch
    measurement in this process would use. onnx_data: an export of `config` already made (a benchmark
    timing several batches exports once); None exports here. Other arguments as effnet.measure_latency's.
    """
    import numpy as np
    import torch

    if not isinstance(config, ScalingConfig):
        raise TypeError(f"measure_onnxruntime_latency() takes a ScalingConfig, got {type(config).__name__}")
    if dtype != "float32":
        raise LatencyError(f"ONNX Runtime is timed in float32 only (the exported file is float32), got {dtype!r}")
    _check_count("batch", batch, 1, 256)
    _check_count("runs", runs, 1, 100_000)
    _check_count("warmup", warmup, 0, 10_000)
    _check_count("threads", threads, 1, 1024)
    report = progress or (lambda fraction, message: None)
    defaults = _DEFAULTS["cpu"]
    warmup = defaults["warmup"] if warmup is None else warmup
    if time_budget_s is None and runs is None:
        time_budget_s = defaults["budget_s"]
    used_threads = threads or torch.get_num_threads()

    export_s = None
    if onnx_data is None:
        report(0.0, "exporting the network to ONNX (not timed)")
        try:
            exported = export_onnx(config, weights="untrained", seed=0)
        except ExportError as error:
            raise LatencyError(str(error)) from None
        onnx_data, export_s = exported.data, exported.export_s
    session = onnxruntime_session(onnx_data, used_threads)
    name = session.get_inputs()[0].name
    images = np.random.default_rng(0).standard_normal((batch, 3, config.resolution, config.resolution)).astype(np.float32)

    def forward(array: np.ndarray):
        return session.run(None, {name: array})

    waited = False
    while not _MEASURE_LOCK.acquire(timeout=0.5):
        if not waited:
            report(0.0, "waiting for another latency measurement to finish")
            waited = True
    try:
        times_ms, stopped_early = _time_runs(forward, images, "cpu", warmup, runs, time_budget_s, defaults, report)
    finally:
        _MEASURE_LOCK.release()
    ordered = sorted(times_ms)
    median = _percentile(ordered, 0.5)
    return Latency(
        device="cpu", device_name=cpu_name(), batch=batch, dtype="float32", resolution=config.resolution,
        threads=used_threads, channels_last=False, runs=len(times_ms), median_ms=median,
        spread_ms=(_percentile(ordered, 0.1), _percentile(ordered, 0.9)),
        images_per_second=batch * 1000.0 / median,
        achieved_tflops=2.0 * profile(config).macs * batch / (median / 1000.0) / 1e12,
        peak_tflops=None, stopped_early=stopped_early, mode="onnxruntime", runtime="onnxruntime",
        export_s=export_s,
    )

