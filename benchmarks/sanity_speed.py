"""How long the sanity check (effnet.sanity, cascading randomisation) takes on this machine.

    python benchmarks/sanity_speed.py [--threads 2] [--repeats 5] [--image assets/chelsea.jpg] [--models lite0]

Rows per model: all 11 steps of each CAM method alone (with the Sobel reference, as the page runs
one method), all methods at once, and where the time of one run goes (the trained pass and copies,
the steps' forward and backward passes, the maps, the similarity measures; from one profiled run).
The model is loaded and warmed up first; every figure is the median of --repeats runs with the
fastest and slowest beside it, and the machine's load average is printed: CPU timings on a shared
machine swing widely.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from effnet import cam, sanity  # noqa: E402
from effnet.images import load_image  # noqa: E402


def timed(function: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(median, fastest, slowest) seconds of `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def breakdown(function: Callable[[], object]) -> dict[str, float]:
    """Seconds of one run spent in: the network (forward and backward), the maps, the measures, the rest."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(function)
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats
    def cumulative(file_part: str, name: str) -> float:
        return sum(row[3] for (file, _, function_name), row in stats.items() if file.endswith(file_part) and function_name == name)

    parts = {
        "trained pass, deep copy and fresh network": cumulative("copy.py", "deepcopy") + cumulative("sanity.py", "_fresh_network"),
        "steps' forward and backward passes": cumulative("sanity.py", "_step_state"),
        "similarity measures": cumulative("similarity.py", "compare"),
        "maps (pytorch-grad-cam maths, Sobel, scaling)": cumulative("sanity.py", "explain") + cumulative("sanity.py", "sobel_explainer")
        + cumulative("sanity.py", "shown") + cumulative("sanity.py", "upsampled"),
    }
    parts["everything else"] = max(0.0, total - sum(parts.values()))
    return {"total (profiled, slower than unprofiled)": total, **parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", type=Path, default=ROOT / "assets" / "chelsea.jpg")
    parser.add_argument("--models", default="lite0", help="comma-separated trained presets")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    image = load_image(args.image)

    print(f"# Sanity check speed: {args.image.name}, CPU ({platform.processor() or platform.machine()}), "
          f"{args.threads} torch thread(s), torch {torch.__version__}, {args.repeats} runs per row after a warm-up")
    print(f"load average before: {load_before:.2f} on {os.cpu_count()} CPUs\n")
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        model = cam.trained_model(name)
        steps = len(sanity.randomisation_order(model.model)) + 1
        print(f"## {model.label} @{model.resolution}, {steps} steps (trained .. fully random)\n")
        print("| what | median | fastest | slowest |")
        print("|---|---:|---:|---:|")
        for method in cam.METHODS:
            median, fastest, slowest = timed(lambda: sanity.sanity_check(model, image, [method, "sobel"]), args.repeats)
            print(f"| {cam.METHOD_LABELS[method]} + Sobel, all steps | {median:.2f} s | {fastest:.2f} s | {slowest:.2f} s |", flush=True)
        median, fastest, slowest = timed(lambda: sanity.sanity_check(model, image, sanity.METHODS), args.repeats)
        print(f"| all {len(sanity.METHODS)} methods at once, all steps | {median:.2f} s | {fastest:.2f} s | {slowest:.2f} s |\n")
        print("Where one Grad-CAM + Sobel run's time goes (cProfile):\n")
        for part, seconds in breakdown(lambda: sanity.sanity_check(model, image, ["gradcam", "sobel"])).items():
            print(f"- {part}: {seconds:.2f} s")
        print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
