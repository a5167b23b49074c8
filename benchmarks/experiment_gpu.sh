#!/usr/bin/env bash
# The full scaling experiment on a GPU machine (issue 8), prepared to run once within about 9 minutes
# of device time. From the repository root:
#
#     OUT=/some/folder bash benchmarks/experiment_gpu.sh
#
# Trains B0's layout at 224 px and its four 4.5x networks (the paper's Table 7 setting) on the
# synthetic task, then the training-throughput benchmark; writes $OUT/experiment (results.json and
# one state dict per network), $OUT/throughput.md and $OUT/log.txt. Every step is bounded by
# `timeout`; a step cut short leaves its partial checkpoints, and rerunning the same command resumes.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/experiment_gpu_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
  echo "== throughput"
  timeout 90 "$PY" benchmarks/experiment_throughput.py --base b0 --flops 4.5 --device cuda --batch 128 --steps 20 | tee "$OUT/throughput.md"
  echo "== experiment"
  timeout 420 "$PY" -m effnet experiment run --out "$OUT/experiment" --base b0 --flops 4.5 --device cuda \
      --train-size 20000 --test-size 2000 --epochs 15 --seeds 1
} 2>&1 | tee "$OUT/log.txt"
