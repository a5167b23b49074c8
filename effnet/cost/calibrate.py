"""Fit effnet.cost.predict's constants on recorded runs and measure the prediction's error on runs it did not see.

A least-squares fit of log(predicted / measured) (relative errors: a 5 ms run counts as much as a
130 ms one), by Levenberg-Marquardt in numpy with a numerical Jacobian. The constants are fitted in
transformed coordinates so that they stay physical: log(launch) for a positive launch cost, logit of
each efficiency so that it lies in (0, 1). A few starting points guard against a local minimum.

Held-out error is the point: the constants are fitted on a stated subset (`FIT_PRESETS` by default)
and the error is reported on every recorded run, each marked fitted or held out.
`python benchmarks/calibrate_prediction.py` runs this and writes effnet/cost/data/latency_calibration.json.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .predict import PREDICTED_MODE, Constants, LayerArrays, array_times, device_for_recorded, eager_layers, layer_arrays
from .recorded import RecordedRun, best_runs

FIT_PRESETS = ("b0", "b2", "b4", "b6")
FREE = ("launch_us", "memory_efficiency", "depthwise_efficiency")  # fitted
# Not constrained by the H200 runs (every dense and 1x1 layer there is launch- or memory-bound): held
# at the datasheet roof, as the roofline chart draws it; the calibration script prints how little
# the fit changes when it is lowered.
FIXED = {"tensor_core_efficiency": 1.0}
_STARTS = {"launch_us": (20.0,), "memory_efficiency": (0.05, 0.5), "depthwise_efficiency": (0.02, 0.3),
           "tensor_core_efficiency": (0.1, 0.5)}


@dataclass(frozen=True)
class FitPoint:
    run: RecordedRun
    arrays: LayerArrays

    def predicted_ms(self, constants: Constants, overlap: bool = True) -> float:
        compute, memory, wait = array_times(self.arrays, constants, overlap)
        return 1e3 * float(np.maximum(compute, memory).sum() + wait.sum())


@dataclass(frozen=True)
class Fit:
    constants: Constants
    rms_log_error: float  # root mean square of log(predicted / measured) over the fitted runs
    fitted: tuple[RecordedRun, ...]
    overlap: bool


def fit_points(runs: Sequence[RecordedRun]) -> list[FitPoint]:
    """The eager runs on a GPU that effnet.cost.devices.DEVICES knows, one per condition, with their layer arrays."""
    points = []
    for run in best_runs(tuple(runs)):
        device = device_for_recorded(run.device_name)
        if run.device != "cuda" or device is None or run.mode != PREDICTED_MODE or run.channels_last:
            continue
        layers = tuple(layer for _, layer in eager_layers(run.config, run.batch, run.dtype))
        points.append(FitPoint(run, layer_arrays(layers, device, run.dtype)))
    return points


def _constants(x: np.ndarray, free: Sequence[str], fixed: dict[str, float]) -> Constants:
    values = dict(fixed)
    for name, value in zip(free, x):
        values[name] = math.exp(value) if name == "launch_us" else 1.0 / (1.0 + math.exp(-value))
        if name != "launch_us":
            values[name] = min(values[name], 1.0)
    return Constants(**values)


def _coordinate(name: str, value: float) -> float:
    return math.log(value) if name == "launch_us" else math.log(value / (1.0 - value))


def fit(points: Sequence[FitPoint], free: Sequence[str] = FREE, fixed: dict[str, float] | None = None,
        overlap: bool = True, iterations: int = 200) -> Fit:
    """Least-squares constants for `points` (relative error); `fixed` holds the ones not fitted."""
    fixed = dict(FIXED if fixed is None else fixed)
    if not points:
        raise ValueError("no recorded runs to fit: the calibration needs eager GPU runs of known devices")

    def residuals(x: np.ndarray) -> np.ndarray:
        constants = _constants(x, free, fixed)
        return np.array([math.log(p.predicted_ms(constants, overlap) / p.run.median_ms) for p in points])

    best: tuple[np.ndarray, float] | None = None
    for start in itertools.product(*(_STARTS[name] for name in free)):
        x = np.array([_coordinate(name, value) for name, value in zip(free, start)])
        x, cost = _levenberg_marquardt(residuals, x, iterations)
        if best is None or cost < best[1]:
            best = (x, cost)
    x, cost = best
    return Fit(_constants(x, free, fixed), math.sqrt(cost / len(points)), tuple(p.run for p in points), overlap)


def _levenberg_marquardt(residuals: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                         iterations: int) -> tuple[np.ndarray, float]:
    r = residuals(x)
    cost, damping, step = float(r @ r), 1e-2, 1e-5
    for _ in range(iterations):
        jacobian = np.stack([(residuals(x + step * unit) - r) / step for unit in np.eye(len(x))], axis=1)
        normal, gradient = jacobian.T @ jacobian, jacobian.T @ r
        improved = False
        while damping < 1e10:
            move = np.linalg.solve(normal + damping * (np.diag(np.diag(normal)) + 1e-12 * np.eye(len(x))), -gradient)
            trial = residuals(x + move)
            if float(trial @ trial) < cost:
                x, r, cost = x + move, trial, float(trial @ trial)
                damping = max(damping / 3, 1e-9)
                improved = True
                break
            damping *= 4
        if not improved or np.abs(move).max() < 1e-8:
            break
    return x, cost


def errors(points: Sequence[FitPoint], constants: Constants, fitted: Sequence[RecordedRun],
           overlap: bool = True) -> list[dict]:
    """Every point's measured and predicted milliseconds, relative error, and whether it was fitted."""
    rows = []
    for point in points:
        predicted = point.predicted_ms(constants, overlap)
        run = point.run
        rows.append({"preset": run.preset, "resolution": run.resolution, "batch": run.batch, "dtype": run.dtype,
                     "mode": run.mode, "device_name": run.device_name, "source": run.source, "runs": run.runs,
                     "measured_ms": run.median_ms, "predicted_ms": predicted,
                     "error": predicted / run.median_ms - 1.0, "fitted": run in fitted})
    return rows


def split(points: Sequence[FitPoint], keep: Callable[[RecordedRun], bool]) -> list[FitPoint]:
    return [point for point in points if keep(point.run)]

