"""How long the CAM comparisons take on this machine: a Markdown table for the README.

    python benchmarks/cam_speed.py [--threads 2] [--repeats 5] [--image assets/chelsea.jpg]

Rows: the family comparison (Lite0, Lite1, Lite2 each at its own resolution, one map each), the
same done the usual pytorch-grad-cam way (hooks, plus a second forward pass for the top-5), each
method on Lite0, the resolution sweep, and the stage comparison (six layers from one pass) against
six separate maps. Models are loaded and warmed up first; every figure is the median of --repeats
runs with the fastest and slowest beside it. CPU timings on a shared machine swing widely.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from effnet import cam  # noqa: E402
from effnet.images import load_image  # noqa: E402

FAMILY = ("lite0", "lite1", "lite2")
RESOLUTIONS = (224, 260, 300, 380)


def timed(function: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(median, fastest, slowest) seconds of `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def library_way(models: list[cam.CamModel], image) -> None:
    """pytorch-grad-cam as its README shows it: hooks on the model, top-5 from a second forward pass."""
    from pytorch_grad_cam import GradCAM

    for cam_model in models:
        x = cam_model.preprocessing(image).unsqueeze(0)
        with torch.no_grad():
            torch.softmax(cam_model.model(x), 1).topk(5)
        with GradCAM(cam_model.model, target_layers=[cam_model.model.head]) as library_cam:
            library_cam(x, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", type=Path, default=ROOT / "assets" / "chelsea.jpg")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    image = load_image(args.image)

    start = time.perf_counter()
    models = [cam.trained_model(name) for name in FAMILY]
    load_seconds = time.perf_counter() - start
    copies = [copy.deepcopy(m.model) for m in models]  # the library way fills .grad: not on the cached ones
    library_models = [cam.CamModel(m.name, m.label, c, m.preprocessing, True, m.resolution, m.weights) for m, c in zip(models, copies)]
    lite0 = models[0]

    rows: list[tuple[str, tuple[float, float, float]]] = []
    rows.append(("compare_family: Lite0 @224 + Lite1 @240 + Lite2 @260, Grad-CAM", timed(lambda: cam.compare_family(image, models), args.repeats)))
    rows.append(("  the same, pytorch-grad-cam hooks + separate top-5 forward", timed(lambda: library_way(library_models, image), args.repeats)))
    for method in cam.METHODS:
        rows.append((f"Lite0 @224, {cam.METHOD_LABELS[method]}", timed(lambda: cam.compute_cam(lite0, image, method), args.repeats)))
    rows.append((f"compare_resolutions: Lite0 at {', '.join(map(str, RESOLUTIONS))}", timed(lambda: cam.compare_resolutions(image, lite0, RESOLUTIONS), args.repeats)))
    for resolution in RESOLUTIONS:
        rows.append((f"  Lite0 @{resolution}, Grad-CAM", timed(lambda: cam.compute_cam(lite0, image, resolution=resolution), args.repeats)))
    rows.append((f"compare_stages: Lite0, {len(cam.STAGES)} layers, one pass", timed(lambda: cam.compare_stages(image, lite0), args.repeats)))
    rows.append((f"  the same as {len(cam.STAGES)} separate compute_cam calls", timed(lambda: [cam.compute_cam(lite0, image, layer=s) for s in cam.STAGES], args.repeats)))

    print(f"Command: `python benchmarks/cam_speed.py --threads {args.threads} --repeats {args.repeats}`  ")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} intra-op thread(s), batch 1, float32, image {args.image.name}; load average before: "
          f"{load_before:.1f}; loading the three models: {load_seconds:.1f} s  ")
    print()
    print("| what | median s | fastest–slowest s |")
    print("|---|---:|---:|")
    for label, (median, fastest, slowest) in rows:
        print(f"| {label} | {median:.3f} | {fastest:.3f}–{slowest:.3f} |")


if __name__ == "__main__":
    main()
