"""effnet.measure_latency: labelled figures, progress, time budget, the shared model left alone.

Tiny networks (resolution 64) keep these quick. No timed assertions: speed is reported by
benchmarks/latency.py. FLOP references come from torch's own FlopCounterMode, run on the module.
CUDA tests skip without a GPU and run on the GPU machine (benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import effnet
from effnet.cost.devices import peak_tflops
from effnet.cost.latency import Latency, cuda_available, device_description, measure_latency

TINY = effnet.ScalingConfig(depth=0.5, width=0.5, resolution=64)
TINY_LITE = effnet.ScalingConfig(depth=0.5, width=0.5, resolution=64, variant="lite")
needs_gpu = pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU on this machine (runs on the GPU machine)")


def reference_flops(config: effnet.ScalingConfig, batch: int) -> int:
    """FLOPs of one forward pass counted by torch's FlopCounterMode (2 per multiply-add)."""
    model = effnet.build(config)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(batch, 3, config.resolution, config.resolution))
    return counter.get_total_flops()


def snapshot(model: torch.nn.Module) -> dict:
    return {
        "state": {name: tensor.detach().clone() for name, tensor in model.state_dict().items()},
        "dtypes": {name: p.dtype for name, p in model.named_parameters()},
        "devices": {name: p.device for name, p in model.named_parameters()},
        "contiguous": {name: p.is_contiguous() for name, p in model.named_parameters()},
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "data_ptrs": [p.data_ptr() for p in model.parameters()],
    }


def assert_unchanged(model: torch.nn.Module, before: dict) -> None:
    after = snapshot(model)
    for key in ("dtypes", "devices", "contiguous", "training", "requires_grad", "data_ptrs"):
        assert after[key] == before[key], key
    for name, tensor in before["state"].items():
        assert torch.equal(after["state"][name], tensor), name


@pytest.mark.parametrize("config", [TINY, TINY_LITE], ids=["b", "lite"])
def test_cpu_figures_are_labelled_and_consistent(config: effnet.ScalingConfig) -> None:
    batch = 2
    result = measure_latency(config, batch=batch, device="cpu", runs=6, warmup=1)
    assert isinstance(result, Latency)
    assert result.device == "cpu" and result.device_name
    assert result.batch == batch and result.dtype == "float32" and result.resolution == 64
    assert result.threads is not None and result.threads >= 1 and not result.channels_last
    assert result.runs == 6 and not result.stopped_early
    low, high = result.spread_ms
    assert 0 < low <= result.median_ms <= high
    assert math.isclose(result.images_per_second, batch * 1000 / result.median_ms, rel_tol=1e-9)
    # Achieved FLOP/s against an independent count of the network's FLOPs.
    expected = reference_flops(config, batch) / (result.median_ms / 1000) / 1e12
    assert math.isclose(result.achieved_tflops, expected, rel_tol=1e-9)
    assert result.peak_tflops is None and result.percent_of_peak is None


def test_summary_and_dict_name_the_conditions() -> None:
    result = measure_latency(TINY, batch=3, device="cpu", runs=3, warmup=1, channels_last=True)
    line = result.summary()
    assert "\n" not in line
    for part in ("the CPU (", result.device_name, "batch 3", "float32", "64x64", "thread", "ms", "images/s", "channels_last"):
        assert part in line, part
    row = result.as_dict()
    assert row["device"] == "cpu" and row["batch"] == 3 and row["channels_last"] is True
    assert row["spread_ms"] == list(result.spread_ms) and row["runs"] == 3
    import json

    assert json.loads(json.dumps(row))["median_ms"] == result.median_ms


def test_default_runs_are_chosen_within_bounds() -> None:
    result = measure_latency(TINY, device="cpu")
    assert result.stopped_early or 5 <= result.runs <= 100


def test_progress_reports_fractions_ending_at_one() -> None:
    calls: list[tuple[float, str]] = []
    measure_latency(TINY, device="cpu", runs=4, warmup=2, progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert len(calls) >= 2 + 4
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)
    assert any("warm-up" in m for _, m in calls) and any("run" in m for _, m in calls)


def test_time_budget_stops_early_after_one_run() -> None:
    calls: list[float] = []
    result = measure_latency(TINY, device="cpu", runs=50, warmup=5, time_budget_s=0, progress=lambda f, m: calls.append(f))
    assert result.stopped_early
    assert result.runs == 1  # one timed run always happens, however small the budget
    assert calls[-1] == 1.0


@pytest.mark.parametrize(
    "options",
    [dict(), dict(channels_last=True), dict(dtype="bfloat16"), dict(dtype="bfloat16", channels_last=True, threads=1)],
    ids=["float32", "channels_last", "bfloat16", "bfloat16-channels_last-1thread"],
)
def test_shared_model_is_not_modified(options: dict) -> None:
    model = effnet.build(TINY).train()  # training mode: a forward pass here would move BN statistics
    before = snapshot(model)
    hook_calls: list[int] = []
    handle = model.register_forward_hook(lambda module, inputs, output: hook_calls.append(1))
    threads_before = torch.get_num_threads()
    try:
        result = measure_latency(model, device="cpu", runs=3, warmup=1, **options)
    finally:
        handle.remove()
    assert hook_calls == []  # another user's hooks on the shared model never see our runs
    assert_unchanged(model, before)
    assert torch.get_num_threads() == threads_before
    assert result.dtype == options.get("dtype", "float32")
    assert result.channels_last == options.get("channels_last", False)
    if "threads" in options:
        assert result.threads == options["threads"]


def test_model_built_with_same_padding_is_timed_as_built() -> None:
    model = effnet.build(TINY, tf_padding=True)
    before = snapshot(model)
    result = measure_latency(model, device="cpu", runs=2, warmup=1)
    assert result.runs == 2
    assert_unchanged(model, before)


@pytest.mark.parametrize(
    "options, fragment",
    [
        (dict(batch=0), "batch"),
        (dict(batch=257), "batch"),
        (dict(batch=1.5), "batch"),
        (dict(batch=True), "batch"),
        (dict(dtype="float64"), "dtype"),
        (dict(device="tpu"), "device"),
        (dict(device="cpu", dtype="float16"), "float16"),
        (dict(runs=0), "runs"),
        (dict(warmup=-1), "warmup"),
        (dict(time_budget_s=-1.0), "time_budget_s"),
        (dict(time_budget_s="10"), "time_budget_s"),
        (dict(threads=0), "threads"),
    ],
)
def test_bad_arguments_raise_value_error(options: dict, fragment: str) -> None:
    options.setdefault("device", "cpu")
    with pytest.raises(ValueError, match=fragment) as error:
        measure_latency(TINY, **options)
    assert "\n" not in str(error.value)


def test_rejects_something_that_is_not_an_effnet_model() -> None:
    with pytest.raises(TypeError):
        measure_latency(torch.nn.Linear(3, 3), device="cpu")


def test_dtype_aliases_are_named_canonically() -> None:
    result = measure_latency(TINY, device="cpu", dtype="bf16", runs=1, warmup=1)
    assert result.dtype == "bfloat16"


@pytest.mark.skipif(cuda_available(), reason="checks the message shown on a machine without a GPU")
def test_cuda_without_gpu_says_so_and_offers_the_cpu() -> None:
    with pytest.raises(ValueError) as error:
        measure_latency(TINY, device="cuda")
    message = str(error.value)
    assert "no GPU" in message and "cpu" in message.lower()
    assert device_description("auto").startswith("cpu")
    with pytest.raises(ValueError, match="float16"):
        measure_latency(TINY, device="auto", dtype="float16")


# --------------------------------------------------------------------------------------------
# CUDA (skipped here; run on the GPU machine)
# --------------------------------------------------------------------------------------------
@needs_gpu
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_cuda_figures_are_labelled(dtype: str) -> None:
    result = measure_latency(TINY, batch=4, device="cuda", dtype=dtype, runs=5, warmup=2)
    assert result.device == "cuda" and result.device_name == torch.cuda.get_device_name()
    assert result.threads is None and result.dtype == dtype and result.runs == 5
    low, high = result.spread_ms
    assert 0 < low <= result.median_ms <= high
    expected = reference_flops(TINY, 4) / (result.median_ms / 1000) / 1e12
    assert math.isclose(result.achieved_tflops, expected, rel_tol=1e-9)
    if peak_tflops(result.device_name, dtype) is not None:
        assert result.percent_of_peak == pytest.approx(100 * result.achieved_tflops / result.peak_tflops)


@needs_gpu
def test_auto_picks_the_gpu() -> None:
    assert device_description("auto").startswith("cuda")
    assert measure_latency(TINY, runs=2, warmup=1).device == "cuda"


@needs_gpu
@pytest.mark.parametrize("where", ["cpu", "cuda"])
def test_cuda_leaves_the_shared_model_alone(where: str) -> None:
    model = effnet.build(TINY).to(where)
    before = snapshot(model)
    benchmark_flag = torch.backends.cudnn.benchmark
    measure_latency(model, device="cuda", dtype="float16", channels_last=True, runs=3, warmup=1)
    assert_unchanged(model, before)
    assert torch.backends.cudnn.benchmark == benchmark_flag


@needs_gpu
def test_cuda_time_budget_and_progress() -> None:
    calls: list[float] = []
    result = measure_latency(TINY, device="cuda", runs=50, time_budget_s=0, progress=lambda f, m: calls.append(f))
    assert result.stopped_early and result.runs == 1 and calls[-1] == 1.0


# --------------------------------------------------------------------------------------------
# Execution modes
# --------------------------------------------------------------------------------------------
def test_channels_last_mode_is_labelled_and_sets_the_layout() -> None:
    result = measure_latency(TINY, device="cpu", runs=2, warmup=1, mode="channels_last")
    assert result.mode == "channels_last" and result.channels_last and result.compile_s is None
    assert result.mode_label == "eager, channels_last" and "eager, channels_last, batch 1" in result.summary()
    eager = measure_latency(TINY, device="cpu", runs=1, warmup=1)
    assert eager.mode == "eager" and eager.mode_label == "eager" and eager.as_dict()["mode_label"] == "eager"


def test_compile_mode_times_the_compiled_network_after_compiling_it() -> None:
    """torch.compile on the CPU (TorchInductor with gcc) on the tiny configuration only: compiling B0 takes minutes."""
    model = effnet.build(TINY)
    before = snapshot(model)
    result = measure_latency(model, device="cpu", runs=3, warmup=1, mode="torch.compile", time_budget_s=0)
    assert result.mode == "compile" and result.mode_label == "torch.compile"
    assert result.compile_s is not None and result.compile_s > 0 and "compiling took" in result.summary()
    assert result.runs == 1 and result.stopped_early  # the compile time is outside the budget: one run still happens
    assert_unchanged(model, before)


@pytest.mark.skipif(cuda_available(), reason="a GPU is here: CUDA graphs run (test_cuda_graphs_mode_replays)")
def test_cuda_graphs_without_a_gpu_say_so_in_one_line() -> None:
    with pytest.raises(effnet.LatencyError, match="needs a GPU.*eager, channels_last, compile"):
        measure_latency(TINY, device="auto", mode="cuda_graphs")


def test_an_unknown_mode_names_the_accepted_ones() -> None:
    with pytest.raises(effnet.LatencyError, match="mode must be one of eager, channels_last, compile, cuda_graphs"):
        measure_latency(TINY, device="cpu", mode="tensorrt")


@needs_gpu
@pytest.mark.parametrize("mode", ["cuda_graphs", "compile"])
def test_cuda_modes_run_and_are_labelled(mode: str) -> None:
    model = effnet.build(TINY).cuda()
    before = snapshot(model)
    result = measure_latency(model, batch=2, device="cuda", dtype="float16", runs=5, warmup=2, mode=mode)
    assert result.device == "cuda" and result.mode == mode and result.runs == 5 and result.median_ms > 0
    assert_unchanged(model, before)
