"""benchmarks/experiment_gpu.sh's CPU dry run: every stage of the GPU script runs (throughput table,
sizing the run from it, the experiment, the check of what the Experiment page reads) and leaves
results.json with five networks whose checkpoints load."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from effnet.experiment.results import read_results

ROOT = Path(__file__).resolve().parents[3]


def test_the_gpu_script_dry_run_writes_what_the_page_reads(tmp_path):
    out = tmp_path / "gpu"
    environment = {**os.environ, "EFFNET_GPU_DRY_RUN": "1", "OUT": str(out), "PYTHON": sys.executable}
    environment.pop("TRAIN_SIZE", None)
    # about 25 s of CPU time; the limit is wide because the test machine is shared
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "experiment_gpu.sh")], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=600)
    log = (out / "log.txt").read_text()
    assert result.returncode == 0, log[-3000:]
    # the throughput table: one row per network, each with a rate
    rows = [line for line in (out / "throughput.md").read_text().splitlines() if re.match(r"\| (baseline|depth|width|resolution|compound) \|", line)]
    assert len(rows) == 5
    # the run was sized from that table (within the dry run's bounds)
    sized = re.search(r"train scenes (\d+) x 1 epochs", log)
    assert sized and 10 <= int(sized.group(1)) <= 40
    document = read_results(out / "experiment")
    assert [n["name"] for n in document["networks"]] == ["baseline", "depth", "width", "resolution", "compound"]
    assert document["dataset"]["val_size"] == 10
    for network in document["networks"]:
        paths = [network["checkpoint"]] if network.get("checkpoint") else []
        paths += [run["checkpoint"] for run in network.get("seeds", []) if run.get("checkpoint")]
        assert paths
        for path in paths:
            state = torch.load(out / "experiment" / path, map_location="cpu", weights_only=True)
            assert all(isinstance(value, torch.Tensor) for value in state.values())
    assert "a stage failed" not in log
