"""ONNX Runtime beside PyTorch eager on the CPU, measured in one run (not a test: figures depend on the machine).

    python benchmarks/onnxruntime_vs_torch.py                       # B0, B3, Lite0 at batch 1 and 8, 2 threads
    python benchmarks/onnxruntime_vs_torch.py --presets b0 --batches 1 --threads 1 --json out.json

For each network: build it untrained (seed 0; timing does not depend on the weights' values), export it
once (effnet.onnx_export; not timed), then for each batch time PyTorch eager (effnet.measure_latency)
and ONNX Runtime's CPU execution provider (effnet.cost.runtime_latency) one right after the other, with the
same batch, thread count, warm-up, run-count rule and time budget. Prints a Markdown table of both
medians (per batch), their 10th-90th percentile spreads and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch

import effnet
from effnet.cost.devices import cpu_name
from effnet.cost.latency import measure_latency
from effnet.cost.runtime_latency import measure_onnxruntime_latency
from effnet.onnx_export import export_onnx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="b0,b3,lite0", help="comma-separated presets (default b0,b3,lite0)")
    parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both runtimes (default 2)")
    parser.add_argument("--time-budget", type=float, default=None, help="seconds per measurement (default effnet's: 30)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    torch.set_num_threads(args.threads)

    import onnxruntime

    # the load average says how busy the machine was: on a shared 2-core machine it decides the figures
    header = (f"CPU: {cpu_name()}, {os.cpu_count()} cores, {args.threads} threads; torch {torch.__version__}, "
              f"onnxruntime {onnxruntime.__version__}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
              f"load average before: {os.getloadavg()[0]:.1f}")
    print(header, file=sys.stderr)
    rows = []
    for name in presets:
        config = effnet.preset(name)
        exported = export_onnx(config, weights="untrained", seed=0)
        print(f"{config.label}: exported in {exported.export_s:.1f} s ({exported.size_bytes / 1e6:.1f} MB)", file=sys.stderr)
        for batch in batches:
            eager = measure_latency(config, batch=batch, device="cpu", threads=args.threads, time_budget_s=args.time_budget)
            runtime = measure_onnxruntime_latency(config, batch=batch, threads=args.threads, time_budget_s=args.time_budget,
                                                  onnx_data=exported.data)
            row = {"preset": name, "label": config.label, "resolution": config.resolution, "batch": batch,
                   "threads": args.threads, "pytorch": eager.as_dict(), "onnxruntime": runtime.as_dict(),
                   "ratio": eager.median_ms / runtime.median_ms}
            rows.append(row)
            print(f"  batch {batch}: PyTorch {eager.median_ms:.1f} ms, ONNX Runtime {runtime.median_ms:.1f} ms, "
                  f"x{row['ratio']:.2f}", file=sys.stderr)

    print(f"{header}; after: {os.getloadavg()[0]:.1f}\n")
    print("| Network | Batch | PyTorch eager median (p10-p90) | ONNX Runtime median (p10-p90) | PyTorch / ORT |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        eager, runtime = row["pytorch"], row["onnxruntime"]
        print(f"| {row['label']} ({row['resolution']} px) | {row['batch']} | {eager['median_ms']:.1f} ms "
              f"({eager['spread_ms'][0]:.1f}-{eager['spread_ms'][1]:.1f}, {eager['runs']} runs) | "
              f"{runtime['median_ms']:.1f} ms ({runtime['spread_ms'][0]:.1f}-{runtime['spread_ms'][1]:.1f}, "
              f"{runtime['runs']} runs) | {row['ratio']:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.node(), "cpu": cpu_name(), "threads": args.threads,
                                         "conditions": header,
                                         "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                                         "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
