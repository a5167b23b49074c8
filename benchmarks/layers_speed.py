"""How long effnet.layers takes for one configuration, its cache bypassed (the Build page's budget is
"instant on a slider move", and a new slider position is a new configuration).

    python benchmarks/layers_speed.py                      # B0, B3, B7, V2-S, V2-L: batch 32, float16, H200 SXM
    python benchmarks/layers_speed.py --presets b7 --repeats 50

Each timed call recomputes the layer rows and effnet.cost.predict's prediction (both caches cleared);
prints the median and the fastest and slowest call, with the number of rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import effnet
import effnet.layers
from effnet.cost.predict import _predict_cached
from effnet.layers import _layer_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["b0", "b3", "b7", "v2_s", "v2_l"])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    print("| model | rows | layer profile + prediction, uncached (median, fastest-slowest) |")
    print("|---|---:|---:|")
    for name in args.presets:
        config = effnet.preset(name)
        times = []
        for _ in range(args.repeats):
            _layer_profile.cache_clear()
            _predict_cached.cache_clear()
            start = time.perf_counter()
            rows = effnet.layers.layer_profile(config, 32, "float16", "H200 SXM").layers
            times.append(time.perf_counter() - start)
        print(f"| {config.label} | {len(rows)} | {statistics.median(times) * 1e3:.1f} ms "
              f"({min(times) * 1e3:.1f}-{max(times) * 1e3:.1f}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
