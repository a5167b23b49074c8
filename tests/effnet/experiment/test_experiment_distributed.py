"""The experiment under torchrun: DistributedDataParallel on CPU processes (gloo).

- One optimiser step split over two processes equals the same step on the whole batch in one
  process (batch norm frozen: CPUs have no SyncBatchNorm, so in training mode each process
  normalises with its own half-batch's statistics; that, and nothing else, separates the two).
- `torchrun --nproc_per_node 2 -m effnet experiment run` writes the same kind of results as one
  process, with the same number of optimiser steps, and its first epoch's training loss within
  0.1 of the one-process run's (same global batch; different shards and per-process batch norm).
- A run stopped half-way by two processes resumes in one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import effnet

TORCHRUN = shutil.which("torchrun")
TINY = ["experiment", "run", "--quick", "--train-size", "192", "--test-size", "60", "--only", "baseline", "--device", "cpu"]


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[3]))


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not on PATH (it comes with torch)")
def test_a_step_split_over_two_processes_equals_the_whole_batch_in_one(tmp_path):
    import ddp_step

    worker = Path(ddp_step.__file__)
    done = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", str(worker), str(tmp_path)], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    alone = ddp_step.steps(0, 1, ddp_step.model())
    for rank in (0, 1):
        split = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for name, value in alone.items():
            torch.testing.assert_close(split[name], value, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not on PATH (it comes with torch)")
def test_torchrun_gives_the_one_process_run_and_resumes_on_another_count(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    command = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "effnet"]
    done = subprocess.run(command + TINY + ["--epochs", "2", "--out", str(two)], env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    done = subprocess.run([sys.executable, "-m", "effnet"] + TINY + ["--epochs", "2", "--out", str(one)], env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    split, alone = (json.loads((folder / "results.json").read_text()) for folder in (two, one))
    assert split["processes"] == 2 and alone["processes"] == 1
    assert split["budget"]["steps"] == alone["budget"]["steps"]
    first_split, first_alone = (doc["networks"][0]["history"][0]["train_loss"] for doc in (split, alone))
    assert abs(first_split - first_alone) < 0.1, (first_split, first_alone)
    network = split["networks"][0]
    model = effnet.build(effnet.ScalingConfig(**network["config"]),
                         state_dict=torch.load(two / network["seeds"][0]["checkpoint"], weights_only=True))
    assert sum(p.numel() for p in model.parameters()) == network["params"]

    # stopped by two processes after the first epoch's checkpoint, resumed by one
    resumed = tmp_path / "resumed"
    process = subprocess.Popen(command + TINY + ["--epochs", "3", "--out", str(resumed)], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    partial = resumed / "baseline-seed0.partial.pt"
    deadline = time.monotonic() + 600
    while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    # torchrun's workers may run in process groups of their own: every process naming this folder goes
    subprocess.run(["pkill", "-9", "-f", str(resumed)], check=False)
    deadline = time.monotonic() + 60
    while subprocess.run(["pgrep", "-f", str(resumed)], capture_output=True).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert partial.exists()
    saved = torch.load(partial, weights_only=True)
    done = subprocess.run([sys.executable, "-m", "effnet"] + TINY + ["--epochs", "3", "--out", str(resumed)],
                          env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((resumed / "runs" / "baseline-seed0.json").read_text())
    assert record["resumed_from_epoch"] >= saved["epoch"] >= 1 and len(record["history"]) == 3
