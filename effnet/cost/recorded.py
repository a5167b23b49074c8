"""Recorded latency runs: the measurements `benchmarks/latency.py` writes, read back and checked.

A figure measured on a GPU machine is worth showing on a laptop that has none, provided it keeps its
conditions. This module is the one reader of the results files in `benchmarks/results/`, so the app,
the calibration of `effnet.cost.predict` and the tests all see the same runs.

The format (one JSON object a file; `benchmarks/latency.py --json` writes it):

    {"meta": {"device": "cuda: NVIDIA H200", "torch": "2.11.0+cu130", "cuda": "13.0",
              "date": "2026-11-26", "format": "effnet latency results v1"},
     "measurements": [
        {"preset": "b0", "params": 5288548, "macs": 385814752, "device": "cuda",
         "device_name": "NVIDIA H200", "batch": 32, "dtype": "float16", "resolution": 224,
         "threads": null, "channels_last": false, "mode": "eager", "runs": 200,
         "median_ms": 5.17, "spread_ms": [5.03, 5.32], "images_per_second": 6189.0,
         "achieved_tflops": 4.8, "peak_tflops": 989.4, "stopped_early": false, ...},
        {"preset": "b7", "batch": 32, "dtype": "float16", "mode": "eager", "skipped": "out of memory"}]}

- meta: where and with what the runs were made; `format` is absent in files written before it existed.
- each measurement: one preset at one batch, dtype and execution mode, timed as effnet.cost.latency
  describes (median and 10th-90th percentile spread per batch, in milliseconds). `mode` is absent in
  files written before execution modes existed: those runs were eager. A row with `skipped` says why
  the combination could not run and carries no figures; it is left out.
Extra fields (mode_label, compile_s, percent_of_peak) are allowed and ignored. A file whose top level
has no "measurements" is some other kind of result and is not read as latency.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..scaling import PRESETS, ScalingConfig, preset, stages
from .devices import MODES

RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
FORMAT = "effnet latency results v1"
DTYPES = ("float32", "float16", "bfloat16")
_META_FIELDS = ("device", "torch", "date")


@dataclass(frozen=True)
class RecordedRun:
    """One recorded measurement with every condition it was taken under, and the file it came from."""

    preset: str  # "b0" .. "b7", "lite0", "v2_s", ...
    resolution: int  # input side in pixels
    batch: int
    dtype: str  # "float32", "float16" or "bfloat16"
    mode: str  # "eager", "channels_last", "compile" or "cuda_graphs"
    channels_last: bool
    device: str  # "cuda" or "cpu"
    device_name: str  # e.g. "NVIDIA H200"
    runs: int  # timed runs
    median_ms: float  # per batch
    spread_ms: tuple[float, float]  # 10th and 90th percentile per batch
    stopped_early: bool  # the time budget cut the planned runs short
    peak_tflops: float | None  # the dense peak the run was compared with (float32: TF32 when cuDNN may use it)
    torch: str  # torch version of the run, e.g. "2.11.0+cu130"
    cuda: str | None  # CUDA version, None on a CPU-only torch
    date: str  # ISO date of the run
    source: str  # the results file's name

    @property
    def config(self) -> ScalingConfig:
        """The network that was timed: the preset fed `resolution` pixels."""
        return preset(self.preset).with_resolution(self.resolution)

    @property
    def images_per_second(self) -> float:
        return self.batch * 1000.0 / self.median_ms

    @property
    def label(self) -> str:
        """'recorded on NVIDIA H200': how every recorded figure is named on screen."""
        return f"recorded on {self.device_name}"

    def describes(self, config: ScalingConfig) -> bool:
        """True when `config` is the network this run timed (same stages, same classifier)."""
        return _stages_of(self.preset, self.resolution) == (stages(config), config.num_classes)


@lru_cache(maxsize=256)
def _stages_of(name: str, resolution: int) -> tuple:
    config = preset(name).with_resolution(resolution)
    return stages(config), config.num_classes


def _fail(source: str, where: str, message: str) -> ValueError:
    return ValueError(f"{source}: {where}: {message}")


def _number(row: dict, key: str, source: str, where: str, whole: bool = False, positive: bool = True) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, where, f"'{key}' must be a number, got {value!r}")
    if whole and not float(value).is_integer():
        raise _fail(source, where, f"'{key}' must be a whole number, got {value!r}")
    if positive and value <= 0:
        raise _fail(source, where, f"'{key}' must be above 0, got {value!r}")
    return int(value) if whole else float(value)


def _run(row: object, meta: dict, source: str, index: int) -> RecordedRun | None:
    where = f"measurement {index + 1}"
    if not isinstance(row, dict):
        raise _fail(source, where, "must be a JSON object")
    if "skipped" in row:
        return None
    name = row.get("preset")
    if name not in PRESETS:
        raise _fail(source, where, f"'preset' must be one of {', '.join(PRESETS)}, got {name!r}")
    dtype, mode = row.get("dtype"), row.get("mode", "eager")
    if dtype not in DTYPES:
        raise _fail(source, where, f"'dtype' must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if mode not in MODES:
        raise _fail(source, where, f"'mode' must be one of {', '.join(MODES)}, got {mode!r}")
    spread = row.get("spread_ms")
    if not isinstance(spread, (list, tuple)) or len(spread) != 2:
        raise _fail(source, where, f"'spread_ms' must be [10th, 90th percentile], got {spread!r}")
    low = _number({"low": spread[0]}, "low", source, where)
    high = _number({"high": spread[1]}, "high", source, where)
    median = _number(row, "median_ms", source, where)
    if not low <= median <= high:
        raise _fail(source, where, f"the median {median} ms lies outside its spread {low}-{high} ms")
    device_name = row.get("device_name")
    if not isinstance(device_name, str) or not device_name.strip():
        raise _fail(source, where, "'device_name' must name the device")
    peak = row.get("peak_tflops")
    return RecordedRun(
        preset=name,
        resolution=_number(row, "resolution", source, where, whole=True),
        batch=_number(row, "batch", source, where, whole=True),
        dtype=dtype,
        mode=mode,
        channels_last=bool(row.get("channels_last", False)),
        device=str(row.get("device", "cuda")),
        device_name=device_name.strip(),
        runs=_number(row, "runs", source, where, whole=True),
        median_ms=median,
        spread_ms=(low, high),
        stopped_early=bool(row.get("stopped_early", False)),
        peak_tflops=None if peak is None else _number(row, "peak_tflops", source, where),
        torch=str(meta["torch"]),
        cuda=None if meta.get("cuda") is None else str(meta["cuda"]),
        date=str(meta["date"]),
        source=source,
    )


def read_results(path: str | Path) -> tuple[RecordedRun, ...]:
    """The measurements of one results file; ValueError naming the file and the row when one is malformed."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name}: not a readable JSON file ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("measurements"), list):
        raise ValueError(f"{path.name}: a latency results file needs a 'measurements' list")
    meta = document.get("meta")
    if not isinstance(meta, dict) or any(not meta.get(key) for key in _META_FIELDS):
        raise ValueError(f"{path.name}: 'meta' must give {', '.join(_META_FIELDS)}")
    rows = (_run(row, meta, path.name, index) for index, row in enumerate(document["measurements"]))
    return tuple(row for row in rows if row is not None)


def is_results_file(path: str | Path) -> bool:
    """True for a JSON file in the latency results format (a top-level 'measurements'), whatever its state."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and "measurements" in document


@lru_cache(maxsize=4)
def _load(directory: str, stamp: tuple) -> tuple[RecordedRun, ...]:
    runs: list[RecordedRun] = []
    for path in sorted(Path(directory).glob("*.json")):
        if is_results_file(path):
            runs.extend(read_results(path))
    return tuple(runs)


def load_recorded(directory: str | Path = RESULTS_DIR) -> tuple[RecordedRun, ...]:
    """Every recorded run in `directory` (default benchmarks/results), file by file in name order.

    Cached until a file there changes, so a page can ask on every rerun.
    """
    directory = Path(directory)
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.glob("*.json")))
    return _load(str(directory), stamp)


def best_runs(runs: tuple[RecordedRun, ...] | list[RecordedRun]) -> tuple[RecordedRun, ...]:
    """One run per condition (device, preset, resolution, batch, dtype, mode, memory format): the one with most timed runs.

    The H200 float16 runs were recorded twice: first inside a tight time budget (a few runs, some
    stopped early), then repeated with a longer one. The run with more timed runs is the better median;
    a tie keeps the later file.
    """
    chosen: dict[tuple, RecordedRun] = {}
    for run in runs:
        key = (run.device_name, run.preset, run.resolution, run.batch, run.dtype, run.mode, run.channels_last)
        if key not in chosen or run.runs >= chosen[key].runs:
            chosen[key] = run
    return tuple(chosen.values())


def recorded_for(config: ScalingConfig, runs: tuple[RecordedRun, ...] | None = None) -> tuple[RecordedRun, ...]:
    """The best recorded runs of exactly this network (any device, batch, dtype, mode)."""
    runs = load_recorded() if runs is None else runs
    return tuple(run for run in best_runs(runs) if run.describes(config))
