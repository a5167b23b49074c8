"""Drawing the synthetic scenes: one at a time in numpy (the reference) against in batches in torch.

    python benchmarks/render_speed.py [--json] [--scenes 600] [--reference-scenes 30]

CPU time per scene (time.process_time, so other work on a shared machine does not count), torch
and every math library on one thread, at 80, 224, 296 and 472 px; plus the batched renderer on
the GPU (wall time, synchronised) when torch sees one. Each figure is the best of two runs after a
warm-up. The batched renderer draws all `--scenes` in one call, as SyntheticSource.split does.
Not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = "1"  # one thread for numpy too, before it is imported

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from effnet.experiment import render, synthetic  # noqa: E402

RESOLUTIONS = (80, 224, 296, 472)


def best_of(runs: int, work, clock=time.process_time, synchronise=lambda: None) -> float:
    best = float("inf")
    for _ in range(runs):
        synchronise()
        began = clock()
        work()
        synchronise()
        best = min(best, clock() - began)
    return best


def measure(resolution: int, scenes: int, reference_scenes: int, devices: list[str]) -> list[dict]:
    items = synthetic.scenes(0, "train", scenes)
    sample = items[:reference_scenes]
    synthetic.render(sample[0], resolution)  # warm-up
    reference = best_of(2, lambda: [synthetic.render(item, resolution) for item in sample]) / len(sample)
    rows = []
    for device in devices:
        if device == "cuda":
            synchronise, clock = torch.cuda.synchronize, time.perf_counter
        else:
            synchronise, clock = (lambda: None), time.process_time
        render.render_batch(items[:16], resolution, device=device)  # warm-up
        batched = best_of(2, lambda: render.render_batch(items, resolution, device=device), clock, synchronise) / len(items)
        rows.append({"resolution": resolution, "device": device, "reference_ms_per_scene": round(1000 * reference, 3),
                     "batched_ms_per_scene": round(1000 * batched, 4), "ratio": round(reference / batched, 1)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=600, help="scenes drawn by the batched renderer per run")
    parser.add_argument("--reference-scenes", type=int, default=30, help="scenes drawn one at a time per run")
    parser.add_argument("--resolutions", default=",".join(map(str, RESOLUTIONS)))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for resolution in (int(value) for value in args.resolutions.split(",")):
        rows.extend(measure(resolution, args.scenes, args.reference_scenes, devices))
    if args.json:
        print(json.dumps({"rows": rows, "threads": torch.get_num_threads(), "torch": torch.__version__,
                          "clock": "CPU time per scene on the CPU; wall time on CUDA"}, indent=1))
        return 0
    print(f"{'px':>5} {'device':>6} {'reference ms/scene':>19} {'batched ms/scene':>17} {'ratio':>6}")
    for row in rows:
        print(f"{row['resolution']:>5} {row['device']:>6} {row['reference_ms_per_scene']:>19.3f} "
              f"{row['batched_ms_per_scene']:>17.4f} {row['ratio']:>6.1f}x")
    print("reference: synthetic.render, one scene at a time (numpy); batched: render.render_batch (torch); one CPU thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
