"""Run by test_experiment_distributed under torchrun: three optimiser steps of the trainer's own step,
each process on its half of one seeded batch, the weights written by each process to OUT/rank<k>.pt.

    torchrun --standalone --nproc_per_node 2 ddp_step.py OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as distributed

import effnet
from effnet.experiment.train import TrainStep


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = effnet.ScalingConfig(depth=0.25, width=0.25, resolution=32, num_classes=10, dropout=0.0, stochastic_depth=0.0)
    return effnet.build(config).eval()  # batch norm frozen: the step is the same maths at any split


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))


def steps(rank: int, processes: int, network: torch.nn.Module) -> dict:
    x, y = batch()
    step = TrainStep(network, torch.optim.SGD(network.parameters(), lr=0.1), torch.nn.CrossEntropyLoss(), "eager",
                     torch.device("cpu"))
    for _ in range(3):
        step(x[rank::processes], y[rank::processes])
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    distributed.init_process_group("gloo")
    rank, processes = distributed.get_rank(), distributed.get_world_size()
    torch.save(steps(rank, processes, model()), Path(sys.argv[1]) / f"rank{rank}.pt")
    distributed.destroy_process_group()
