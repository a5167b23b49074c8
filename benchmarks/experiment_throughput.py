"""Training throughput (images/s) of the experiment's five networks, per arithmetic mode.

    python benchmarks/experiment_throughput.py [--base small] [--flops 4.5] [--batch 32] [--steps 8]
                                               [--device auto|cpu|cuda] [--threads 2]
                                               [--modes eager,channels_last,...] [--compare] [--json]

Each network trains on random images of its own resolution for a few optimiser steps through the
trainer's own step (effnet.experiment.train.TrainStep: forward, backward, AdamW, in the given mode)
after warm-up steps (more for torch.compile, whose first steps compile); the figure is images per
second over the timed steps. `--compare` times eager float32 and the recipe's adopted mode
(Recipe().mode) and prints each network's ratio and the epoch time of the default run (its training
scenes, all five networks). Not a test: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

import effnet
from effnet.cost.latency import device_description
from effnet.experiment import matched_plan
from effnet.experiment.run import base_config
from effnet.experiment.train import MODES, Recipe, TrainStep, pick_device

DEFAULT_TRAIN_SCENES = 5000  # the default run's training scenes (python -m effnet experiment run)


def throughput(config: effnet.ScalingConfig, batch: int, steps: int, device: torch.device, mode: str) -> float:
    torch.manual_seed(0)
    model = effnet.build(Recipe().configure(config)).to(device).train()
    step = TrainStep(model, torch.optim.AdamW(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss(), mode, device)
    x = torch.randn(batch, 3, config.resolution, config.resolution, device=device)
    if step.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, config.num_classes, (batch,), device=device)
    warmup = 4 if "compile" in mode else 2
    for index in range(steps + warmup):
        if index == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            began = time.perf_counter()
        step(x, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="small")
    parser.add_argument("--flops", type=float, default=4.5)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=Recipe().batch_size)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--modes", default=None, help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--compare", action="store_true", help="eager float32 against the adopted mode, with ratios")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    adopted = Recipe().mode
    modes = ["eager", adopted] if args.compare or not args.modes else args.modes.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}; accepted: {', '.join(MODES)}")
    plan = matched_plan(base_config(args.base, args.classes), args.flops)
    rows = []
    for network in plan:
        rates = {mode: throughput(network.config, args.batch, args.steps, device, mode) for mode in modes}
        rows.append({"name": network.name, "config": network.config, "rates": rates})
        if not args.json:
            print(f"{network.name}: " + ", ".join(f"{m} {r:,.0f} img/s" for m, r in rates.items()), flush=True)
    header = {"device": device_description(device.type), "threads": torch.get_num_threads(),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"), "batch": args.batch, "steps": args.steps,
              "base": args.base, "flops_multiple": args.flops}
    epoch = {mode: sum(DEFAULT_TRAIN_SCENES / row["rates"][mode] for row in rows) for mode in modes}
    if args.json:
        document = dict(header, modes=modes, adopted_mode=adopted)
        document["networks"] = [{"name": row["name"], **{f"{m}_images_per_second": round(r, 1) for m, r in row["rates"].items()}}
                                for row in rows]
        if "eager" in modes and adopted in modes:
            for entry, row in zip(document["networks"], rows):
                entry["eager_images_per_second"] = round(row["rates"]["eager"], 1)
                entry["adopted_images_per_second"] = round(row["rates"][adopted], 1)
                entry["ratio"] = round(row["rates"][adopted] / row["rates"]["eager"], 2)
            document["epoch_seconds_eager"] = round(epoch["eager"], 1)
            document["epoch_seconds_adopted"] = round(epoch[adopted], 1)
        document["epoch_seconds"] = {m: round(s, 1) for m, s in epoch.items()}
        print(json.dumps(document, indent=1))
        return 0
    print(f"\nTraining throughput, {header['device']}, {header['threads']} threads, OMP_WAIT_POLICY "
          f"{header['omp_wait_policy']}, batch {args.batch}, {args.steps} timed steps; base {args.base} at {args.flops:g}x FLOPs")
    print("| network | d | w | r | " + " | ".join(f"{m} (img/s)" for m in modes) + " |")
    print("|---|---|---|---|" + "---|" * len(modes))
    for row in rows:
        c = row["config"]
        print(f"| {row['name']} | {c.depth:.3g} | {c.width:.3g} | {c.resolution} | "
              + " | ".join(f"{row['rates'][m]:,.0f}" for m in modes) + " |")
    print(f"| epoch of {DEFAULT_TRAIN_SCENES:,} scenes, all five (s) | | | | " + " | ".join(f"{epoch[m]:,.0f}" for m in modes) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
