"""How much faster effnet's closed-form profile is than counting a built network with ptflops.

For each preset: effnet.profile's time (median of many calls, its cache bypassed), the time to build
the torch module, ptflops' `aten` count of it (one run: it executes a forward pass), their ratio,
and both multiply-add counts. Prints a Markdown table for the README.

    python benchmarks/profile_speed.py                   # B0-B7 (minutes: building and running B7 at 600 px)
    python benchmarks/profile_speed.py --presets b0 b1 --repeats 500
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch
from ptflops import get_model_complexity_info

import effnet
from effnet.profile import compute_profile  # uncached: the cache would answer from memory


def time_profile(config: effnet.ScalingConfig, repeats: int) -> tuple[float, float, float, int]:
    """(median, fastest, slowest) seconds of one uncached effnet.profile call, and its MACs."""
    for _ in range(5):
        compute_profile(config)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = compute_profile(config)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result.macs


def time_ptflops(config: effnet.ScalingConfig) -> tuple[float, float, int]:
    """(seconds to build the module, seconds for ptflops' aten count, its MACs) - one run each."""
    start = time.perf_counter()
    model = effnet.build(config)  # a throw-away model: ptflops leaves hooks on what it counts
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    macs, _ = get_model_complexity_info(
        model, (3, config.resolution, config.resolution), backend="aten", as_strings=False, print_per_layer_stat=False
    )
    count_seconds = time.perf_counter() - start
    if not macs:
        raise RuntimeError(f"ptflops failed on {config.label}")
    return build_seconds, count_seconds, int(macs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=[f"b{i}" for i in range(8)])
    parser.add_argument("--repeats", type=int, default=200, help="timed effnet.profile calls per preset")
    args = parser.parse_args(argv)

    command = " ".join(["python", "benchmarks/profile_speed.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"command: {command}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} on CPU with {torch.get_num_threads()} threads, float32, batch 1"
    )
    print()
    print("| model | resolution | effnet.profile (median of %d) | build module | ptflops aten (1 run) | ptflops / profile | MACs, effnet | MACs, ptflops | difference |" % args.repeats)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.presets:
        config = effnet.preset(name)
        median, fastest, slowest, ours = time_profile(config, args.repeats)
        build_seconds, count_seconds, theirs = time_ptflops(config)
        print(
            f"| {config.label} | {config.resolution} | {median * 1e3:.2f} ms ({fastest * 1e3:.2f}-{slowest * 1e3:.2f}) "
            f"| {build_seconds:.2f} s | {count_seconds:.2f} s | {count_seconds / median:,.0f}x "
            f"| {ours:,} | {theirs:,} | {(theirs - ours) / ours:+.4%} |",
            flush=True,
        )
    print()
    print("ptflops' aten backend also counts the bias additions of the classifier and of the squeeze-and-"
          "excitation convolutions, hence its few thousand extra operations.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
