"""effnet.cost.recorded: the committed GPU results read back with every condition, checked against the raw JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import effnet
from effnet.cost.recorded import FORMAT, RESULTS_DIR, best_runs, load_recorded, read_results, recorded_for

ROOT = Path(__file__).resolve().parents[3]
RUN1 = RESULTS_DIR / "gpu_h200_run1.json"
RUN2 = RESULTS_DIR / "gpu_h200_fp16_run2.json"


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_committed_h200_files_are_read_with_their_conditions():
    runs = read_results(RUN1)
    raw = _raw(RUN1)
    assert len(runs) == len(raw["measurements"]) == 32
    for run, row in zip(runs, raw["measurements"]):
        assert (run.preset, run.batch, run.dtype, run.resolution) == (row["preset"], row["batch"], row["dtype"], row["resolution"])
        assert run.median_ms == row["median_ms"] and list(run.spread_ms) == row["spread_ms"]
        assert run.runs == row["runs"] and run.stopped_early == row["stopped_early"]
        assert "mode" not in row and run.mode == "eager"  # written before execution modes existed
    first = runs[0]
    assert (first.device_name, first.torch, first.cuda, first.date) == ("NVIDIA H200", "2.11.0+cu130", "13.0", "2026-11-26")
    assert first.label == "recorded on NVIDIA H200" and first.source == "gpu_h200_run1.json"
    assert {run.preset for run in runs} == {f"b{i}" for i in range(8)}
    assert len(read_results(RUN2)) == 16


def test_every_results_file_in_the_folder_is_loaded():
    runs = load_recorded()
    assert len(runs) >= 48  # the two H200 files; later GPU runs add to them
    assert {"gpu_h200_run1.json", "gpu_h200_fp16_run2.json"} <= {run.source for run in runs}


def test_a_condition_recorded_twice_keeps_the_run_with_more_timed_runs():
    runs = read_results(RUN1) + read_results(RUN2)
    best = best_runs(runs)
    assert len(best) == 32  # 8 presets x batch 1, 32 x float32, float16
    chosen = [r for r in best if (r.preset, r.batch, r.dtype) == ("b0", 1, "float16")]
    assert len(chosen) == 1
    # run 1 timed B0 fp16 at batch 1 once (stopped at its budget: 7.36 ms); run 2 repeated it 200 times
    assert chosen[0].source == "gpu_h200_fp16_run2.json" and chosen[0].runs == 200
    assert chosen[0].median_ms == pytest.approx(4.883, abs=1e-3)


def test_recorded_for_finds_exactly_the_timed_network():
    b0 = recorded_for(effnet.preset("b0"))
    assert {(r.batch, r.dtype) for r in b0} == {(1, "float32"), (1, "float16"), (32, "float32"), (32, "float16")}
    assert all(r.device_name == "NVIDIA H200" for r in b0)
    # the same network built from the sliders (depth 1, width 1, 224 px) is the same timed network
    assert len(recorded_for(effnet.ScalingConfig(depth=1.0, width=1.0, resolution=224))) == 4
    assert recorded_for(effnet.preset("b0").with_resolution(256)) == ()
    assert recorded_for(effnet.preset("lite0")) == ()


def _write(tmp_path: Path, document: object, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _row(**changes) -> dict:
    row = {"preset": "b0", "device": "cuda", "device_name": "NVIDIA H200", "batch": 1, "dtype": "float16",
           "resolution": 224, "channels_last": False, "runs": 10, "median_ms": 5.0, "spread_ms": [4.9, 5.2],
           "stopped_early": False, "peak_tflops": 989.4}
    row.update(changes)
    return row


META = {"device": "cuda: NVIDIA H200", "torch": "2.11.0+cu130", "cuda": "13.0", "date": "2026-11-26"}


@pytest.mark.parametrize("row, message", [
    (_row(median_ms=None), "'median_ms' must be a number"),
    (_row(median_ms=6.0), "outside its spread"),
    (_row(preset="b9"), "'preset' must be one of"),
    (_row(dtype="fp8"), "'dtype' must be one of"),
    (_row(mode="turbo"), "'mode' must be one of"),
    (_row(batch=1.5), "'batch' must be a whole number"),
    (_row(spread_ms=[4.9]), "'spread_ms' must be"),
])
def test_a_malformed_measurement_is_named_in_one_line(tmp_path, row, message):
    path = _write(tmp_path, {"meta": META, "measurements": [_row(), row]})
    with pytest.raises(ValueError, match=message) as error:
        read_results(path)
    assert str(error.value).startswith("run.json: measurement 2: ") and "\n" not in str(error.value)


def test_a_file_without_meta_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'meta' must give device, torch, date"):
        read_results(_write(tmp_path, {"measurements": [_row()]}))


def test_skipped_rows_and_other_kinds_of_json_are_left_out(tmp_path):
    _write(tmp_path, {"meta": META, "measurements": [_row(mode="cuda_graphs"), {"preset": "b7", "batch": 32, "skipped": "out of memory"}]})
    _write(tmp_path, {"sessions": 20, "median_s": 31}, name="capacity.json")  # not a latency results file
    runs = load_recorded(tmp_path)
    assert len(runs) == 1 and runs[0].mode == "cuda_graphs"


def test_benchmarks_latency_writes_what_the_reader_reads(tmp_path):
    """The writer and the reader agree: a real (CPU) run of benchmarks/latency.py, read back."""
    out = tmp_path / "cpu_run.json"
    completed = subprocess.run(
        [sys.executable, "benchmarks/latency.py", "--presets", "lite0", "--runs", "2", "--warmup", "1", "--device", "cpu",
         "--threads", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert completed.returncode == 0, completed.stderr[-500:]
    assert _raw(out)["meta"]["format"] == FORMAT
    (run,) = read_results(out)
    assert (run.preset, run.device, run.batch, run.dtype, run.mode, run.runs) == ("lite0", "cpu", 1, "float32", "eager", 2)
    assert run.spread_ms[0] <= run.median_ms <= run.spread_ms[1]
