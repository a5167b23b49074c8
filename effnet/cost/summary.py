"""A latency measurement in one sentence: its figures and every condition it was taken under.

The command line prints this sentence and the app's Latency panel shows it under its metrics, so the
words are written here once. How the numbers are written is the caller's: the app passes the helpers
its metrics use (SI prefixes, µs to min), so the sentence and the figures above it agree; a terminal
gets `TERMINAL` (ms or s, G or TFLOP/s; three digits, never an exponent). Pure Python: the app's page imports it before torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol


class Measurement(Protocol):
    """What the sentence reads: the fields of `effnet.cost.latency.Latency` (not imported: that module imports this one)."""

    device: str
    device_name: str
    batch: int
    dtype: str
    resolution: int
    threads: int | None
    runs: int
    median_ms: float
    spread_ms: tuple[float, float]
    images_per_second: float
    achieved_tflops: float
    peak_tflops: float | None
    stopped_early: bool
    compile_s: float | None
    export_s: float | None

    @property
    def mode_label(self) -> str: ...

    @property
    def percent_of_peak(self) -> float | None: ...


@dataclass(frozen=True)
class Figures:
    """How the sentence writes its numbers, one function per kind of quantity."""

    duration_ms: Callable[[float], str]  # a time given in ms: '21.3 ms', '2.01 s'
    duration_range_ms: Callable[[float, float], str]  # a spread given in ms, one unit: '20.1-22.3 ms'
    count: Callable[[float], str]  # images per second, without the unit
    flop_rate: Callable[[float], str]  # FLOP/s, with its unit: '36.1 GFLOP/s'


def _three_digits(value: float) -> str:
    """'21.3', '0.0185', '1,899': three significant digits below 100, whole numbers above, no exponent."""
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _terminal_duration(milliseconds: float) -> str:
    return f"{_three_digits(milliseconds / 1000)} s" if milliseconds >= 1000 else f"{_three_digits(milliseconds)} ms"


def _terminal_range(low: float, high: float) -> str:
    scale = 1000 if high >= 1000 else 1  # both ends in the unit of the upper one
    return f"{_three_digits(low / scale)}-{_terminal_duration(high)}"


def _terminal_flop_rate(value: float) -> str:
    for factor, prefix in ((1e12, "T"), (1e9, "G")):
        if value >= factor:
            return f"{_three_digits(value / factor)} {prefix}FLOP/s"
    return f"{_three_digits(value / 1e6)} MFLOP/s"


TERMINAL = Figures(
    duration_ms=_terminal_duration,
    duration_range_ms=_terminal_range,
    count=lambda value: f"{value:,.1f}",
    flop_rate=_terminal_flop_rate,
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def latency_sentence(result: Measurement, figures: Figures = TERMINAL, label: str | None = None) -> str:
    """One line: where, how, the median with its spread and run count, throughput, FLOP/s against the peak.

    e.g. 'the CPU (AMD EPYC, 2 threads), eager, batch 1, float32, 224x224: median 21.3 ms per batch
    (p10–p90 20.1-22.3 ms, 5 runs), 46.9 images/s, 36.1 GFLOP/s'; with `label`, 'label: ' first.
    """
    threads = f", {_plural(result.threads, 'thread')}" if result.threads is not None else ""
    where = "the GPU" if result.device == "cuda" else "the CPU"
    low, high = result.spread_ms
    text = (f"{where} ({result.device_name}{threads}), {result.mode_label}, batch {result.batch}, {result.dtype}, "
            f"{result.resolution}x{result.resolution}: median {figures.duration_ms(result.median_ms)} per batch "
            f"(p10–p90 {figures.duration_range_ms(low, high)}, {_plural(result.runs, 'run')}), "
            f"{figures.count(result.images_per_second)} images/s, {figures.flop_rate(result.achieved_tflops * 1e12)}")
    if result.percent_of_peak is not None:
        text += f" ({result.percent_of_peak:.2g} % of the {figures.flop_rate(result.peak_tflops * 1e12)} peak)"
    if result.compile_s is not None:
        text += f"; compiling took {figures.duration_ms(result.compile_s * 1000)} (not timed)"
    if result.export_s is not None:
        text += f"; exporting to ONNX took {figures.duration_ms(result.export_s * 1000)} (not timed)"
    if result.stopped_early:
        text += "; stopped early at the time budget"
    return (f"{label}: " if label else "") + text
