"""One training recipe for every network of the experiment, from scratch, as the paper trains.

    recipe = Recipe(epochs=8)
    model, run = train_network(config, source, recipe, device="auto", checkpoint=Path("out/depth"))

The loop reads top to bottom (nanoGPT style): data in memory as uint8 (on the GPU when there is
one), a shuffled order per epoch from the seed, AdamW with linear warm-up and cosine decay, label
smoothing, random half turns. The arithmetic mode is the recipe's (`Recipe.mode`, recorded with the
results): on the CPU `channels_last` by default (measured fastest on this project's 2-core CPU:
`benchmarks/experiment_throughput.py --compare`; the same float32 maths in another memory layout),
on CUDA mixed precision (float16 with a gradient scaler) and channels_last. Accuracy is followed on
the validation split after every epoch; the test split is never read here (it is read once, by
evaluate, at the end). After every epoch the model, optimiser, schedule, history and random state go to
`<checkpoint>.partial.pt` (plain tensors and numbers: `torch.load(..., weights_only=True)` reads
it), so an interrupted run resumes from its last finished epoch; the end result is a plain state
dict at `<checkpoint>.pt` that `effnet.build(config, state_dict=...)` loads.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..model import EfficientNet, build
from ..scaling import ScalingConfig
from .data import Split

Progress = Callable[[float, str], None]


# CPU arithmetic modes: "eager" is plain float32 in PyTorch's default (NCHW) layout; "channels_last"
# the same float32 maths with NHWC activations (oneDNN's faster convolution paths); "bf16" adds
# bfloat16 autocast (weights, batch-norm statistics and the optimiser state stay float32);
# "compile" adds torch.compile (Inductor) around the model.
MODES = ("eager", "channels_last", "bf16", "channels_last+bf16", "channels_last+compile", "channels_last+bf16+compile")


def mode_parts(mode: str, device: torch.device) -> tuple[bool, torch.dtype | None, bool]:
    """(channels_last, autocast dtype or None, compile) for a recipe mode on `device`."""
    if device.type == "cuda":
        return True, torch.float16, False
    return "channels_last" in mode, (torch.bfloat16 if "bf16" in mode else None), "compile" in mode


def mode_name(mode: str, device: torch.device) -> str:
    """The mode as it ran: the recipe's on the CPU, CUDA's own mixed precision on a GPU."""
    return "cuda: float16 autocast + channels_last" if device.type == "cuda" else mode


@dataclass(frozen=True)
class Recipe:
    """Every setting of the training, one value for all five networks."""

    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 2e-3  # AdamW peak, reached after the warm-up
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to zero
    label_smoothing: float = 0.1
    # random half turns (both axes flipped): they keep every pattern's class. A horizontal flip alone
    # would swap rising and falling diagonals (a first run with it confused exactly those two).
    half_turns: bool = True
    optimizer: str = "AdamW"
    zero_init_classifier: bool = True  # start from equal logits (see train_network)
    # Regularisation (None: the config's own, effnet's defaults 0.2 and 0.2, as the paper trains).
    # Decided on the validation split at the default budget: the baseline with 0.2/0.2 reached
    # 76.6% against 61.0% with both off (one pilot each; docs/experiment.md), so the default keeps
    # them. One value for all five networks, recorded with the results.
    dropout: float | None = None
    stochastic_depth: float | None = None
    # How the CPU computes (CUDA always trains in float16 autocast + channels_last): see MODES.
    mode: str = "channels_last"
    # Maps of this many fixed held-out scenes are recorded after every epoch (attention as it forms).
    watch_images: int = 6

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or not 1 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be a whole number from 1 to 1000, got {self.epochs!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or not 2 <= self.batch_size <= 4096:
            raise ValueError(f"batch size must be a whole number from 2 to 4096, got {self.batch_size!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for name in ("dropout", "stochastic_depth"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be from 0 to below 1 (or None for the config's own), got {value!r}")

    def configure(self, config: ScalingConfig) -> ScalingConfig:
        """`config` with the recipe's dropout and stochastic depth (where the recipe sets them)."""
        changes = {name: getattr(self, name) for name in ("dropout", "stochastic_depth") if getattr(self, name) is not None}
        return replace(config, **changes) if changes else config

    def as_dict(self) -> dict:
        return asdict(self)


def pick_device(device: str = "auto") -> torch.device:
    """'auto' (CUDA when present), 'cpu' or 'cuda'; ValueError for anything else or a missing GPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA GPU on this machine; use --device cpu or auto")
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


class Normaliser:
    """uint8 (N, 3, R, R) -> normalised float on the device, in batches."""

    def __init__(self, mean, std, device: torch.device, channels_last: bool) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255
        self.channels_last = channels_last

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = (batch.float() - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, normalise: Normaliser, batch_size: int = 256,
            autocast: torch.dtype | None = None) -> torch.Tensor:
    """Predicted classes for uint8 images (eval mode; autocast in the training mode's dtype)."""
    model.eval()
    device = images.device
    out = []
    for start in range(0, len(images), batch_size):
        with torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            out.append(model(normalise(images[start: start + batch_size])).argmax(1))
    return torch.cat(out)


def world() -> tuple[int, int]:
    """(rank, number of processes): (0, 1) unless torch.distributed has been set up (torchrun)."""
    import torch.distributed as distributed

    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


class TrainStep:
    """One optimiser step in the recipe's mode: the trainer's and the throughput benchmark's code.

    Holds the model (moved to channels_last when the mode says so), the optimiser, the gradient
    scaler (CUDA float16 only) and, with "compile", the compiled forward. `__call__(x, y)` returns
    (loss, logits) detached."""

    def __init__(self, model: nn.Module, optimiser: torch.optim.Optimizer, loss_function: nn.Module,
                 mode: str, device: torch.device, scheduler=None) -> None:
        self.channels_last, self.autocast, compile_model = mode_parts(mode, device)
        self.device = device
        self.model = model.to(memory_format=torch.channels_last) if self.channels_last else model
        forward = self.model
        if world()[1] > 1:  # under torchrun: gradients averaged over the processes after each backward
            from torch.nn.parallel import DistributedDataParallel

            forward = DistributedDataParallel(self.model, device_ids=[torch.cuda.current_device()] if device.type == "cuda" else None)
        self.forward = torch.compile(forward) if compile_model else forward
        self.optimiser, self.scheduler, self.loss_function = optimiser, scheduler, loss_function
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast is torch.float16)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=self.autocast or torch.float32, enabled=self.autocast is not None):
            logits = self.forward(x)
            loss = self.loss_function(logits.float(), y)
        self.optimiser.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimiser)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.detach(), logits.detach()


def train_network(
    config: ScalingConfig,
    train: Split,
    val: Split,
    recipe: Recipe,
    mean,
    std,
    seed: int = 0,
    device: str = "auto",
    checkpoint: Path | None = None,
    progress: Progress | None = None,
    after_epoch: Callable[[nn.Module], dict] | None = None,
) -> tuple[EfficientNet, dict]:
    """Train `config` (with the recipe's regularisation) from scratch on `train`; returns the model
    (eval mode, on the CPU, float32, contiguous) and a record.

    `seed` draws the initialisation, the batch order and the augmentation (the training scenes'
    own seed is the data source's). `val` is scored after every epoch (the history's
    `val_accuracy`); `after_epoch(model)`, when given, returns more figures for that epoch's history
    entry (the experiment records the maps of a few fixed held-out scenes there).
    The record: seed, epochs, mode, history (per epoch: train loss, train accuracy, validation
    accuracy, learning rate, seconds, and after_epoch's figures), train_seconds, images_per_second,
    device, resumed_from_epoch, steps.
    `checkpoint`: a path stem; `<stem>.partial.pt` is written after each epoch and read to resume.
    """
    target = pick_device(device)
    torch.manual_seed(seed)
    model = build(recipe.configure(config)).to(target)
    if recipe.zero_init_classifier:
        # The official initialisation draws the classifier from U(+-1/sqrt(classes)): made for 1000
        # classes, with 10 it starts with logits several units apart and a loss above ln 10, and the
        # small networks here then stayed at chance for hundreds of steps. Zero weights start every
        # network from equal logits; the rest of the initialisation is the official one.
        nn.init.zeros_(model.classifier.weight)
    if recipe.optimizer == "SGD":
        optimiser = torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=recipe.weight_decay)
    else:
        optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    rank, processes = world()
    if recipe.batch_size % processes:
        raise ValueError(f"the batch of {recipe.batch_size} images cannot be split evenly over {processes} processes; "
                         f"use a number of processes that divides it")
    local_batch = recipe.batch_size // processes
    local_size = _smallest_over_processes(len(train.labels), processes)
    steps_per_epoch = math.ceil(local_size / local_batch)
    total_steps = recipe.epochs * steps_per_epoch
    warmup = max(1, int(recipe.warmup_epochs * steps_per_epoch))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
    loss_function = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    step_once = TrainStep(model, optimiser, loss_function, recipe.mode, target, scheduler)
    normalise = Normaliser(mean, std, target, channels_last=step_once.channels_last)

    images = torch.as_tensor(train.images).to(target)
    labels = torch.as_tensor(train.labels).to(target)
    val_images = torch.as_tensor(val.images).to(target)
    val_labels = torch.as_tensor(val.labels).to(target)

    history: list[dict] = []
    start_epoch, seconds_before = 0, 0.0
    partial = Path(f"{checkpoint}.partial.pt") if checkpoint is not None else None
    if partial is not None and partial.exists():
        state = torch.load(partial, map_location=target, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step_once.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"].cpu())
        history, start_epoch, seconds_before = list(state["history"]), int(state["epoch"]), float(state["seconds"])

    trained_seconds = seconds_before
    for epoch in range(start_epoch, recipe.epochs):
        model.train()
        began = time.perf_counter()
        # the order and the augmentation come from their own generators, one per (seed, epoch, process)
        order_generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1009 + rank)
        order = torch.randperm(len(labels), generator=order_generator)[: local_size].to(target)
        turns = torch.rand(len(order), generator=order_generator).to(target) < 0.5
        total_loss = correct = seen = 0.0
        for step in range(steps_per_epoch):
            index = order[step * local_batch: (step + 1) * local_batch]
            x, y = normalise(images[index]), labels[index]
            if recipe.half_turns:
                turned = turns[step * local_batch: (step + 1) * local_batch]
                x = torch.where(turned.view(-1, 1, 1, 1), x.flip(2, 3), x)
            loss, logits = step_once(x, y)
            total_loss += float(loss) * len(index)
            correct += float((logits.argmax(1) == y).sum())
            seen += len(index)
            if progress is not None and step % 10 == 0:
                done = (epoch + step / steps_per_epoch) / recipe.epochs
                progress(done, f"epoch {epoch + 1}/{recipe.epochs}, loss {total_loss / seen:.3f}")
        if target.type == "cuda":
            torch.cuda.synchronize()
        epoch_seconds = time.perf_counter() - began
        trained_seconds += epoch_seconds
        val_accuracy = float((predict(model, val_images, normalise, autocast=step_once.autocast) == val_labels).float().mean())
        entry = {
            "epoch": epoch + 1,
            "train_loss": round(total_loss / seen, 5),
            "train_accuracy": round(correct / seen, 5),
            "val_accuracy": round(val_accuracy, 5),
            "learning_rate": round(float(scheduler.get_last_lr()[0]), 7),
            "seconds": round(epoch_seconds, 2),
        }
        if processes > 1:  # the epoch's figures over every process's images
            entry["train_loss"], entry["train_accuracy"] = _mean_over_processes(total_loss, correct, seen)
        if after_epoch is not None:
            entry.update(after_epoch(model))
        history.append(entry)
        if partial is not None and rank == 0:
            partial.parent.mkdir(parents=True, exist_ok=True)
            writing = partial.with_name(partial.name + ".writing")  # renamed when whole: a kill never leaves half a file
            torch.save({"model": model.state_dict(), "optimizer": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
                        "scaler": step_once.scaler.state_dict(), "rng": torch.get_rng_state(), "history": history,
                        "epoch": epoch + 1, "seconds": trained_seconds}, writing)
            os.replace(writing, partial)

    if processes > 1:
        import torch.distributed as distributed

        distributed.barrier()  # the partial checkpoint is written before anyone moves on
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    images_seen = local_size * processes * (recipe.epochs - start_epoch)
    record = {
        "seed": seed,
        "epochs": recipe.epochs,
        "steps": total_steps,
        "mode": mode_name(recipe.mode, target),
        "history": history,
        "train_seconds": round(trained_seconds, 2),
        "images_per_second": round(images_seen / max(1e-9, trained_seconds - seconds_before), 1) if images_seen else None,
        "device": str(target),
        "processes": processes,
        "resumed_from_epoch": start_epoch,
        "resumed_seconds": round(seconds_before, 2),  # trained before this call (an interrupted run)
    }
    return model, record


def _smallest_over_processes(count: int, processes: int) -> int:
    """The smallest training shard over the processes (every process must take as many steps)."""
    if processes == 1:
        return count
    import torch.distributed as distributed

    value = torch.tensor([count], dtype=torch.int64)
    distributed.all_reduce(value, op=distributed.ReduceOp.MIN)
    return int(value.item())


def _mean_over_processes(total_loss: float, correct: float, seen: float) -> tuple[float, float]:
    import torch.distributed as distributed

    value = torch.tensor([total_loss, correct, seen], dtype=torch.float64)
    distributed.all_reduce(value)
    return round(float(value[0] / value[2]), 5), round(float(value[1] / value[2]), 5)


def finish_checkpoint(model: nn.Module, checkpoint: Path) -> Path:
    """Write the final plain state dict `<checkpoint>.pt` and drop the partial one."""
    final = Path(f"{checkpoint}.pt")
    final.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), final)
    Path(f"{checkpoint}.partial.pt").unlink(missing_ok=True)
    return final


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
