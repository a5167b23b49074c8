#!/usr/bin/env bash
# The scaling experiment on one GPU: B0's layout at 224 px and its four 4.5x networks (the paper's
# Table 7 setting) on the synthetic task, inside 8 minutes of an H200 (its start-up budgeted apart).
# From the repository root:
#
#     OUT=/some/folder bash benchmarks/experiment_gpu.sh
#     EFFNET_GPU_DRY_RUN=1 OUT=/tmp/dry bash benchmarks/experiment_gpu.sh   # the same stages on the CPU, tiny, < 1 min
#
# Stages: (1) the training-throughput table of the five networks (images/s at the training batch,
# 32); (2) the training budget sized from that table; (3) `experiment run`, which draws its scenes
# with the batched renderer (effnet.experiment.render; on the GPU where the run asks
# SyntheticSource.split for its device, else on the CPU) and trains all five on the same images; (4) a check that the results and every checkpoint load. Writes $OUT/throughput.md,
# $OUT/experiment (results.json and the state dicts the Experiment page reads) and $OUT/log.txt.
# Every stage is bounded by `timeout`; rerunning the same command resumes a run cut short.
#
# How the run is sized (the H200 was not lent to the change that wrote this, so the sizes are
# computed on the machine, not guessed): the recorded H200 figures (benchmarks/results/
# gpu_h200_summary.md) give B0 at 224 px about 6,200 images/s for inference at batch 32, so the
# 4.5x networks train at a few hundred images/s each, and every network sees the same images. With
# rates r_i from stage 1, the images one network may see are
#     TRAIN_SECONDS x SAFETY / sum_i (1 / r_i)
# (TRAIN_SECONDS 270 s of the 480; SAFETY 0.6 for data handling, evaluation passes and the epochs'
# test accuracy, which the synthetic benchmark leaves out), split into EPOCHS (3) epochs of
# TRAIN_SIZE scenes, clamped to 2,000-50,000 (MIN_TRAIN, MAX_TRAIN). The rest of the 480 s: about 20 s of start-up, 60 s
# of stage 1, scene drawing (on the GPU: the batched renderer draws thousands of scenes per
# second; on one CPU thread about 2 ms a scene at 224 px and 7 ms at 472 px, see docs/rendering.md),
# and Grad-CAM on CAM_IMAGES (500) held-out scenes per network. Set TRAIN_SIZE to skip the sizing.
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/experiment_gpu_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }

if [ "${EFFNET_GPU_DRY_RUN:-0}" = 1 ]; then
    # every stage on the CPU with a tiny base and a few scenes: checks the script, not the science
    # (about 25 s of CPU time; the limits are wide for a shared machine)
    DEVICE=cpu BASE="d0.5,w0.25,r56" FLOPS=2.5 BATCH=4 STEPS=1 TEST_SIZE=10 VAL_SIZE=10 EPOCHS=1 CAM_IMAGES=10
    TRAIN_SECONDS=2 SAFETY=1 MIN_TRAIN=10 MAX_TRAIN=40 LIMIT_THROUGHPUT=120 LIMIT_RUN=240 THREADS="--threads 1"
else
    DEVICE=cuda BASE=b0 FLOPS=4.5 BATCH=32 STEPS=20
    TEST_SIZE="${TEST_SIZE:-1000}" VAL_SIZE="${VAL_SIZE:-500}" EPOCHS="${EPOCHS:-3}" CAM_IMAGES="${CAM_IMAGES:-500}"
    TRAIN_SECONDS="${TRAIN_SECONDS:-270}" SAFETY="${SAFETY:-0.6}" MIN_TRAIN=2000 MAX_TRAIN=50000
    LIMIT_THROUGHPUT=90 LIMIT_RUN=390 THREADS=""
fi
failed=0

{
  step "machine"
  if [ "$DEVICE" = cuda ]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; fi
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"

  step "training throughput (batch $BATCH, as the experiment trains)"
  timeout "$LIMIT_THROUGHPUT" "$PY" benchmarks/experiment_throughput.py --base "$BASE" --flops "$FLOPS" --device "$DEVICE" \
      --batch "$BATCH" --steps "$STEPS" $THREADS | tee "$OUT/throughput.md" || failed=1

  step "sizing the run"
  if [ -z "${TRAIN_SIZE:-}" ]; then
      TRAIN_SIZE=$("$PY" - "$OUT/throughput.md" "$TRAIN_SECONDS" "$SAFETY" "$EPOCHS" "$MIN_TRAIN" "$MAX_TRAIN" <<'EOF'
import sys
table, seconds, safety, epochs = open(sys.argv[1]).read(), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
low, high = int(sys.argv[5]), int(sys.argv[6])
rates = [float(line.split("|")[-2].replace(",", "")) for line in table.splitlines()
         if line.startswith("| ") and line.split("|")[-2].strip().replace(",", "").replace(".", "").isdigit()]
if len(rates) != 5 or min(rates) <= 0:
    print(max(low, min(high, 10000)))  # no table: 10,000, the estimate above for an H200
else:
    images = seconds * safety / sum(1 / rate for rate in rates)
    print(int(min(high, max(low, images / epochs))))
EOF
)
  fi
  echo "train scenes $TRAIN_SIZE x $EPOCHS epochs, $TEST_SIZE test and $VAL_SIZE validation scenes, Grad-CAM on $CAM_IMAGES"

  step "experiment"
  timeout "$LIMIT_RUN" "$PY" -m effnet experiment run --out "$OUT/experiment" --base "$BASE" --flops "$FLOPS" \
      --device "$DEVICE" --train-size "$TRAIN_SIZE" --test-size "$TEST_SIZE" --val-size "$VAL_SIZE" \
      --epochs "$EPOCHS" --seeds 1 --cam-images "$CAM_IMAGES" $THREADS || failed=1

  step "what the Experiment page reads"
  "$PY" - "$OUT/experiment" <<'EOF'
import sys
from pathlib import Path

import torch

from effnet.experiment.results import read_results

folder = Path(sys.argv[1])
document = read_results(folder)
for network in document["networks"]:
    paths = [network["checkpoint"]] if network.get("checkpoint") else []
    paths += [run["checkpoint"] for run in network.get("seeds", []) if run.get("checkpoint")]
    for path in dict.fromkeys(paths):
        state = torch.load(folder / path, map_location="cpu", weights_only=True)
        print(f"{network['name']}: {path} loads ({len(state)} tensors)")
print(f"results.json: {len(document['networks'])} networks")
EOF
  [ $? = 0 ] || failed=1

  step "done$([ $failed = 0 ] || echo ': a stage failed, see above')"
  exit $failed
} 2>&1 | tee "$OUT/log.txt"
