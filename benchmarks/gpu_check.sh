#!/usr/bin/env bash
# One prepared check for a GPU machine: CUDA latency tests, B0-B7 latency at batch 1 and 32 in
# float32 and float16, and the CLI's latency on CUDA. Run from the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# The execution modes: MODES (default eager,channels_last,compile,cuda_graphs) for MODE_PRESETS
# (default b0,v2_s) at batch 1 and 32 in float16, e.g.
#
#     OUT=/some/folder MODES=eager,cuda_graphs MODE_PRESETS=b0,b4,v2_s bash benchmarks/gpu_check.sh
#
# Writes into $OUT (default ./gpu_check_out): nvidia_smi.txt, pytest_latency.txt, gpu_latency.md,
# gpu_latency.json, gpu_latency.log, gpu_modes.md, gpu_modes.json, gpu_modes.log, profile_b0_cuda.json. Every step is bounded by `timeout`; the
# whole script stays under about 8 minutes on an H100. Networks are built untrained: no downloads.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
MODES="${MODES:-eager,channels_last,compile,cuda_graphs}"
MODE_PRESETS="${MODE_PRESETS:-b0,v2_s}"
started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }

step "python and torch"
if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
    echo "torch missing: trying pip (needs a package index)"
    "$PY" -m pip install -q --retries 0 --timeout 10 torch==2.14.1 torchvision==0.29.1 pytest || true
fi
# effnet from this checkout without installing it (the machine may have no network for `pip install -e .`)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c "import sys, torch, torchvision; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'torchvision', torchvision.__version__); print('GPU:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none')"

step "nvidia-smi"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv 2>&1 | tee "$OUT/nvidia_smi.txt"
nvidia-smi >>"$OUT/nvidia_smi.txt" 2>&1 || true

step "pytest tests/effnet/cost/test_latency.py (CUDA tests included)"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/effnet/cost/test_latency.py 2>&1 | tee "$OUT/pytest_latency.txt" | tail -15

step "latency benchmark: B0-B7, batch 1 and 32, float32 and float16 (12 s budget a row: float16 needs cuDNN autotuning in its warm-up)"
timeout 420 "$PY" benchmarks/latency.py --presets b0,b1,b2,b3,b4,b5,b6,b7 --batches 1,32 --dtypes float32,float16 \
    --device cuda --time-budget 12 --markdown "$OUT/gpu_latency.md" --json "$OUT/gpu_latency.json" \
    2>"$OUT/gpu_latency.log" >/dev/null
echo "exit status $?"
cat "$OUT/gpu_latency.md" 2>/dev/null || tail -5 "$OUT/gpu_latency.log"

step "execution modes $MODES: $MODE_PRESETS, batch 1 and 32, float16 (compile's first pass is not timed)"
timeout 300 "$PY" benchmarks/latency.py --presets "$MODE_PRESETS" --batches 1,32 --dtypes float16 --modes "$MODES" \
    --device cuda --time-budget 8 --markdown "$OUT/gpu_modes.md" --json "$OUT/gpu_modes.json" \
    2>"$OUT/gpu_modes.log" >/dev/null
echo "exit status $?"
cat "$OUT/gpu_modes.md" 2>/dev/null || tail -5 "$OUT/gpu_modes.log"

step "python -m effnet profile --preset b0 --latency --device cuda --json"
timeout 60 "$PY" -m effnet profile --preset b0 --latency --device cuda --json >"$OUT/profile_b0_cuda.json"
echo "exit status $?"
"$PY" -c "import json, sys; d = json.load(open(sys.argv[1])); print(d['params'], d['macs'], d['latency'])" "$OUT/profile_b0_cuda.json" 2>/dev/null \
    || echo "(no JSON written)"

step "done"
