"""Honest latency: how long one forward pass of a batch takes, on a named device, in a named dtype.

A latency figure means nothing without its conditions, so every `Latency` carries the device and its
name, batch, dtype, input resolution, thread count and memory format, next to the median and spread
of the timed runs. The recipe is the usual one (as nanoGPT's and torch.utils.benchmark's):

- time a private copy of the network in eval mode under `torch.inference_mode()`: the shared model
  is never moved, cast, reformatted or switched to eval, and hooks that other users (Grad-CAM) put
  on it do not fire during our runs;
- warm up first (the first passes pay for memory allocation, oneDNN primitive creation and, on
  CUDA, cuDNN's algorithm search under `cudnn.benchmark`);
- CPU: time each run with `time.perf_counter`; CUDA: with CUDA events around each run, waiting for
  the end event, so each figure is one batch's latency with nothing queued behind it;
- report the median (robust to a noisy neighbour on a shared machine) and the 10th-90th percentile
  spread, images/s = batch / median, and achieved TFLOP/s = 2 x MACs x batch / median, where MACs
  are `effnet.profile(config).macs` (the paper's "FLOPs"), against the GPU's peak when it is known.

Half precision means weights and activations in that dtype (`model.to(dtype)`), as a deployed
network runs, not autocast. float16 is refused on the CPU (a ValueError): CPUs have no fast float16
convolutions, so a figure would be misleading; bfloat16 is accepted there.

Execution modes, each named in the result:
- `eager`: the module run op by op, as written (the default);
- `channels_last`: eager with weights and images in NHWC memory format, which oneDNN and cuDNN
  convolutions prefer;
- `compile`: `torch.compile(model)` (TorchInductor; on the CPU it needs a C++ compiler). The first
  pass compiles: it is timed apart as `compile_s` and never counts against the time budget;
- `cuda_graphs`: the whole forward pass captured once as a CUDA graph and replayed, so the CPU's
  kernel launches (about 5 ms for B0 at batch 1) leave the timed path. GPU only: elsewhere a
  LatencyError says so.

Measurements in one process are serialised by a lock, so two users do not time each other's work.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from ..blocks import Conv2dSame
from ..model import EfficientNet, build
from ..profile import MAX_BUILD_BYTES, profile
from ..scaling import ScalingConfig
from .devices import GPU_ONLY_MODES, MODES, cpu_name, peak_tflops
from .summary import latency_sentence

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
DEVICES = ("auto", "cpu", "cuda")
MAX_BATCH = 256

# Defaults when `runs` is not given: warm-up passes, how long to spend on timed runs (runs are
# chosen from the last warm-up's time, within MIN..MAX), and a budget for the whole measurement so
# that B7 on a 2-core CPU stays bounded. B0 at batch 1 gets MAX runs on either device.
_DEFAULTS = {
    "cpu": {"warmup": 2, "target_s": 3.0, "budget_s": 30.0, "min_runs": 5, "max_runs": 100},
    "cuda": {"warmup": 10, "target_s": 2.0, "budget_s": 15.0, "min_runs": 10, "max_runs": 200},
}

_MEASURE_LOCK = threading.Lock()

ProgressCallback = Callable[[float, str], None]


class LatencyError(ValueError):
    """A latency request this machine cannot honour; the message says what is accepted."""


@dataclass(frozen=True)
class Latency:
    """One latency measurement and the conditions it was taken under."""

    device: str  # "cpu" or "cuda"
    device_name: str  # the CPU's model name, or torch.cuda.get_device_name()
    batch: int
    dtype: str  # "float32", "float16" or "bfloat16" (weights and activations)
    resolution: int  # input side in pixels
    threads: int | None  # torch intra-op threads on the CPU; None on CUDA
    channels_last: bool
    runs: int  # timed runs actually done (warm-up not included)
    median_ms: float  # per batch
    spread_ms: tuple[float, float]  # (10th, 90th) percentile per batch, linear interpolation
    images_per_second: float  # batch * 1000 / median_ms
    achieved_tflops: float  # 2 * MACs * batch / median time, in 10^12 FLOP/s
    peak_tflops: float | None  # the GPU's dense peak for this dtype when known (float32: TF32 if cuDNN may use it)
    stopped_early: bool  # the time budget ended the measurement before the planned runs
    mode: str = "eager"  # one of MODES: how the forward pass was executed
    compile_s: float | None = None  # mode 'compile': seconds the first (compiling) pass took
    runtime: str = "pytorch"  # "pytorch", or "onnxruntime" (effnet.cost.runtime_latency: the exported network)
    export_s: float | None = None  # runtime 'onnxruntime': seconds the ONNX export took (not timed)

    @property
    def mode_label(self) -> str:
        """'eager', 'torch.compile', 'CUDA graphs', ... plus ', channels_last' when that was on too;
        'ONNX Runtime (CPU)' for a network timed in ONNX Runtime."""
        if self.runtime == "onnxruntime":
            return "ONNX Runtime (CPU)"
        label = MODES.get(self.mode, self.mode)
        return label + (", channels_last" if self.channels_last and "channels_last" not in label else "")

    @property
    def percent_of_peak(self) -> float | None:
        """achieved / peak in percent, or None when the peak is unknown (always on CPU)."""
        if not self.peak_tflops:
            return None
        return 100.0 * self.achieved_tflops / self.peak_tflops

    def as_dict(self) -> dict:
        """Plain values for JSON (spread_ms as a two-item list), plus percent_of_peak."""
        row = asdict(self)
        row["spread_ms"] = list(self.spread_ms)
        row["percent_of_peak"] = self.percent_of_peak
        row["mode_label"] = self.mode_label
        return row

    def summary(self) -> str:
        """One line with units, e.g. 'the CPU (AMD EPYC, 2 threads), eager, batch 1, float32, 224x224: median 21.3 ms ...'
        (`effnet.cost.summary.latency_sentence`, the words the app shows too)."""
        return latency_sentence(self)


def cuda_available() -> bool:
    """True when torch sees a usable CUDA GPU."""
    try:
        return bool(torch.cuda.is_available()) and torch.cuda.device_count() > 0
    except Exception:  # a broken driver install: behave as if there were no GPU
        return False


def device_description(device: str = "auto") -> str:
    """Where a measurement with this `device` argument would run, e.g. 'cpu: AMD EPYC, 2 threads'."""
    resolved = _resolve_device(device)
    if resolved == "cuda":
        return f"cuda: {torch.cuda.get_device_name()}"
    threads = torch.get_num_threads()
    return f"cpu: {cpu_name()}, {threads} thread{'s' if threads != 1 else ''}"


def _resolve_device(device: str) -> str:
    if not isinstance(device, str) or device.strip().lower() not in DEVICES:
        raise LatencyError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    device = device.strip().lower()
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise LatencyError("device 'cuda' was requested but no GPU was found; the CPU is available (device='cpu')")
    return device


def _resolve_dtype(dtype: str, device: str) -> str:
    name = str(dtype).strip().lower().replace("torch.", "")
    name = _DTYPE_ALIASES.get(name, name)
    if name not in DTYPES:
        raise LatencyError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if name == "float16" and device == "cpu":
        raise LatencyError("float16 is timed on a GPU only (CPUs have no fast float16 convolutions); on the CPU use float32 or bfloat16")
    if name == "bfloat16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise LatencyError(f"{torch.cuda.get_device_name()} has no bfloat16 support; use float16 or float32")
    return name


def _resolve_mode(mode: str, device: str) -> str:
    name = str(mode).strip().lower().replace("-", "_").replace(" ", "_").replace("torch.compile", "compile")
    name = {"cudagraphs": "cuda_graphs", "cuda_graph": "cuda_graphs", "channelslast": "channels_last"}.get(name, name)
    if name not in MODES:
        raise LatencyError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if name in GPU_ONLY_MODES and device != "cuda":
        available = ", ".join(m for m in MODES if m not in GPU_ONLY_MODES)
        raise LatencyError(f"mode {name!r} (CUDA graphs) needs a GPU and this measurement runs on the CPU; "
                           f"on the CPU use one of {available}")
    return name


def _check_count(name: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LatencyError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _private_copy(model: EfficientNet, device: str, dtype: torch.dtype, channels_last: bool) -> EfficientNet:
    """A copy to time: its own modules (no hooks, eval mode), weights cast/moved as asked.

    Built on the meta device (no initialisation cost) and given the shared model's tensors; where no
    cast, move or reformat is needed it shares their storage, which inference never writes.
    """
    tf_padding = any(isinstance(module, Conv2dSame) for module in model.modules())
    state = model.state_dict()  # detached tensors
    try:
        with torch.device("meta"):
            private = EfficientNet(model.config, tf_padding=tf_padding)
        private.load_state_dict(state, assign=True)
    except (RuntimeError, KeyError):  # a modified architecture: fall back to a full copy
        import copy

        private = copy.deepcopy(model)
        for module in private.modules():
            module._forward_hooks.clear()
            module._forward_pre_hooks.clear()
            module._backward_hooks.clear()
    private = private.to(device=device, dtype=dtype)
    if channels_last:
        private = private.to(memory_format=torch.channels_last)
    return private.eval()


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between order statistics (numpy.percentile's default)."""
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def measure_latency(
    model_or_config: nn.Module | ScalingConfig,
    batch: int = 1,
    device: str = "auto",
    dtype: str = "float32",
    runs: int | None = None,
    warmup: int | None = None,
    channels_last: bool = False,
    time_budget_s: float | None = None,
    progress: ProgressCallback | None = None,
    threads: int | None = None,
    mode: str = "eager",
) -> Latency:
    """Time forward passes of a batch of random images and report median, spread and throughput.

    model_or_config: an `effnet.EfficientNet` (never modified: a private copy is timed) or a
    `ScalingConfig` (built untrained: timing does not depend on the weights' values).
    runs: timed runs; None chooses them from the warm-up time (CPU about 3 s of runs, 5 to 100;
    CUDA about 2 s, 10 to 200). warmup: None means 2 on the CPU and 10 on CUDA.
    time_budget_s: bounds the whole measurement (warm-up included); None means 30 s on the CPU and
    15 s on CUDA when `runs` is None, and no bound when `runs` is given. At least one warm-up and
    one timed run always happen (so a budget shorter than two passes is overrun: the first pass is
    never timed, being slower); `stopped_early` says the budget cut the planned runs short.
    progress(fraction, message): called during warm-up and runs, ending with fraction 1.0.
    threads: CPU threads for this measurement (restored afterwards); None keeps torch's setting.
    The setting is process-wide, so a server shared by several users should leave it None.
    mode: one of MODES ('eager', 'channels_last', 'compile', 'cuda_graphs'; see the module docstring).
    'channels_last' is the same as channels_last=True; 'cuda_graphs' raises LatencyError without a GPU.
    """
    _check_count("batch", batch, 1, MAX_BATCH)
    _check_count("runs", runs, 1, 100_000)
    _check_count("warmup", warmup, 0, 10_000)
    _check_count("threads", threads, 1, 1024)
    if time_budget_s is not None and (
        isinstance(time_budget_s, bool) or not isinstance(time_budget_s, (int, float)) or not time_budget_s >= 0
    ):
        raise LatencyError(f"time_budget_s must be a number of seconds >= 0, got {time_budget_s!r}")
    resolved = _resolve_device(device)
    dtype_name = _resolve_dtype(dtype, resolved)
    mode = _resolve_mode(mode, resolved)
    channels_last = bool(channels_last) or mode == "channels_last"
    if isinstance(model_or_config, ScalingConfig):
        config, shared = model_or_config, None
    elif isinstance(model_or_config, EfficientNet):
        config, shared = model_or_config.config, model_or_config
    else:
        raise TypeError(f"measure_latency() takes an effnet EfficientNet or a ScalingConfig, got {type(model_or_config).__name__}")
    cost = profile(config)
    element_size = torch.finfo(DTYPES[dtype_name]).bits // 8
    if resolved == "cpu" and cost.activation_bytes * batch * element_size // 4 > MAX_BUILD_BYTES:
        raise LatencyError(
            f"batch {batch} of {config.label} needs about {cost.activation_bytes * batch / 2**30:.1f} GiB of activations; "
            f"this server allows {MAX_BUILD_BYTES / 2**30:.1f} GiB on the CPU: lower the batch"
        )

    report = progress or (lambda fraction, message: None)
    defaults = _DEFAULTS[resolved]
    warmup = defaults["warmup"] if warmup is None else warmup
    if time_budget_s is None and runs is None:
        time_budget_s = defaults["budget_s"]

    waited = False
    while not _MEASURE_LOCK.acquire(timeout=0.5):
        if not waited:
            report(0.0, "waiting for another latency measurement to finish")
            waited = True
    saved_threads = torch.get_num_threads()
    saved_benchmark = torch.backends.cudnn.benchmark
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        if resolved == "cuda":
            torch.backends.cudnn.benchmark = True
        report(0.0, "preparing the network")
        source = shared if shared is not None else build(config)
        private = _private_copy(source, resolved, DTYPES[dtype_name], channels_last)
        images = torch.randn(batch, 3, config.resolution, config.resolution, device=resolved, dtype=DTYPES[dtype_name])
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        forward, compile_s = _prepare_mode(private, images, mode, report)
        times_ms, stopped_early = _time_runs(forward, images, resolved, warmup, runs, time_budget_s, defaults, report)
        used_threads = torch.get_num_threads() if resolved == "cpu" else None
        device_name = torch.cuda.get_device_name() if resolved == "cuda" else cpu_name()
        tf32 = bool(torch.backends.cudnn.allow_tf32)
    except torch.cuda.OutOfMemoryError as error:
        raise LatencyError(f"batch {batch} of {config.label} does not fit in GPU memory; lower the batch") from error
    finally:
        if threads is not None:
            torch.set_num_threads(saved_threads)
        torch.backends.cudnn.benchmark = saved_benchmark
        if resolved == "cuda":
            private = images = forward = None
            torch.cuda.empty_cache()
        _MEASURE_LOCK.release()

    ordered = sorted(times_ms)
    median = _percentile(ordered, 0.5)
    return Latency(
        device=resolved,
        device_name=device_name,
        batch=batch,
        dtype=dtype_name,
        resolution=config.resolution,
        threads=used_threads,
        channels_last=bool(channels_last),
        runs=len(times_ms),
        median_ms=median,
        spread_ms=(_percentile(ordered, 0.1), _percentile(ordered, 0.9)),
        images_per_second=batch * 1000.0 / median,
        achieved_tflops=2.0 * cost.macs * batch / (median / 1000.0) / 1e12,
        peak_tflops=peak_tflops(device_name, dtype_name, tf32) if resolved == "cuda" else None,
        stopped_early=stopped_early,
        mode=mode,
        compile_s=compile_s,
    )


def _prepare_mode(model: nn.Module, images: torch.Tensor, mode: str, report: ProgressCallback):
    """(a callable that runs one forward pass of `images` in `mode`, seconds spent compiling or None).

    compile: the first pass compiles (minutes for a big network on a small CPU) and is not timed.
    cuda_graphs: warm-up on a side stream (cuDNN picks its algorithms there), one capture, then each
    call replays the graph on the same input and output buffers.
    """
    if mode in ("eager", "channels_last"):
        return model, None
    if mode == "compile":
        compiled = torch.compile(model)
        report(0.0, "compiling with torch.compile (the first pass; not timed)")
        started = time.perf_counter()
        with torch.inference_mode():
            compiled(images)
            if images.is_cuda:
                torch.cuda.synchronize()
        return compiled, time.perf_counter() - started
    # cuda_graphs
    report(0.0, "capturing the forward pass as a CUDA graph")
    with torch.inference_mode():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                model(images)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            output = model(images)

    def replay(_images: torch.Tensor) -> torch.Tensor:
        graph.replay()  # reads the captured input buffer, which holds `images`
        return output

    return replay, None


def _time_runs(
    model: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    device: str,
    warmup: int,
    runs: int | None,
    budget_s: float | None,
    defaults: dict,
    report: ProgressCallback,
) -> tuple[list[float], bool]:
    """Warm up, then time runs one by one; returns (milliseconds per run, stopped by the budget)."""
    started = time.perf_counter()

    def over_budget() -> bool:
        return budget_s is not None and time.perf_counter() - started >= budget_s

    def one_run() -> float:
        if device == "cuda":
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            model(images)
            end.record()
            end.synchronize()
            return begin.elapsed_time(end)
        begin = time.perf_counter()
        model(images)
        return (time.perf_counter() - begin) * 1000.0

    # Until the run count is known, warm-up is shown as the first 20% of the bar.
    warmup_share = 0.2 if runs is None else max(warmup, 1) / (max(warmup, 1) + runs)
    with torch.inference_mode():
        if device == "cuda":
            torch.cuda.synchronize()
        last_ms = 0.0
        warmup_done = 0
        for index in range(max(warmup, 1)):
            # Leave at least half the budget for the timed runs.
            if index > 0 and budget_s is not None and time.perf_counter() - started >= budget_s / 2:
                break
            last_ms = one_run()
            warmup_done += 1
            report(warmup_share * (index + 1) / max(warmup, 1), f"warm-up {index + 1}/{max(warmup, 1)}")
        planned = runs
        if planned is None:
            estimate = max(last_ms / 1000.0, 1e-6)
            planned = int(min(defaults["max_runs"], max(defaults["min_runs"], round(defaults["target_s"] / estimate))))
        times_ms: list[float] = []
        stopped_early = False
        for index in range(planned):
            if index > 0 and over_budget():
                stopped_early = True
                break
            times_ms.append(one_run())
            report(warmup_share + (1 - warmup_share) * (index + 1) / planned, f"run {index + 1}/{planned}")
    report(1.0, "stopped at the time budget" if stopped_early else "done")
    return times_ms, stopped_early
