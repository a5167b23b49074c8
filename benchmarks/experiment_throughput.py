"""Training throughput (images/s) of the experiment's five networks on this machine.

    python benchmarks/experiment_throughput.py [--base small] [--flops 4.5] [--batch 64] [--steps 8]
                                               [--device auto|cpu|cuda] [--threads 2]

Each network trains on random images of its own resolution for a few optimiser steps (forward,
backward, AdamW step; mixed precision and channels_last on CUDA, as the experiment trains) after
two warm-up steps; the figure is images per second over the timed steps. Not a test: figures depend
on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import time

import torch

import effnet
from effnet.experiment import matched_plan
from effnet.experiment.run import base_config
from effnet.experiment.train import pick_device
from effnet.latency import device_description


def throughput(config: effnet.ScalingConfig, batch: int, steps: int, device: torch.device) -> float:
    cuda = device.type == "cuda"
    model = effnet.build(config).to(device).train()
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    x = torch.randn(batch, 3, config.resolution, config.resolution, device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, config.num_classes, (batch,), device=device)
    for step in range(steps + 2):
        if step == 2:
            if cuda:
                torch.cuda.synchronize()
            began = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
    if cuda:
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="small")
    parser.add_argument("--flops", type=float, default=4.5)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"Training throughput, {device_description(device.type)}, batch {args.batch}, {args.steps} timed steps "
          f"after 2 warm-up steps; base {args.base} at {args.flops:g}x FLOPs")
    print("| network | d | w | r | params | MACs | images/s |")
    print("|---|---|---|---|---|---|---|")
    for network in matched_plan(base_config(args.base, args.classes), args.flops):
        c = network.config
        rate = throughput(c, args.batch, args.steps, device)
        print(f"| {network.name} | {c.depth:.3g} | {c.width:.3g} | {c.resolution} | {network.params / 1e6:.2f} M "
              f"| {network.macs / 1e6:.1f} M | {rate:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
