"""effnet.cost.summary: the latency sentence the CLI prints and the app shows, on constructed measurements."""

from __future__ import annotations

from effnet.cost.latency import Latency
from effnet.cost.summary import TERMINAL, Figures, latency_sentence


def _latency(**changes) -> Latency:
    figures = dict(device="cpu", device_name="AMD EPYC", batch=8, dtype="float32", resolution=64, threads=2,
                   channels_last=False, runs=3, median_ms=20.0, spread_ms=(18.5, 1250.0), images_per_second=400.0,
                   achieved_tflops=0.0361, peak_tflops=None, stopped_early=False)
    figures.update(changes)
    return Latency(**figures)


def test_a_terminal_sentence_written_out_by_hand() -> None:
    # 1,250 ms is past a second: the spread is in the unit of its upper end (1.25 s, so 18.5 ms is 0.0185 s).
    assert latency_sentence(_latency()) == (
        "the CPU (AMD EPYC, 2 threads), eager, batch 8, float32, 64x64: median 20 ms per batch "
        "(p10–p90 0.0185-1.25 s, 3 runs), 400.0 images/s, 36.1 GFLOP/s")
    assert _latency().summary() == latency_sentence(_latency())  # the CLI's line


def test_a_gpu_sentence_with_its_peak_compile_time_and_early_stop() -> None:
    result = _latency(device="cuda", device_name="NVIDIA H200", threads=None, runs=1, mode="compile",
                      achieved_tflops=49.47, peak_tflops=989.4, compile_s=61.0, stopped_early=True)
    text = latency_sentence(result, label="B0")
    assert text.startswith("B0: the GPU (NVIDIA H200), torch.compile, batch 8,")
    assert "1 run)" in text and "49.5 TFLOP/s (5 % of the 989 TFLOP/s peak)" in text  # 49.47 / 989.4 = 5.0 %
    assert text.endswith("; compiling took 61 s (not timed); stopped early at the time budget")


def test_every_number_comes_from_the_callers_figures() -> None:
    """The app passes its own helpers: no figure may be formatted here behind its back."""
    marked = Figures(duration_ms=lambda ms: "<D>", duration_range_ms=lambda low, high: "<R>", count=lambda v: "<C>",
                     flop_rate=lambda v: "<F>")
    text = latency_sentence(_latency(peak_tflops=100.0, compile_s=2.0, export_s=3.0, runtime="onnxruntime"), marked)
    assert text == ("the CPU (AMD EPYC, 2 threads), ONNX Runtime (CPU), batch 8, float32, 64x64: median <D> per batch "
                    "(p10–p90 <R>, 3 runs), <C> images/s, <F> (0.036 % of the <F> peak); compiling took <D> (not timed); "
                    "exporting to ONNX took <D> (not timed)")


def test_terminal_figures_never_use_an_exponent() -> None:
    assert TERMINAL.flop_rate(2.25e15) == "2,250 TFLOP/s"  # a B200's dense float16 peak
    assert TERMINAL.flop_rate(3.61e10) == "36.1 GFLOP/s" and TERMINAL.flop_rate(4.2e7) == "42 MFLOP/s"
    assert TERMINAL.duration_ms(0.0123) == "0.0123 ms" and TERMINAL.duration_ms(123456.0) == "123 s"
    assert TERMINAL.duration_range_ms(950.0, 1010.0) == "0.95-1.01 s"
